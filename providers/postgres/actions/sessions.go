package actions

import (
	"context"
	"sync"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
)

// maxIdleSessions bounds the idle connections kept per server and database:
// more than the parallel table copies of a run never wait at once.
const maxIdleSessions = 16

// sessions keeps the connections of finished table copies, per server and
// database, for the next table of the run. With thousands of small tables
// a new connection per table and side (a server process started, the
// authentication, a second attempt when sslmode=prefer meets a server
// without TLS, the statements prepared again) costs more than the copy.
type sessions struct {
	mu   sync.Mutex
	idle map[string][]*pgx.Conn
}

// get returns an idle connection to info's server and database, or a new
// one. k names the server and database (sessionKey).
func (s *sessions) get(ctx context.Context, k string, info conninfo.Info) (*pgx.Conn, error) {
	s.mu.Lock()
	if n := len(s.idle[k]); n > 0 {
		conn := s.idle[k][n-1]
		s.idle[k] = s.idle[k][:n-1]
		s.mu.Unlock()
		return conn, nil
	}
	s.mu.Unlock()
	return conninfo.Connect(ctx, info)
}

// put gives a connection back after a table: kept for the next one when the
// work on it succeeded and it is idle outside a transaction, with every
// setting the work changed (session_replication_role, the post-data
// session's search_path and timeouts) reset to the connection's defaults;
// closed otherwise.
func (s *sessions) put(ctx context.Context, k string, conn *pgx.Conn, ok bool) {
	if conn == nil {
		return
	}
	if ok && !conn.IsClosed() && conn.PgConn().TxStatus() == 'I' && ctx.Err() == nil {
		if _, err := conn.Exec(ctx, "RESET ALL"); err == nil {
			s.mu.Lock()
			if s.idle == nil {
				s.idle = map[string][]*pgx.Conn{}
			}
			if len(s.idle[k]) < maxIdleSessions {
				s.idle[k] = append(s.idle[k], conn)
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
		}
	}
	conn.Close(context.Background()) //nolint:errcheck // closing a connection we no longer use
}

// closeAll closes every idle connection.
func (s *sessions) closeAll(ctx context.Context) {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, conns := range idle {
		for _, c := range conns {
			c.Close(ctx) //nolint:errcheck // the run is over
		}
	}
}

// sessionKey names one side ("source" or "target") of one database of one
// replication.
func sessionKey(side, replication, db string) string { return side + ":" + key(replication, db) }
