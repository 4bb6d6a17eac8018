package xminsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CursorSchema is the schema, in each target database, of the table that
// holds the xmin cursors. The cursor lives next to the data it describes
// and moves in the same transaction as each batch, so a crash can never
// leave data and cursor out of step.
const CursorSchema = "database_replicator"

// cursorTable is the qualified name of the cursor table.
var cursorTable = pgx.Identifier{CursorSchema, "xmin_cursor"}.Sanitize()

// cursorDDL creates the cursor table when it is missing.
var cursorDDL = `CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{CursorSchema}.Sanitize() + `;
CREATE TABLE IF NOT EXISTS ` + cursorTable + ` (
	replication text NOT NULL,
	table_name text NOT NULL,
	watermark bigint NOT NULL,
	cycle_target bigint,
	resume_after text[],
	last_cycle_at timestamptz,
	last_cycle_seconds double precision,
	last_cycle_rows bigint,
	last_reconcile_at timestamptz,
	last_reconcile_deleted bigint,
	rows_applied bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (replication, table_name)
)`

// Cursor is the sync position of one table, as stored on the target.
type Cursor struct {
	Replication string
	Table       string
	// Watermark is a 64-bit transaction ID: every change made by a
	// transaction below it is on the target.
	Watermark uint64
	// CycleTarget and ResumeAfter describe a cycle that stopped after some
	// batches: when it completes, the watermark moves to CycleTarget, and
	// rows up to primary key ResumeAfter are already applied.
	CycleTarget *uint64
	ResumeAfter []string
	// LastCycleAt and the following describe the last completed cycle.
	LastCycleAt          *time.Time
	LastCycleSeconds     float64
	LastCycleRows        int64
	LastReconcileAt      *time.Time
	LastReconcileDeleted int64
	// RowsApplied counts every row written since the cursor was created.
	RowsApplied int64
}

// ensureCursorTable creates the cursor table on the target when missing.
func ensureCursorTable(ctx context.Context, dst *pgx.Conn) error {
	if _, err := dst.Exec(ctx, cursorDDL); err != nil {
		return fmt.Errorf("create %s on the target: %w", cursorTable, err)
	}
	return nil
}

// loadCursor reads one table's cursor; ok is false when there is none.
func loadCursor(ctx context.Context, q pgx.Tx, replication, table string) (c Cursor, ok bool, err error) {
	var target *int64
	var wm int64
	var seconds *float64
	var rows, deleted *int64
	err = q.QueryRow(ctx, `SELECT watermark, cycle_target, resume_after, last_cycle_at, last_cycle_seconds,
		last_cycle_rows, last_reconcile_at, last_reconcile_deleted, rows_applied
		FROM `+cursorTable+` WHERE replication = $1 AND table_name = $2`, replication, table).
		Scan(&wm, &target, &c.ResumeAfter, &c.LastCycleAt, &seconds, &rows, &c.LastReconcileAt, &deleted, &c.RowsApplied)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("read the xmin cursor of %s: %w", table, err)
	}
	c.Replication, c.Table, c.Watermark = replication, table, uint64(wm)
	if target != nil {
		t := uint64(*target)
		c.CycleTarget = &t
	}
	if seconds != nil {
		c.LastCycleSeconds = *seconds
	}
	if rows != nil {
		c.LastCycleRows = *rows
	}
	if deleted != nil {
		c.LastReconcileDeleted = *deleted
	}
	return c, true, nil
}

// ReadCursors returns every cursor of a replication in a target database
// (none when the cursor table does not exist yet).
func ReadCursors(ctx context.Context, dst *pgx.Conn, replication string) ([]Cursor, error) {
	var exists bool
	if err := dst.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", cursorTable).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read xmin cursors: %w", err)
	}
	if !exists {
		return nil, nil
	}
	tx, err := dst.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("read xmin cursors: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // read only
	rows, err := tx.Query(ctx, "SELECT table_name FROM "+cursorTable+" WHERE replication = $1 ORDER BY table_name", replication)
	if err != nil {
		return nil, fmt.Errorf("read xmin cursors: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read xmin cursors: %w", err)
	}
	var out []Cursor
	for _, n := range names {
		c, ok, err := loadCursor(ctx, tx, replication, n)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}
