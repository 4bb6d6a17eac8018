package xminsync

import (
	"context"
	"fmt"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/jackc/pgx/v5"
)

// ddlLog is the log of captured DDL (policy.capture_ddl) on both sides.
var ddlLog = pgx.Identifier{plans.DDLLogSchema, plans.DDLLogTable}.Sanitize()

// ddlLogColumns are the columns the source records, copied as they are.
const ddlLogColumns = "seq, xid, captured_at, command_tag, object_type, object_identity, search_path, statement"

// replayDDL copies the captured DDL the cycle's snapshot sees and the
// target's log lacks into the target's log, in sequence order, one row per
// transaction: the target's replay trigger runs each statement (recording
// a failure in the row instead of raising). It runs before any table is
// read, so the rows of the snapshot find the shape they were written in.
// Rows are matched by sequence number, not a high-water mark: sequence
// numbers are taken before commit, so a lower one may become visible
// after a higher one.
func (r *run) replayDDL(ctx context.Context) (int, error) {
	have := map[int64]bool{}
	rows, err := r.dst.Query(ctx, "SELECT seq FROM "+ddlLog)
	if err != nil {
		return 0, fmt.Errorf("target: read the DDL log: %w", err)
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("target: read the DDL log: %w", err)
	}
	for _, s := range seqs {
		have[s] = true
	}
	tx, err := r.readerReady(ctx)
	if err != nil {
		return 0, err
	}
	rows, err = tx.Query(ctx, "SELECT "+ddlLogColumns+" FROM "+ddlLog+" ORDER BY seq")
	if err != nil {
		return 0, fmt.Errorf("source: read the DDL log: %w", err)
	}
	var todo [][]any
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("source: read the DDL log: %w", err)
		}
		if seq, ok := vals[0].(int64); ok && !have[seq] {
			todo = append(todo, vals)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("source: read the DDL log: %w", err)
	}
	for _, vals := range todo {
		if _, err := r.dst.Exec(ctx, "INSERT INTO "+ddlLog+" ("+ddlLogColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", vals...); err != nil {
			return 0, fmt.Errorf("target: replay captured DDL %v: %w", vals[0], err)
		}
	}
	return len(todo), nil
}
