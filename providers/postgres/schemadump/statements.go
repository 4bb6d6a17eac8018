package schemadump

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
)

// ApplyStatements runs a drift update's schema statements (see
// plans.SchemaStatement) on dst's database, in the given order, in one
// transaction: all or nothing. Each runs in a savepoint so that a rerun
// after an interrupted apply counts what is done as done: an object that
// exists already, and, for a drop or a rename, one that is gone already.
func ApplyStatements(ctx context.Context, dst conninfo.Info, stmts []plans.SchemaStatement) error {
	if len(stmts) == 0 {
		return nil
	}
	conn, err := conninfo.Connect(ctx, dst)
	if err != nil {
		return fmt.Errorf("apply schema changes: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, postDataSession); err != nil {
		return fmt.Errorf("apply schema changes: prepare session: %w", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("apply schema changes: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for _, st := range stmts {
		if _, err := tx.Exec(ctx, "SAVEPOINT schema_change"); err != nil {
			return fmt.Errorf("apply schema changes: %w", err)
		}
		if _, err := tx.Exec(ctx, st.SQL); err != nil {
			if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT schema_change"); rerr != nil {
				return fmt.Errorf("apply schema changes: %s: %w", st.Object, errors.Join(err, rerr))
			}
			if alreadyExists(err) || (goneAlready(err) && removes(st.SQL)) {
				continue
			}
			return fmt.Errorf("apply schema changes: %s (%s): %w", st.Object, st.Change, err)
		}
		if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT schema_change"); err != nil {
			return fmt.Errorf("apply schema changes: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("apply schema changes: commit: %w", err)
	}
	return nil
}

// goneAlready reports whether err says the object a statement names does
// not exist.
func goneAlready(err error) bool {
	switch conninfo.ErrCode(err) {
	case "42703", "42704", "42P01", "3F000": // undefined column/object/table/schema
		return true
	}
	return false
}

// removes reports whether sql drops or renames what it names: run
// again, it finds it gone.
func removes(sql string) bool {
	return strings.HasPrefix(sql, "DROP ") || strings.Contains(sql, " RENAME COLUMN ")
}
