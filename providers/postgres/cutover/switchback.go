package cutover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/datacopy"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
)

// Rollback switches back to the source after a cutover with reverse
// replication (cutover --rollback), with the cutover's guarantees the
// other way round: preflight of the reverse subscription, fence of the
// target (the new primary), an exact drain of the reverse slot to the
// target's position after that fence, the sequences set on the source
// from the target, the final check, then the reverse replication is
// dropped and the source unfenced. The progress is recorded in the
// cutover record; a failure before the reverse replication's drop
// unfences the target and leaves everything as it was.
func Rollback(ctx context.Context, in Input) (*Report, error) {
	if in.Options.DrainTimeout <= 0 {
		in.Options.DrainTimeout = 5 * time.Minute
	}
	if in.Options.Verify == "" {
		in.Options.Verify = VerifyFull
	}
	in.Options.Fence = FenceAll
	r := &run{in: in, rep: &Report{Rollback: true}, reports: map[*Database]*DatabaseReport{}, log: in.Log}
	if r.log == nil {
		r.log = hclog.NewNullLogger()
	}
	for _, db := range in.Databases {
		dr := &DatabaseReport{Replication: db.Replication, Database: db.Name}
		r.reports[db] = dr
		if db.Record.Phase != plans.CutoverDone {
			r.rep.Resumed = true
			dr.FenceLSN = db.Record.BackFenceLSN
		}
	}
	err := r.switchBack(ctx)
	for _, db := range in.Databases {
		r.rep.Databases = append(r.rep.Databases, *r.reports[db])
	}
	if err != nil {
		r.rep.Error = err.Error()
	}
	return r.rep, err
}

// switchBack runs the phases of Rollback.
func (r *run) switchBack(ctx context.Context) error {
	for _, db := range r.in.Databases {
		if db.Record.Phase == plans.CutoverBackDetaching {
			r.log.Info("an earlier rollback reached the detach: completing it")
			return r.backDetach(ctx)
		}
	}
	fail := func(err error) error {
		rbErr := r.undoBackFence()
		if rbErr != nil {
			r.rep.Outcome = OutcomeFailed
			return fmt.Errorf("%w\nundoing the rollback failed too: %v\nthe target may still be read-only and the reverse replication is untouched: run cutover --rollback again", err, rbErr)
		}
		r.rep.Outcome = OutcomeRolledBack
		return fmt.Errorf("%w\nthe rollback was undone: the target is the primary and accepts writes, the source still follows it; fix the cause and run cutover --rollback again", err)
	}
	if err := r.phase(PhasePreflight, func(p *PhaseResult) error { return r.backPreflight(ctx, p) }); err != nil {
		return fail(err)
	}
	if err := r.phase(PhaseFence, func(p *PhaseResult) error { return r.backFence(ctx, p) }); err != nil {
		return fail(err)
	}
	if err := r.phase(PhaseDrain, func(p *PhaseResult) error { return r.backDrain(ctx, p) }); err != nil {
		return fail(err)
	}
	if err := r.phase(PhaseSequences, func(p *PhaseResult) error { return r.backSequences(ctx, p) }); err != nil {
		return fail(err)
	}
	if err := r.phase(PhaseVerify, func(p *PhaseResult) error { return r.backVerify(ctx, p) }); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("rollback interrupted before the detach: %w", err))
	}
	return r.backDetach(ctx)
}

// connectWritable opens a session of the tool's own on info that may
// write even when the database is fenced.
func connectWritable(ctx context.Context, info conninfo.Info, side string, db *Database) (*pgConn, error) {
	conn, err := conninfo.Connect(ctx, info.WithReadWrite())
	if err != nil {
		return nil, fmt.Errorf("connect to the %s of %s: %w", side, db.Address(), err)
	}
	return conn, nil
}

// backPreflight checks that every reverse subscription streams and is
// caught up, and that the target has no prepared transaction.
func (r *run) backPreflight(ctx context.Context, p *PhaseResult) error {
	var errs []error
	for _, db := range r.in.Databases {
		detail, err := r.backPreflightDatabase(ctx, db)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", db.Address(), err))
			continue
		}
		p.Details = append(p.Details, detail)
	}
	return joinErrs(errs)
}

