package actions

import (
	"context"
	"fmt"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
)

// targetReplicaIdentityFull sets REPLICA IDENTITY FULL on the target's
// copies of the tables the plan sets to FULL on the source, so that the
// target can publish them in turn (reverse replication after cutover). A
// table the target does not have (yet) is skipped: its schema, dumped
// from the source after the change, carries the setting.
func (p *Provider) targetReplicaIdentityFull(ctx context.Context, ep Endpoints, db string, tables []plans.TableName) error {
	if len(tables) == 0 {
		return nil
	}
	conn, err := conninfo.Connect(ctx, ep.Target.WithDatabase(db))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, t := range tables {
			var exists bool
			if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", quoteTable(t)).Scan(&exists); err != nil {
				return fmt.Errorf("look up %s on the target: %w", quoteTable(t), err)
			}
			if !exists {
				continue
			}
			sql := "ALTER TABLE " + quoteTable(t) + " REPLICA IDENTITY FULL"
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fmt.Errorf("target: %s: %w", sql, err)
			}
			p.log.Info("replica identity set to full on the target", "database", db, "table", quoteTable(t))
		}
		return nil
	})
}
