package cutover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/streamapply"
)

// MethodStream is Database.Method for a database the stream engine syncs:
// a publication and a slot on the source, no subscription; the tool's own
// applier writes to the target.
const MethodStream = "stream"

// Stream reports whether the database is synced by the stream engine.
func (d *Database) Stream() bool { return d.Method == MethodStream }

// targetName is a source table's name on the target (remapped or not).
func (d *Database) targetName(schema, table string) (string, string) {
	if d.Remap == nil {
		return schema, table
	}
	return d.Remap(schema, table)
}

// sequenceSchema is the schema a sequence owned by source table
// schema.table has on the target (it moves with a remapped table); nil
// when nothing is remapped.
func (d *Database) sequenceSchema() func(schema, table string) string {
	if d.Remap == nil {
		return nil
	}
	return func(schema, table string) string {
		s, _ := d.Remap(schema, table)
		return s
	}
}

// preflightStream checks one stream database: the slot exists and no
// applier is streaming from it (the cutover runs the drain's applier
// itself), the slot's lag is under
// --max-lag-bytes, and the source has no prepared transaction.
func (r *run) preflightStream(ctx context.Context, db *Database) (string, error) {
	if r.in.Options.Reverse {
		return "", fmt.Errorf("cutover --reverse is not supported for the stream method yet: cut over without --reverse")
	}
	dst, err := connectTarget(ctx, db)
	if err != nil {
		return "", err
	}
	progress, ok, err := streamapply.ReadProgress(ctx, dst, db.Replication)
	dst.Close(context.Background())
	if err != nil {
		return "", err
	}
	applied := "nothing applied yet (streams from the slot's consistent point)"
	if ok {
		applied = "applied up to " + progress.AppliedLSN.String()
	}
	src, err := connectSource(ctx, db)
	if err != nil {
		return "", err
	}
	defer src.Close(context.Background())
	active, lagBytes, err := readSlot(ctx, src, db.Slot)
	switch {
	case errors.Is(err, errNoSlot):
		return "", fmt.Errorf("replication slot %q is missing on the source: run plan and apply", db.Slot)
	case err != nil:
		return "", fmt.Errorf("read replication slot %q: %w", db.Slot, err)
	case active:
		return "", fmt.Errorf("replication slot %q is in use: a sync is streaming from it; stop it (sync --stop, or end the sync elsewhere) first: the cutover runs the final stream itself", db.Slot)
	}
	if max := r.in.Options.MaxLagBytes; max > 0 && lagBytes > max {
		return "", fmt.Errorf("the target lags %s behind the source (max %s): run sync --once (or let the sync catch up) right before the cutover, or raise --max-lag-bytes",
			lang.FormatBytes(lagBytes), lang.FormatBytes(max))
	}
	if err := r.sourceTransactions(ctx, src, db); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: slot %q not in use, %s, lag %s, no prepared transaction",
		db.Address(), db.Slot, applied, lang.FormatBytes(lagBytes)), nil
}

// drainStream runs db's applier (after the fence) until it has applied
// the source's position.
func (r *run) drainStream(ctx context.Context, db *Database) (string, error) {
	if r.in.StreamDrain == nil {
		return "", fmt.Errorf("no stream applier available")
	}
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, r.in.Options.DrainTimeout)
	defer cancel()
	if err := r.in.StreamDrain(dctx, db); err != nil {
		if ctx.Err() == nil && dctx.Err() != nil {
			return "", fmt.Errorf("the stream applier has not applied the source's changes up to the fence after %s", r.in.Options.DrainTimeout)
		}
		return "", err
	}
	dst, err := connectTarget(ctx, db)
	if err != nil {
		return "", err
	}
	defer dst.Close(context.Background())
	progress, _, err := streamapply.ReadProgress(ctx, dst, db.Replication)
	if err != nil {
		return "", err
	}
	r.reports[db].AppliedLSN = progress.AppliedLSN.String()
	return fmt.Sprintf("%s: the stream applier applied everything up to %s (last applied commit ends at %s; %.1fs)",
		db.Address(), db.Record.FenceLSN, progress.AppliedLSN, time.Since(start).Seconds()), nil
}

// detachStream drops one stream database's slot and publication on the
// source and its progress on the target, unless kept.
func (r *run) detachStream(ctx context.Context, db *Database, p *PhaseResult) error {
	kept := db.Record.KeepSourceObjects
	if !kept {
		if err := dropSlotAndPublication(ctx, db); err != nil {
			return err
		}
		dst, err := connectTarget(ctx, db)
		if err != nil {
			return err
		}
		err = streamapply.DropProgress(ctx, dst, db.Replication)
		dst.Close(context.Background())
		if err != nil {
			return err
		}
	}
	if err := r.record(ctx, db, plans.CutoverDone); err != nil {
		return err
	}
	if r.in.Forget != nil {
		if err := r.in.Forget(ctx, db, kept); err != nil {
			return err
		}
	}
	if kept {
		p.Details = append(p.Details, fmt.Sprintf("%s: stream sync ended; slot %q and publication %q kept on the source (the slot retains WAL until you drop it)", db.Address(), db.Slot, db.Publication))
	} else {
		p.Details = append(p.Details, fmt.Sprintf("%s: stream sync ended; slot %q and publication %q dropped on the source, the applier's progress on the target; the target is the primary", db.Address(), db.Slot, db.Publication))
	}
	return nil
}

// streamQuickCheck compares the row counts of every published table with
// its target table (remapped names).
func streamQuickCheck(ctx context.Context, db *Database, src *pgConn) (string, error) {
	rows, err := src.Query(ctx, `SELECT schemaname::text, tablename::text FROM pg_catalog.pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2`, db.Publication)
	if err != nil {
		return "", fmt.Errorf("list the tables of publication %q: %w", db.Publication, err)
	}
	var srcTables, dstTables []string
	var schema, table string
	if _, err := pgx.ForEachRow(rows, []any{&schema, &table}, func() error {
		srcTables = append(srcTables, pgx.Identifier{schema, table}.Sanitize())
		ts, tt := db.targetName(schema, table)
		dstTables = append(dstTables, pgx.Identifier{ts, tt}.Sanitize())
		return nil
	}); err != nil {
		return "", fmt.Errorf("list the tables of publication %q: %w", db.Publication, err)
	}
	return compareTablePairs(ctx, db, srcTables, dstTables)
}
