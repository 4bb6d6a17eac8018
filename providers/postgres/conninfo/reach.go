package conninfo

import (
	"context"
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/connstr"
	"github.com/jackc/pgx/v5"
)

// TargetReachesSource checks that the target server can open the
// connection its subscription will use: inside a transaction that is
// rolled back, it creates a disabled subscription without a slot, which
// makes the target connect to the source (needs the rights to create a
// subscription on the target). It returns the target's complaint, with
// passwords redacted, or "" when the connection works.
func TargetReachesSource(ctx context.Context, target, source Info) (string, error) {
	conn, err := Connect(ctx, target)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		return "", fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.Background())
	sql := "CREATE SUBSCRIPTION " + pgx.Identifier{"replicator_reach_check"}.Sanitize() +
		" CONNECTION " + QuoteLiteral(SubscriptionConnString(source)) + " PUBLICATION replicator_reach_check" +
		" WITH (connect = true, enabled = false, create_slot = false, slot_name = NONE, copy_data = false)"
	if _, err := tx.Exec(ctx, sql); err != nil {
		msg := connstr.RedactURL(ServerMessage(err))
		if p := source.Password(); len(p) >= 4 {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
		return msg, nil
	}
	return "", nil
}