// backPreflightDatabase checks one database's reverse replication.
func (r *run) backPreflightDatabase(ctx context.Context, db *Database) (string, error) {
	rec := db.Record
	src, err := connectSource(ctx, db)
	if err != nil {
		return "", err
	}
	defer src.Close(context.Background())
	var enabled, worker bool
	err = src.QueryRow(ctx, `SELECT s.subenabled, EXISTS (SELECT 1 FROM pg_catalog.pg_stat_subscription st WHERE st.subid = s.oid AND st.relid IS NULL AND st.pid IS NOT NULL)
		FROM pg_catalog.pg_subscription s
		WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())`,
		rec.ReverseSubscription).Scan(&enabled, &worker)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", fmt.Errorf("the reverse subscription %q is missing on the source: there is no way back with the same guarantees", rec.ReverseSubscription)
	case err != nil:
		return "", fmt.Errorf("read subscription %q on the source: %w", rec.ReverseSubscription, err)
	case !enabled:
		return "", fmt.Errorf("the reverse subscription %q is disabled on the source: ALTER SUBSCRIPTION … ENABLE and let it catch up first", rec.ReverseSubscription)
	case !worker:
		return "", fmt.Errorf("the reverse subscription %q has no apply worker running on the source: see the source's server log", rec.ReverseSubscription)
	}
	dst, err := connectWritable(ctx, db.Target, "target", db)
	if err != nil {
		return "", err
	}
	defer dst.Close(context.Background())
	active, lagBytes, err := readSlot(ctx, dst, rec.ReverseSlot)
	switch {
	case errors.Is(err, errNoSlot):
		return "", fmt.Errorf("the reverse replication slot %q is missing on the target", rec.ReverseSlot)
	case err != nil:
		return "", fmt.Errorf("read replication slot %q on the target: %w", rec.ReverseSlot, err)
	case !active:
		return "", fmt.Errorf("the reverse replication slot %q is not in use: the reverse subscription is not streaming", rec.ReverseSlot)
	}
	if max := r.in.Options.MaxLagBytes; max > 0 && lagBytes > max {
		return "", fmt.Errorf("the source lags %s behind the target (max %s): wait for it to catch up, or raise --max-lag-bytes",
			lang.FormatBytes(lagBytes), lang.FormatBytes(max))
	}
	var prepared int
	if err := dst.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_prepared_xacts WHERE database = current_database()`).Scan(&prepared); err != nil {
		return "", fmt.Errorf("read pg_prepared_xacts on the target: %w", err)
	}
	if prepared > 0 {
		return "", fmt.Errorf("%d prepared transaction(s) on the target: COMMIT PREPARED or ROLLBACK PREPARED them first", prepared)
	}
	return fmt.Sprintf("%s: reverse subscription %q streaming, lag %s, no prepared transaction on the target",
		db.Address(), rec.ReverseSubscription, lang.FormatBytes(lagBytes)), nil
}

// backFence makes every target database read-only for new sessions, ends
// its client sessions and records its WAL position after that. The
// intent is recorded before the ALTER DATABASE.
func (r *run) backFence(ctx context.Context, p *PhaseResult) error {
	for _, db := range r.in.Databases {
		if err := r.backFenceDatabase(ctx, db, p); err != nil {
			return fmt.Errorf("%s: %w", db.Address(), err)
		}
	}
	return nil
}

// backFenceDatabase fences one target database.
func (r *run) backFenceDatabase(ctx context.Context, db *Database, p *PhaseResult) error {
	rec := db.Record
	dst, err := connectWritable(ctx, db.Target, "target", db)
	if err != nil {
		return err
	}
	defer dst.Close(context.Background())
	if rec.Phase == plans.CutoverDone {
		prior, err := priorReadOnly(ctx, dst)
		if err != nil {
			return err
		}
		var now time.Time
		if err := dst.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&now); err != nil {
			return fmt.Errorf("read the target server's clock: %w", err)
		}
		rec.BackPriorReadOnly, rec.BackFencedAt = prior, now.UTC().Format(time.RFC3339Nano)
		if err := r.record(ctx, db, plans.CutoverBackFenced); err != nil {
			return err
		}
	}
	sql := "ALTER DATABASE " + pgx.Identifier{db.Name}.Sanitize() + " SET default_transaction_read_only = on"
	if _, err := dst.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s on the target: %w", sql, err)
	}
	ended, err := endSessions(ctx, dst, "backend_start < $1", "fence")
	if err != nil {
		return err
	}
	fenceLSN, err := snapshot.CommittedLSN(ctx, dst)
	if err != nil {
		return fmt.Errorf("the target's WAL position: %w", err)
	}
	lsn := fenceLSN.String()
	rec.BackFenceLSN = lsn
	r.reports[db].FenceLSN = lsn
	if err := r.record(ctx, db, plans.CutoverBackFenced); err != nil {
		return err
	}
	p.Details = append(p.Details, fmt.Sprintf("%s: the target is read-only for new sessions, %d client session(s) ended, WAL position %s", db.Address(), ended, lsn))
	return nil
}

// backDrain waits until every reverse slot confirms the target's
// position after the fence.
func (r *run) backDrain(ctx context.Context, p *PhaseResult) error {
	for _, db := range r.in.Databases {
		dst, err := connectWritable(ctx, db.Target, "target", db)
		if err != nil {
			return err
		}
		confirmed, err := waitConfirmed(ctx, dst, db.Record.ReverseSlot, db.Record.BackFenceLSN, r.in.Options.DrainTimeout)
		dst.Close(context.Background())
		if err != nil {
			return fmt.Errorf("%s: %w", db.Address(), err)
		}
		r.reports[db].AppliedLSN = confirmed
		if err := r.record(ctx, db, plans.CutoverBackDrained); err != nil {
			return err
		}
		p.Details = append(p.Details, fmt.Sprintf("%s: the source applied everything up to %s (slot %q confirmed %s)", db.Address(), db.Record.BackFenceLSN, db.Record.ReverseSlot, confirmed))
	}
	return nil
}

// backSequences sets every sequence on the source from the target.
func (r *run) backSequences(ctx context.Context, p *PhaseResult) error {
	for _, db := range r.in.Databases {
		n, err := datacopy.SyncSequences(ctx, db.Target, db.Source.WithReadWrite(), nil)
		if err != nil {
			return fmt.Errorf("%s: %w", db.Address(), err)
		}
		r.reports[db].Sequences = n
		p.Details = append(p.Details, fmt.Sprintf("%s: %d sequence(s) set on the source", db.Address(), n))
	}
	return nil
}

// backVerify runs the final check of --verify.
func (r *run) backVerify(ctx context.Context, p *PhaseResult) error {
	switch r.in.Options.Verify {
	case VerifyNone:
		p.Details = append(p.Details, "skipped (--verify none)")
	case VerifyQuick:
		for _, db := range r.in.Databases {
			dst, err := connectTarget(ctx, db)
			if err != nil {
				return err
			}
			detail, err := compareCounts(ctx, db, dst, db.Record.ReversePublication)
			dst.Close(context.Background())
			if err != nil {
				return fmt.Errorf("%s: %w", db.Address(), err)
			}
			p.Details = append(p.Details, detail)
		}
	default:
		if r.in.FullCheck == nil {
			return errors.New("no full check available")
		}
		differ, err := r.in.FullCheck(ctx)
		if err != nil {
			return err
		}
		if differ != "" {
			return fmt.Errorf("source and target differ after the drain: %s (run verify for the details)", differ)
		}
		p.Details = append(p.Details, "every table's rows (counts and checksums) and the schema are equal")
	}
	return nil
}

// backDetach drops the reverse replication and unfences the source. Once
// recorded as detaching, a failure no longer undoes: a rerun completes
// it.
func (r *run) backDetach(ctx context.Context) error {
	err := r.phase(PhaseDetach, func(p *PhaseResult) error {
		for _, db := range r.in.Databases {
			if err := r.record(ctx, db, plans.CutoverBackDetaching); err != nil {
				return err
			}
		}
		for _, db := range r.in.Databases {
			if err := r.backDetachDatabase(ctx, db, p); err != nil {
				return fmt.Errorf("%s: %w", db.Address(), err)
			}
		}
		return nil
	})
	if err != nil {
		r.rep.Outcome = OutcomeFailed
		return fmt.Errorf("%w\nthe rollback's detach had begun: the target stays read-only, the source may still be too; run cutover --rollback again to complete it", err)
	}
	r.rep.Outcome = OutcomeCompleted
	r.rep.WriteUnavailableSeconds = r.backWindow(ctx)
	return nil
}

// backDetachDatabase drops one database's reverse subscription, slot and
// publication, and unfences the source; each step tolerates an earlier
// run's having done it.
func (r *run) backDetachDatabase(ctx context.Context, db *Database, p *PhaseResult) error {
	rec := db.Record
	src, err := connectSource(ctx, db)
	if err != nil {
		return err
	}
	defer src.Close(context.Background())
	var exists bool
	if err := src.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_catalog.pg_subscription WHERE subname = $1
		AND subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())`, rec.ReverseSubscription).Scan(&exists); err != nil {
		return fmt.Errorf("read subscription %q on the source: %w", rec.ReverseSubscription, err)
	}
	if exists {
		sub := pgx.Identifier{rec.ReverseSubscription}.Sanitize()
		for _, sql := range []string{"ALTER SUBSCRIPTION " + sub + " DISABLE", "ALTER SUBSCRIPTION " + sub + " SET (slot_name = NONE)", "DROP SUBSCRIPTION " + sub} {
			if _, err := src.Exec(ctx, sql); err != nil {
				return fmt.Errorf("%s on the source: %w", sql, err)
			}
		}
	}
	if err := snapshot.DropSlot(ctx, db.Target.WithReadWrite(), rec.ReverseSlot); err != nil {
		return err
	}
	dst, err := connectWritable(ctx, db.Target, "target", db)
	if err != nil {
		return err
	}
	_, err = dst.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pgx.Identifier{rec.ReversePublication}.Sanitize())
	dst.Close(context.Background())
	if err != nil {
		return fmt.Errorf("drop publication %q on the target: %w", rec.ReversePublication, err)
	}
	if db.Forward != nil {
		lsn, err := reforward(ctx, db)
		if err != nil {
			return fmt.Errorf("re-establish the forward replication: %w", err)
		}
		dst, err := connectWritable(ctx, db.Target, "target", db)
		if err != nil {
			return err
		}
		err = unfenceDatabase(ctx, dst, db.Name, rec.BackPriorReadOnly, rec.BackFencedAt)
		dst.Close(context.Background())
		if err != nil {
			return fmt.Errorf("restore the target's default_transaction_read_only: %w", err)
		}
		p.Details = append(p.Details, fmt.Sprintf("%s: forward replication again from the switch-back point %s, without a copy: publication %q and slot %q on the source, subscription %q on the target; the target's default_transaction_read_only is as before the rollback",
			db.Address(), lsn, db.Forward.Publication.Name, db.Forward.Slot.Name, db.Forward.Subscription.Name))
	}
	if rec.Fence == FenceAll {
		if err := unfenceDatabase(ctx, src, db.Name, rec.PriorReadOnly, rec.FencedAt); err != nil {
			return fmt.Errorf("unfence the source: %w", err)
		}
	}
	if db.Forward != nil {
		db.Record.Phase = plans.CutoverRolledBack
		if r.in.Reforwarded == nil {
			return errors.New("no way to record the forward replication")
		}
		if err := r.in.Reforwarded(ctx, db); err != nil {
			return fmt.Errorf("record the forward replication in the state: %w", err)
		}
	} else if err := r.record(ctx, db, plans.CutoverRolledBack); err != nil {
		return err
	}
	after := "the target stays read-only"
	if db.Forward != nil {
		after = "the target follows it again"
	}
	p.Details = append(p.Details, fmt.Sprintf("%s: subscription %q dropped on the source, slot %q and publication %q on the target; the source is the primary again and accepts writes, %s",
		db.Address(), rec.ReverseSubscription, rec.ReverseSlot, rec.ReversePublication, after))
	return nil
}

