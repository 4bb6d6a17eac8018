package actions

import (
	"context"
	"fmt"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
)

// partitionQuery reads how a partition is attached on the source: its
// parent (schema, name), its bound ("FOR VALUES ..." or "DEFAULT"), its
// partition key when it is partitioned itself, and its owner.
const partitionQuery = `
SELECT pn.nspname::text, p.relname::text, pg_catalog.pg_get_expr(c.relpartbound, c.oid),
       CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) ELSE '' END,
       pg_catalog.pg_get_userbyid(c.relowner)::text
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid
JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relispartition`

// applyPartitionDrift brings the partitions of a target database in line
// with the source's (see plans.SchemaDrift): new ones are created as
// PARTITION OF their parent with the source's bound (the parent's
// partitioned indexes, primary key, foreign keys and row triggers follow
// by themselves), detached ones are detached, dropped ones dropped. With
// remove, only the detaches and drops run (before the drift creates the
// tables they make way for); without, only the creates. Each step is
// idempotent.
func (p *Provider) applyPartitionDrift(ctx context.Context, src, dst conninfo.Info, d *plans.SchemaDrift, remove bool) error {
	creates, detaches, drops := d.CreatePartitions, d.DetachPartitions, d.DropPartitions
	if remove {
		creates = nil
	} else {
		detaches, drops = nil, nil
	}
	if len(creates)+len(detaches)+len(drops) == 0 {
		return nil
	}
	sconn, err := conninfo.Connect(ctx, src)
	if err != nil {
		return err
	}
	defer sconn.Close(context.WithoutCancel(ctx))
	tconn, err := conninfo.Connect(ctx, dst)
	if err != nil {
		return err
	}
	defer tconn.Close(context.WithoutCancel(ctx))
	name := func(r lang.TableRef) string { return pgx.Identifier{r.Schema, r.Table}.Sanitize() }
	var stmts []string
	for _, r := range creates {
		var ps, pn, bound, key, owner string
		err := sconn.QueryRow(ctx, partitionQuery, r.Schema, r.Table).Scan(&ps, &pn, &bound, &key, &owner)
		if err == pgx.ErrNoRows {
			p.log.Warn("partition no longer on the source: not created", "table", name(r))
			continue
		}
		if err != nil {
			return fmt.Errorf("read partition %s on the source: %w", name(r), err)
		}
		sql := "CREATE TABLE IF NOT EXISTS " + name(r) + " PARTITION OF " + pgx.Identifier{ps, pn}.Sanitize() + " " + bound
		if key != "" {
			sql += " PARTITION BY " + key
		}
		stmts = append(stmts, sql)
		var ownerExists bool
		if err := tconn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)", owner).Scan(&ownerExists); err != nil {
			return err
		}
		if ownerExists {
			stmts = append(stmts, "ALTER TABLE "+name(r)+" OWNER TO "+pgx.Identifier{owner}.Sanitize())
		}
	}
	for _, r := range detaches {
		var ps, pn string
		err := tconn.QueryRow(ctx, `SELECT pn.nspname::text, p.relname::text FROM pg_catalog.pg_inherits i
			JOIN pg_catalog.pg_class p ON p.oid = i.inhparent JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
			WHERE i.inhrelid = to_regclass($1)`, name(r)).Scan(&ps, &pn)
		if err == pgx.ErrNoRows {
			continue // detached already
		}
		if err != nil {
			return fmt.Errorf("find the parent of %s on the target: %w", name(r), err)
		}
		stmts = append(stmts, "ALTER TABLE "+pgx.Identifier{ps, pn}.Sanitize()+" DETACH PARTITION "+name(r))
	}
	for _, r := range drops {
		stmts = append(stmts, "DROP TABLE IF EXISTS "+name(r))
	}
	return pgx.BeginFunc(ctx, tconn, func(tx pgx.Tx) error {
		for _, sql := range stmts {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fmt.Errorf("schema drift: target: %s: %w", sql, err)
			}
			p.log.Info("partition drift applied", "statement", sql)
		}
		return nil
	})
}
