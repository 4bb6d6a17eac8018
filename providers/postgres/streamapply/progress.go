package streamapply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// ProgressSchema is the schema, in the target database, of the progress
// table (shared with the xmin engine's cursors).
const ProgressSchema = "database_replicator"

// progressTable is the qualified name of the progress table.
var progressTable = pgx.Identifier{ProgressSchema, "stream_progress"}.Sanitize()

// ProgressTable is the qualified, quoted name of the progress table on the
// target (for destroy and status).
func ProgressTable() string { return progressTable }

// progressDDL creates the progress table when it is missing.
var progressDDL = `CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{ProgressSchema}.Sanitize() + `;
CREATE TABLE IF NOT EXISTS ` + progressTable + ` (
	replication text PRIMARY KEY,
	applied_lsn pg_lsn NOT NULL,
	source_commit_time timestamptz,
	rows_applied bigint NOT NULL DEFAULT 0,
	updated_at timestamptz NOT NULL DEFAULT now()
)`

// progressUpsert records a group's last commit; it runs in the group's
// transaction. $1 replication, $2 end LSN, $3 source commit time, $4 rows.
var progressUpsert = `INSERT INTO ` + progressTable + ` AS p (replication, applied_lsn, source_commit_time, rows_applied, updated_at)
	VALUES ($1, $2::pg_lsn, $3::timestamptz, $4::bigint, now())
	ON CONFLICT (replication) DO UPDATE SET applied_lsn = EXCLUDED.applied_lsn,
		source_commit_time = EXCLUDED.source_commit_time,
		rows_applied = p.rows_applied + EXCLUDED.rows_applied, updated_at = now()`

// Progress is what the target records about one replication's stream.
type Progress struct {
	Replication string
	// AppliedLSN is the end LSN of the last source transaction the target
	// committed.
	AppliedLSN pglogrepl.LSN
	// SourceCommitTime is that transaction's commit time on the source.
	SourceCommitTime *time.Time
	// RowsApplied counts every row change applied since the table was
	// created.
	RowsApplied int64
	// UpdatedAt is when the target last committed a group.
	UpdatedAt time.Time
}

// EnsureProgressTable creates the progress table on the target when it is
// missing (the role needs CREATE on the database, or the schema created
// for it beforehand).
func EnsureProgressTable(ctx context.Context, dst *pgx.Conn) error {
	if _, err := dst.Exec(ctx, progressDDL); err != nil {
		return fmt.Errorf("create %s on the target: %w", progressTable, err)
	}
	return nil
}

// ReadProgress reads replication's row of the progress table; ok is false
// when the table or the row does not exist (nothing applied yet).
func ReadProgress(ctx context.Context, dst *pgx.Conn, replication string) (p Progress, ok bool, err error) {
	var exists bool
	if err := dst.QueryRow(ctx, `SELECT pg_catalog.to_regclass($1) IS NOT NULL`, progressTable).Scan(&exists); err != nil {
		return p, false, fmt.Errorf("read stream progress: %w", err)
	}
	if !exists {
		return p, false, nil
	}
	var lsn string
	err = dst.QueryRow(ctx, `SELECT replication, applied_lsn::text, source_commit_time, rows_applied, updated_at
		FROM `+progressTable+` WHERE replication = $1`, replication).
		Scan(&p.Replication, &lsn, &p.SourceCommitTime, &p.RowsApplied, &p.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("read stream progress of %q: %w", replication, err)
	}
	if p.AppliedLSN, err = pglogrepl.ParseLSN(lsn); err != nil {
		return p, false, fmt.Errorf("read stream progress of %q: %w", replication, err)
	}
	return p, true, nil
}

// DropProgress deletes replication's row and drops the progress table
// when no other replication has a row left (destroy, a new slot); the
// table starts of a resumed snapshot and the table filters go with it.
func DropProgress(ctx context.Context, dst *pgx.Conn, replication string) error {
	if err := dropTableStarts(ctx, dst, replication); err != nil {
		return err
	}
	if err := dropTableFilters(ctx, dst, replication); err != nil {
		return err
	}
	var exists bool
	if err := dst.QueryRow(ctx, `SELECT pg_catalog.to_regclass($1) IS NOT NULL`, progressTable).Scan(&exists); err != nil {
		return fmt.Errorf("drop stream progress: %w", err)
	}
	if !exists {
		return nil
	}
	if _, err := dst.Exec(ctx, `DELETE FROM `+progressTable+` WHERE replication = $1`, replication); err != nil {
		return fmt.Errorf("drop stream progress of %q: %w", replication, err)
	}
	var left bool
	if err := dst.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+progressTable+`)`).Scan(&left); err != nil {
		return fmt.Errorf("drop stream progress: %w", err)
	}
	if !left {
		if _, err := dst.Exec(ctx, `DROP TABLE IF EXISTS `+progressTable); err != nil {
			return fmt.Errorf("drop %s: %w", progressTable, err)
		}
	}
	return nil
}