// undoBackFence unfences every target database the switch back fenced and
// records the cutover as done again.
func (r *run) undoBackFence() error {
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	return r.phase(PhaseRollback, func(p *PhaseResult) error {
		var errs []error
		for _, db := range r.in.Databases {
			rec := db.Record
			if rec.Phase == plans.CutoverDone {
				continue
			}
			dst, err := connectWritable(ctx, db.Target, "target", db)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			err = unfenceDatabase(ctx, dst, db.Name, rec.BackPriorReadOnly, rec.BackFencedAt)
			dst.Close(context.Background())
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: unfence the target: %w", db.Address(), err))
				continue
			}
			rec.BackPriorReadOnly, rec.BackFencedAt, rec.BackFenceLSN = "", "", ""
			if err := r.record(ctx, db, plans.CutoverDone); err != nil {
				errs = append(errs, err)
				continue
			}
			p.Details = append(p.Details, fmt.Sprintf("%s: the target unfenced, the reverse replication untouched", db.Address()))
		}
		return joinErrs(errs)
	})
}

// backWindow is the write-unavailability window of the switch back, on
// the target server's clock.
func (r *run) backWindow(ctx context.Context) float64 {
	for _, db := range r.in.Databases {
		fencedAt, err := time.Parse(time.RFC3339Nano, db.Record.BackFencedAt)
		if err != nil {
			continue
		}
		dst, err := conninfo.Connect(ctx, db.Target)
		if err != nil {
			return time.Since(fencedAt).Seconds()
		}
		defer dst.Close(context.Background())
		var secs float64
		if err := dst.QueryRow(ctx, "SELECT extract(epoch FROM clock_timestamp() - $1::timestamptz)::float8", fencedAt).Scan(&secs); err != nil {
			return time.Since(fencedAt).Seconds()
		}
		return secs
	}
	return 0
}
