package conninfo

import (
	"context"
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/connstr"
	"github.com/jackc/pgx/v5"
)

// TargetReachesSource checks that the target server can open a
// connection to the source like the one its subscription will use:
// inside a transaction that is rolled back, it creates a disabled
// subscription without a slot, which makes the target connect to the
// source (needs the rights to create a subscription on the target). It
// returns the target's complaint, with passwords redacted, or "" when the
// target reached the source.
//
// The statement never carries the password, since the target's server
// log may record it (log_statement = 'ddl' or 'all'): the connection
// string is the source's without it. What is verified: the target
// resolves and reaches the source's host and port, TLS as configured,
// and the source's pg_hba.conf admits the target host for the user and
// database. When the subscription will carry the source URL's password
// (withPassword), the source asking the target for one counts as reached
// (that password is checked from this machine by every other
// connection); otherwise the target must log in on its own (its
// ~/.pgpass or PGPASSFILE), and a refusal is reported: the returned
// authFailed is then true.
func TargetReachesSource(ctx context.Context, target, source Info, withPassword bool) (msg string, authFailed bool, err error) {
	conn, err := Connect(ctx, target)
	if err != nil {
		return "", false, err
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		return "", false, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.Background())
	sql := "CREATE SUBSCRIPTION " + pgx.Identifier{"replicator_reach_check"}.Sanitize() +
		" CONNECTION " + QuoteLiteral(ChildConnString(source)) + " PUBLICATION replicator_reach_check" +
		" WITH (connect = true, enabled = false, create_slot = false, slot_name = NONE, copy_data = false)"
	if _, err := ExecOne(ctx, tx.Conn(), sql); err != nil {
		msg := connstr.RedactURL(ServerMessage(err))
		auth := passwordRequested(msg)
		if withPassword && source.WrittenPassword() != "" && auth {
			return "", false, nil
		}
		for _, p := range []string{source.WrittenPassword(), source.Password()} {
			if len(p) >= 4 {
				msg = strings.ReplaceAll(msg, p, "xxxxx")
			}
		}
		return msg, auth, nil
	}
	return "", false, nil
}

// passwordRequested reports whether a connection failure means the
// server asked for a password that was not sent (or that the target's own
// pass file had wrong): the connection got as far as authentication.
func passwordRequested(msg string) bool {
	return strings.Contains(msg, "no password supplied") || strings.Contains(msg, "password authentication failed")
}
