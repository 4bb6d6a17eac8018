package syncloop

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
)

// BusyError reports that another process already syncs a replication.
type BusyError struct {
	// Replication is the replication's name.
	Replication string
	// Target is the target's address, where the lock lives.
	Target string
	// Holder is the holding session's application_name (which names the
	// command, its pid and host), client address and start.
	Holder, Client string
	Since          time.Time
}

// Error implements error.
func (e *BusyError) Error() string {
	holder := e.Holder
	if holder == "" {
		holder = "another session"
	}
	return fmt.Sprintf("replication.%s is already being synced by %s (connected from %s since %s, holding the sync lock on %s): "+
		"only one sync (daemon, foreground or --once) may run per replication; stop it first (`sync --stop` for the daemon)",
		e.Replication, holder, e.Client, e.Since.Format(time.RFC3339), e.Target)
}

// Exclusive makes this process the only sync of each replication of cfg:
// it holds a session-level advisory lock on each replication's target,
// keyed by the replication's name, until release. The server frees the
// lock when the session ends, so a killed sync never leaves it behind. The
// lock session's application_name names this process, which a refused
// second sync reports in its *BusyError. command is e.g. "sync --once".
func Exclusive(ctx context.Context, cfg *lang.Config, eps *endpoints.Set, command string) (release func(), err error) {
	var conns []*pgx.Conn
	release = func() {
		for _, c := range conns {
			// Unlocked before the session ends: the server ends a closed
			// session a moment after the client, and a sync started right
			// after this one must not find the lock still held.
			_, _ = c.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock_all()")
			_ = c.Close(context.WithoutCancel(ctx))
		}
	}
	host, _ := os.Hostname()
	me := fmt.Sprintf("database-replicator %s pid %d on %s", command, os.Getpid(), host)
	for _, r := range cfg.Replications {
		target, err := eps.Target(r)
		if err != nil {
			release()
			return nil, err
		}
		conn, err := lockSync(ctx, target, r.Name, me)
		if err != nil {
			release()
			var busy *BusyError
			if errors.As(err, &busy) {
				busy.Target = "target." + r.Target
				return nil, busy
			}
			return nil, fmt.Errorf("replication.%s: take the sync lock on target.%s: %w", r.Name, r.Target, err)
		}
		conns = append(conns, conn)
	}
	return release, nil
}

// syncLockKey is the advisory lock key of replication's sync.
func syncLockKey(replication string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("database-replicator sync\x00" + replication))
	return int64(h.Sum64())
}

// lockSync opens a session on target and takes replication's sync lock in
// it, or returns *BusyError naming the holder.
func lockSync(ctx context.Context, target conninfo.Info, replication, me string) (*pgx.Conn, error) {
	conn, err := conninfo.Connect(ctx, target)
	if err != nil {
		return nil, err
	}
	key := syncLockKey(replication)
	var got bool
	err = conn.QueryRow(ctx, "SELECT set_config('application_name', left($1, 63), false) IS NOT NULL, pg_try_advisory_lock($2)",
		me, key).Scan(new(bool), &got)
	if err == nil && got {
		return conn, nil
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	busy := &BusyError{Replication: replication, Client: "?"}
	// A bigint advisory key shows in pg_locks as classid (high 32 bits),
	// objid (low 32 bits) and objsubid 1.
	err = conn.QueryRow(ctx, `SELECT coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'a local socket'), a.backend_start
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = $1 AND l.objid::bigint = $2`,
		int64(uint64(key)>>32), int64(uint64(key)&0xffffffff)).Scan(&busy.Holder, &busy.Client, &busy.Since)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	return nil, busy
}
