package cutover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/datacopy"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
)

// pgConn is one server session.
type pgConn = pgx.Conn

// stateSessionName is the application_name of a PostgreSQL state backend's
// session: the fence leaves it alone (it holds this run's state lock).
const stateSessionName = "database-replicator state"

// longWriteAge is the age from which a write transaction is listed by
// the preflight: the fence ends it.
const longWriteAge = 5 * time.Second

// preflight checks that every database streams, is caught up and has no
// prepared transaction; it lists long-running write transactions.
func (r *run) preflight(ctx context.Context, p *PhaseResult) error {
	var errs []error
	for _, db := range r.in.Databases {
		preflight := r.preflightDatabase
		switch {
		case db.Xmin():
			preflight = r.preflightXmin
		case db.Stream():
			preflight = r.preflightStream
		}
		detail, err := preflight(ctx, db)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", db.Address(), err))
			continue
		}
		p.Details = append(p.Details, detail)
	}
	return joinErrs(errs)
}

// preflightDatabase checks one database.
func (r *run) preflightDatabase(ctx context.Context, db *Database) (string, error) {
	dst, err := connectTarget(ctx, db)
	if err != nil {
		return "", err
	}
	defer dst.Close(context.Background())
	var enabled bool
	err = dst.QueryRow(ctx, `SELECT subenabled FROM pg_catalog.pg_subscription
		WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())`,
		db.Subscription).Scan(&enabled)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", fmt.Errorf("subscription %q does not exist on the target: run apply (or sync) first", db.Subscription)
	case err != nil:
		return "", fmt.Errorf("read subscription %q: %w", db.Subscription, err)
	case !enabled:
		return "", fmt.Errorf("subscription %q is disabled: enable it (apply, or resume) and let it catch up first", db.Subscription)
	}
	var notReady []string
	rows, err := dst.Query(ctx, `SELECT format('%s (%s)', sr.srrelid::regclass, sr.srsubstate)
		FROM pg_catalog.pg_subscription_rel sr JOIN pg_catalog.pg_subscription s ON s.oid = sr.srsubid
		WHERE s.subname = $1 AND sr.srsubstate <> 'r' ORDER BY 1`, db.Subscription)
	if err == nil {
		notReady, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return "", fmt.Errorf("read the table states of subscription %q: %w", db.Subscription, err)
	}
	if len(notReady) > 0 {
		return "", fmt.Errorf("%d table(s) of subscription %q are still being copied: %s; wait until status shows them ready",
			len(notReady), db.Subscription, strings.Join(notReady, ", "))
	}
	var worker bool
	if err := dst.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_catalog.pg_stat_subscription WHERE subname = $1 AND relid IS NULL AND pid IS NOT NULL`,
		db.Subscription).Scan(&worker); err != nil {
		return "", fmt.Errorf("read pg_stat_subscription: %w", err)
	}
	if !worker {
		return "", fmt.Errorf("subscription %q has no apply worker running: see the target's server log and status", db.Subscription)
	}
	if r.in.Options.Reverse || (db.Record != nil && db.Record.Reverse) {
		if err := checkReverseIdentity(ctx, dst, db.Subscription); err != nil {
			return "", err
		}
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
	case !active:
		return "", fmt.Errorf("replication slot %q is not in use: the subscription is not streaming", db.Slot)
	}
	lagSecs, err := subscriptionLagSeconds(ctx, db.Target, db.Subscription)
	if err != nil {
		return "", err
	}
	if lagBytes <= 0 {
		lagSecs = 0
	}
	if max := r.in.Options.MaxLagBytes; max > 0 && lagBytes > max {
		return "", fmt.Errorf("the target lags %s behind the source (max %s): wait for it to catch up, or raise --max-lag-bytes",
			lang.FormatBytes(lagBytes), lang.FormatBytes(max))
	}
	if max := r.in.Options.MaxLag; max > 0 && lagSecs > max.Seconds() {
		return "", fmt.Errorf("the target lags %.1fs behind the source (max %s): wait for it to catch up, or raise --max-lag", lagSecs, max)
	}
	if err := r.sourceTransactions(ctx, src, db); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: subscription %q streaming, every table ready, lag %s / %.1fs, no prepared transaction",
		db.Address(), db.Subscription, lang.FormatBytes(lagBytes), lagSecs), nil
}

// sourceTransactions refuses prepared transactions on the source and
// warns of long-running write transactions (the fence ends them).
func (r *run) sourceTransactions(ctx context.Context, src *pgConn, db *Database) error {
	rows, err := src.Query(ctx, `SELECT gid FROM pg_catalog.pg_prepared_xacts WHERE database = current_database() ORDER BY 1`)
	var prepared []string
	if err == nil {
		prepared, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return fmt.Errorf("read pg_prepared_xacts: %w", err)
	}
	if len(prepared) > 0 {
		return fmt.Errorf("%d prepared transaction(s) on the source (%s): COMMIT PREPARED or ROLLBACK PREPARED them first (a fence cannot end them)",
			len(prepared), strings.Join(prepared, ", "))
	}
	rows, err = src.Query(ctx, `SELECT format('pid %s (%s, %s) writing for %s', pid, usename, COALESCE(NULLIF(application_name, ''), 'no application_name'),
			date_trunc('second', clock_timestamp() - xact_start))
		FROM pg_catalog.pg_stat_activity
		WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_catalog.pg_backend_pid()
		  AND xact_start < clock_timestamp() - make_interval(secs => $1) ORDER BY xact_start`, longWriteAge.Seconds())
	var long []string
	if err == nil {
		long, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return fmt.Errorf("read pg_stat_activity: %w", err)
	}
	for _, l := range long {
		r.warn("%s: long-running write transaction on the source, %s: the fence ends it (its changes are rolled back)", db.Address(), l)
	}
	return nil
}

// fence makes every database read-only for new sessions and ends its
// client sessions (never replication connections, never this tool's),
// then records the WAL position after the fence.
func (r *run) fence(ctx context.Context, p *PhaseResult) error {
	for _, db := range r.in.Databases {
		if err := r.fenceDatabase(ctx, db, p); err != nil {
			return fmt.Errorf("%s: %w", db.Address(), err)
		}
	}
	return nil
}

// fenceDatabase fences one database. The intent is recorded before the
// ALTER DATABASE, so that a crash right after it leaves a record that
// unfences.
func (r *run) fenceDatabase(ctx context.Context, db *Database, p *PhaseResult) error {
	src, err := connectSource(ctx, db)
	if err != nil {
		return err
	}
	defer src.Close(context.Background())
	if db.Record == nil {
		prior, err := priorReadOnly(ctx, src)
		if err != nil {
			return err
		}
		// The server's clock: the unfence ends the sessions opened since.
		var now time.Time
		if err := src.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&now); err != nil {
			return fmt.Errorf("read the server's clock: %w", err)
		}
		db.Record = &plans.CutoverAttrs{Publication: db.Publication, Slot: db.Slot, Subscription: db.Subscription,
			Fence: r.in.Options.Fence, PriorReadOnly: prior, FencedAt: now.UTC().Format(time.RFC3339Nano),
			KeepSourceObjects: r.in.Options.KeepSourceObjects, Method: db.Method}
		if r.in.Options.Reverse {
			setReverse(db)
		}
		if err := r.record(ctx, db, plans.CutoverFenced); err != nil {
			return err
		}
	}
	if r.in.Options.Reverse && !db.Record.Reverse {
		setReverse(db)
	}
	ended := 0
	if db.Record.Fence == FenceAll {
		sql := "ALTER DATABASE " + pgx.Identifier{db.Name}.Sanitize() + " SET default_transaction_read_only = on"
		if _, err := src.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w (the role needs to own the database or be a superuser; --fence none leaves fencing to you)", sql, err)
		}
		if ended, err = endSessions(ctx, src, "backend_start < $1", "fence"); err != nil {
			return err
		}
	}
	// Past every commit before the fence, also one made with
	// synchronous_commit off whose WAL is not written yet.
	fenceLSN, err := snapshot.CommittedLSN(ctx, src)
	if err != nil {
		return fmt.Errorf("the source's WAL position: %w", err)
	}
	lsn := fenceLSN.String()
	writes, err := sourceWrites(ctx, src, db)
	if err != nil {
		return err
	}
	db.Record.FenceLSN, db.Record.WritesAtFence = lsn, writes
	r.reports[db].FenceLSN = lsn
	if err := r.record(ctx, db, plans.CutoverFenced); err != nil {
		return err
	}
	if db.Record.Fence == FenceAll {
		p.Details = append(p.Details, fmt.Sprintf("%s: read-only for new sessions, %d client session(s) ended, WAL position %s", db.Address(), ended, lsn))
	} else {
		p.Details = append(p.Details, fmt.Sprintf("%s: not fenced (--fence none), WAL position %s", db.Address(), lsn))
	}
	return nil
}

// priorReadOnly reads the database's own default_transaction_read_only
// setting ("" when it has none).
func priorReadOnly(ctx context.Context, src *pgConn) (string, error) {
	var prior string
	err := src.QueryRow(ctx, `SELECT COALESCE((SELECT split_part(s, '=', 2) FROM pg_catalog.pg_db_role_setting d, unnest(d.setconfig) s
		WHERE d.setdatabase = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) AND d.setrole = 0
		  AND s LIKE 'default\_transaction\_read\_only=%'), '')`).Scan(&prior)
	if err != nil {
		return "", fmt.Errorf("read the database's default_transaction_read_only setting: %w", err)
	}
	return prior, nil
}

// sessionEndWait bounds the wait for ended sessions to go away.
const sessionEndWait = 30 * time.Second

// endSessions ends the client sessions of src's database that match cond
// (over pg_stat_activity, $1 the time the fence took effect on the
// server), except this session and a state backend's, and waits until
// they are gone. Replication connections (walsenders) and background
// workers are never client sessions.
func endSessions(ctx context.Context, src *pgConn, cond, why string) (int, error) {
	var since time.Time
	if err := src.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&since); err != nil {
		return 0, fmt.Errorf("read the server's clock: %w", err)
	}
	where := `datname = current_database() AND backend_type = 'client backend' AND pid <> pg_catalog.pg_backend_pid()
		AND application_name IS DISTINCT FROM '` + stateSessionName + `' AND ` + cond
	total := 0
	deadline := time.Now().Add(sessionEndWait)
	for {
		var ended, left int
		if err := src.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid)), count(*) FROM pg_catalog.pg_stat_activity WHERE `+where,
			since).Scan(&ended, &left); err != nil {
			return total, fmt.Errorf("%s: end the database's client sessions: %w (the role needs pg_signal_backend, or to be a superuser)", why, err)
		}
		total += ended
		if left == 0 {
			return total, nil
		}
		if time.Now().After(deadline) {
			return total, fmt.Errorf("%s: %d client session(s) of the database are still there after %s", why, left, sessionEndWait)
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// publishedWrites counts the rows written (inserted, updated, deleted)
// to the publication's tables since statistics began.
func publishedWrites(ctx context.Context, src *pgConn, publication string) (int64, error) {
	var n int64
	err := src.QueryRow(ctx, `SELECT COALESCE(sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del), 0)::int8
		FROM pg_catalog.pg_stat_user_tables s JOIN pg_catalog.pg_publication_tables t
		  ON t.schemaname = s.schemaname AND t.tablename = s.relname
		WHERE t.pubname = $1`, publication).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("read the write statistics of publication %q: %w", publication, err)
	}
	return n, nil
}

// drain waits until every database's slot confirms the fence position.
func (r *run) drain(ctx context.Context, p *PhaseResult, phase string) error {
	for _, db := range r.in.Databases {
		if db.Xmin() || db.Stream() {
			drain := r.drainXmin
			if db.Stream() {
				drain = r.drainStream
			}
			detail, err := drain(ctx, db)
			if err != nil {
				return fmt.Errorf("%s: %w", db.Address(), err)
			}
			if phase == plans.CutoverDrained {
				if err := r.record(ctx, db, phase); err != nil {
					return err
				}
			}
			p.Details = append(p.Details, detail)
			continue
		}
		src, err := connectSource(ctx, db)
		if err != nil {
			return err
		}
		lsn := db.Record.FenceLSN
		if phase != plans.CutoverDrained {
			// A second drain, up to now.
			now, err := snapshot.CommittedLSN(ctx, src)
			if err != nil {
				src.Close(context.Background())
				return fmt.Errorf("%s: the source's WAL position: %w", db.Address(), err)
			}
			lsn = now.String()
		}
		confirmed, err := waitConfirmed(ctx, src, db.Slot, lsn, r.in.Options.DrainTimeout)
		src.Close(context.Background())
		if err != nil {
			return fmt.Errorf("%s: %w", db.Address(), err)
		}
		r.reports[db].AppliedLSN = confirmed
		if phase == plans.CutoverDrained {
			if err := r.record(ctx, db, phase); err != nil {
				return err
			}
		}
		p.Details = append(p.Details, fmt.Sprintf("%s: the target applied everything up to %s (slot %q confirmed %s)", db.Address(), lsn, db.Slot, confirmed))
	}
	return nil
}

// waitConfirmed waits until slot's confirmed_flush_lsn reaches lsn and
// returns it.
func waitConfirmed(ctx context.Context, src *pgConn, slot, lsn string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		var confirmed *string
		var done, active bool
		err := src.QueryRow(ctx, `SELECT confirmed_flush_lsn::text, COALESCE(confirmed_flush_lsn >= $2::pg_lsn, false), active
			FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, slot, lsn).Scan(&confirmed, &done, &active)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return "", fmt.Errorf("replication slot %q is gone", slot)
		case err != nil:
			return "", fmt.Errorf("read the position of replication slot %q: %w", slot, err)
		case done:
			return *confirmed, nil
		case time.Now().After(deadline):
			at := "nothing"
			if confirmed != nil {
				at = *confirmed
			}
			state := "in use"
			if !active {
				state = "not in use: the subscription is not streaming"
			}
			return "", fmt.Errorf("the target has not applied the source's changes up to %s after %s (slot %q confirmed %s, %s)", lsn, timeout, slot, at, state)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// sequences sets every sequence of every database on the target from the
// source's values of now (after the drain).
func (r *run) sequences(ctx context.Context, p *PhaseResult, record bool) error {
	for _, db := range r.in.Databases {
		n, err := datacopy.SyncSequencesRemapped(ctx, db.Source, db.Target, nil, db.sequenceSchema())
		if err != nil {
			return fmt.Errorf("%s: %w", db.Address(), err)
		}
		r.reports[db].Sequences = n
		if record {
			if err := r.record(ctx, db, plans.CutoverSequences); err != nil {
				return err
			}
		}
		p.Details = append(p.Details, fmt.Sprintf("%s: %d sequence(s) set on the target", db.Address(), n))
	}
	return nil
}

// verify runs the final check of --verify.
func (r *run) verify(ctx context.Context, p *PhaseResult) error {
	switch r.in.Options.Verify {
	case VerifyNone:
		p.Details = append(p.Details, "skipped (--verify none)")
	case VerifyQuick:
		for _, db := range r.in.Databases {
			detail, err := quickCheck(ctx, db)
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
	for _, db := range r.in.Databases {
		if err := r.record(ctx, db, plans.CutoverVerified); err != nil {
			return err
		}
	}
	return nil
}

// quickCheck compares the row count of every published table.
func quickCheck(ctx context.Context, db *Database) (string, error) {
	src, err := connectSource(ctx, db)
	if err != nil {
		return "", err
	}
	defer src.Close(context.Background())
	if db.Xmin() {
		tables := make([]string, len(db.Tables))
		for i, t := range db.Tables {
			tables[i] = t.sql()
		}
		return compareTableCounts(ctx, db, tables)
	}
	if db.Stream() {
		return streamQuickCheck(ctx, db, src)
	}
	return compareCounts(ctx, db, src, db.Publication)
}

// compareCounts compares the row count, on the source and the target, of
// every table of publication, which lister's server has.
func compareCounts(ctx context.Context, db *Database, lister *pgConn, publication string) (string, error) {
	rows, err := lister.Query(ctx, `SELECT format('%I.%I', schemaname, tablename) FROM pg_catalog.pg_publication_tables WHERE pubname = $1 ORDER BY 1`, publication)
	if err != nil {
		return "", fmt.Errorf("list the tables of publication %q: %w", publication, err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("list the tables of publication %q: %w", publication, err)
	}
	return compareTableCounts(ctx, db, tables)
}

// compareTableCounts compares the row count, on the source and the
// target, of every table (quoted, qualified names). Both sides count at
// the same time, each on its own connection: the check is part of the
// write-unavailability window.
func compareTableCounts(ctx context.Context, db *Database, tables []string) (string, error) {
	return compareTablePairs(ctx, db, tables, tables)
}

// compareTablePairs is compareTableCounts for tables whose target names
// differ: srcTables[i] on the source is dstTables[i] on the target.
func compareTablePairs(ctx context.Context, db *Database, srcTables, dstTables []string) (string, error) {
	tables := srcTables
	var srcCounts, dstCounts []int64
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		conn, err := connectSource(gctx, db)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		srcCounts, err = countRows(gctx, conn, tables, "source")
		return err
	})
	g.Go(func() error {
		conn, err := connectTarget(gctx, db)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		dstCounts, err = countRows(gctx, conn, dstTables, "target")
		return err
	})
	if err := g.Wait(); err != nil {
		return "", err
	}
	var differ []string
	for i, t := range tables {
		if a, b := srcCounts[i], dstCounts[i]; a != b {
			if dstTables[i] != t {
				t += " -> " + dstTables[i]
			}
			differ = append(differ, fmt.Sprintf("%s (source %d rows, target %d)", t, a, b))
		}
	}
	if len(differ) > 0 {
		return "", fmt.Errorf("row counts differ after the drain: %s", strings.Join(differ, ", "))
	}
	return fmt.Sprintf("%s: row counts of %d table(s) equal", db.Address(), len(tables)), nil
}

// countRows counts the rows of every table (quoted, qualified names) on
// conn, the side named side.
func countRows(ctx context.Context, conn *pgConn, tables []string, side string) ([]int64, error) {
	counts := make([]int64, len(tables))
	for i, t := range tables {
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+t).Scan(&counts[i]); err != nil {
			return nil, fmt.Errorf("count %s on the %s: %w", t, side, err)
		}
	}
	return counts, nil
}

// detach checks for writes after the fence (draining them too), then
// disables and drops the subscriptions and, unless kept, the slots and
// publications. Once recorded as detaching, a failure no longer rolls
// back: a rerun completes it.
func (r *run) detach(ctx context.Context) error {
	err := r.phase(PhaseDetach, func(p *PhaseResult) error {
		if err := r.writesAfterFence(ctx, p); err != nil {
			return err
		}
		for _, db := range r.in.Databases {
			if db.Record.Phase != plans.CutoverDone {
				if err := r.record(ctx, db, plans.CutoverDetaching); err != nil {
					return err
				}
			}
		}
		for _, db := range r.in.Databases {
			if err := r.detachDatabase(ctx, db, p); err != nil {
				return fmt.Errorf("%s: %w", db.Address(), err)
			}
		}
		return nil
	})
	if err != nil {
		r.rep.Outcome = OutcomeFailed
		return fmt.Errorf("%w\nthe detach had begun: the source stays read-only, and the target may still be subscribed; run cutover again to complete it", err)
	}
	r.rep.Outcome = OutcomeCompleted
	r.rep.WriteUnavailableSeconds = r.window(ctx)
	return nil
}

// writesAfterFence reports rows written to published tables after the
// fence; when there are any, it drains again and syncs the sequences
// again, so that they reach the target before it is detached.
func (r *run) writesAfterFence(ctx context.Context, p *PhaseResult) error {
	found := false
	for _, db := range r.in.Databases {
		if db.Record.Phase == plans.CutoverDetaching || db.Record.Phase == plans.CutoverDone {
			continue
		}
		src, err := connectSource(ctx, db)
		if err != nil {
			return err
		}
		// Statistics of other sessions are flushed within a second or so;
		// this session reads them fresh.
		n, err := sourceWrites(ctx, src, db)
		src.Close(context.Background())
		if err != nil {
			return err
		}
		if d := n - db.Record.WritesAtFence; d > 0 {
			r.reports[db].WritesAfterFence = d
			found = true
			r.warn("%s: %d row(s) were written to published tables on the source after the fence (a superuser, or a session that set default_transaction_read_only off); they were drained to the target, but writes that go on after the detach are lost: find the writer", db.Address(), d)
		}
	}
	if !found {
		return nil
	}
	if err := r.drain(ctx, p, ""); err != nil {
		return err
	}
	return r.sequences(ctx, p, false)
}

// detachDatabase drops one database's subscription and, unless kept, its
// slot and publication; each step tolerates an earlier run's having done
// it.
func (r *run) detachDatabase(ctx context.Context, db *Database, p *PhaseResult) error {
	if err := r.dropDDLCapture(ctx, db, p); err != nil {
		return err
	}
	if db.Xmin() {
		return r.detachXmin(ctx, db, p)
	}
	if db.Stream() {
		return r.detachStream(ctx, db, p)
	}
	dst, err := connectTarget(ctx, db)
	if err != nil {
		return err
	}
	defer dst.Close(context.Background())
	var exists bool
	if err := dst.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_catalog.pg_subscription WHERE subname = $1
		AND subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())`, db.Subscription).Scan(&exists); err != nil {
		return fmt.Errorf("read subscription %q: %w", db.Subscription, err)
	}
	if db.Record.Reverse {
		if exists {
			if err := reverseOnTarget(ctx, dst, db); err != nil {
				return err
			}
		} else if ok, err := reverseSlotExists(ctx, dst, db.Record); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: the target is the primary; set up replication back to the source yourself (a new copy)", errReverseSlotLost)
		}
	}
	if exists {
		sub := pgx.Identifier{db.Subscription}.Sanitize()
		for _, sql := range []string{"ALTER SUBSCRIPTION " + sub + " DISABLE", "ALTER SUBSCRIPTION " + sub + " SET (slot_name = NONE)", "DROP SUBSCRIPTION " + sub} {
			if _, err := dst.Exec(ctx, sql); err != nil {
				return fmt.Errorf("%s: %w", sql, err)
			}
		}
	}
	kept := db.Record.KeepSourceObjects
	if !kept {
		if err := dropSlotAndPublication(ctx, db); err != nil {
			return err
		}
	}
	var reverse string
	if db.Record.Reverse {
		originNone, err := reverseOnSource(ctx, db)
		if err != nil {
			return err
		}
		rec := db.Record
		r.reports[db].Reverse = &ReverseReport{Publication: rec.ReversePublication, Slot: rec.ReverseSlot, Subscription: rec.ReverseSubscription, OriginNone: originNone}
		origin := "origin = none"
		if !originNone {
			origin = "no origin = none before PostgreSQL 16"
		}
		reverse = fmt.Sprintf("; reverse replication from the switch point: publication %q and slot %q on the new primary, subscription %q on the old one (%s)",
			rec.ReversePublication, rec.ReverseSlot, rec.ReverseSubscription, origin)
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
		p.Details = append(p.Details, fmt.Sprintf("%s: subscription %q dropped; slot %q and publication %q kept on the source (the slot retains WAL until you drop it)%s", db.Address(), db.Subscription, db.Slot, db.Publication, reverse))
	} else {
		p.Details = append(p.Details, fmt.Sprintf("%s: subscription %q, slot %q and publication %q dropped; the target is the primary%s", db.Address(), db.Subscription, db.Slot, db.Publication, reverse))
	}
	return nil
}

// dropDDLCapture removes the database's DDL capture from both sides, first
// in its detach: the reverse publication (cutover --reverse) is made of the
// subscription's tables, which then no longer hold the log.
func (r *run) dropDDLCapture(ctx context.Context, db *Database, p *PhaseResult) error {
	if !db.DDLCapture {
		return nil
	}
	if r.in.DropDDLCapture == nil {
		return fmt.Errorf("the state records a DDL capture, and this run cannot remove it")
	}
	if err := r.in.DropDDLCapture(ctx, db); err != nil {
		return fmt.Errorf("remove the DDL capture: %w", err)
	}
	p.Details = append(p.Details, fmt.Sprintf("%s: DDL capture removed (event triggers, function and log on the source; log and replay on the target)", db.Address()))
	return nil
}

// rollbackTimeout bounds the rollback, which runs even when the cutover's
// context was cancelled (Ctrl-C).
const rollbackTimeout = 2 * time.Minute

// rollback unfences every database an earlier phase fenced (restoring
// its own setting, ending the sessions opened during the fence so they
// reconnect writable) and forgets the cutover. Replication was not
// touched before the detach.
func (r *run) rollback(cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	return r.phase(PhaseRollback, func(p *PhaseResult) error {
		var errs []error
		for _, db := range r.in.Databases {
			if db.Record == nil {
				continue
			}
			if err := unfence(ctx, db); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", db.Address(), err))
				continue
			}
			if err := r.in.Save(ctx, db, nil); err != nil {
				errs = append(errs, fmt.Errorf("%s: forget the cutover in the state: %w", db.Address(), err))
				continue
			}
			p.Details = append(p.Details, fmt.Sprintf("%s: unfenced, replication untouched", db.Address()))
		}
		return joinErrs(errs)
	})
}

// unfence restores the database's own default_transaction_read_only and
// ends the client sessions opened while it was fenced (they started
// read-only).
func unfence(ctx context.Context, db *Database) error {
	if db.Record.Fence != FenceAll {
		return nil
	}
	src, err := connectSource(ctx, db)
	if err != nil {
		return err
	}
	defer src.Close(context.Background())
	return unfenceDatabase(ctx, src, db.Name, db.Record.PriorReadOnly, db.Record.FencedAt)
}

// unfenceDatabase restores database name's own default_transaction_read_only
// (prior, "" for none) over conn, a writable session on it, and ends the
// client sessions opened since fencedAt (they started read-only).
func unfenceDatabase(ctx context.Context, conn *pgConn, name, prior, fencedAt string) error {
	quoted := pgx.Identifier{name}.Sanitize()
	sql := "ALTER DATABASE " + quoted + " RESET default_transaction_read_only"
	if prior != "" {
		sql = "ALTER DATABASE " + quoted + " SET default_transaction_read_only = " + conninfo.QuoteLiteral(prior)
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	if _, err := endSessions(ctx, conn, "backend_start < $1 AND backend_start >= "+conninfo.QuoteLiteral(fencedAt)+"::timestamptz", "unfence"); err != nil {
		return err
	}
	return nil
}

// window is the write-unavailability window: from the earliest fence to
// now, on the source server's clock (the fence time is the server's).
func (r *run) window(ctx context.Context) float64 {
	var first *Database
	var fencedAt time.Time
	for _, db := range r.in.Databases {
		if t, err := time.Parse(time.RFC3339Nano, db.Record.FencedAt); err == nil && (first == nil || t.Before(fencedAt)) {
			first, fencedAt = db, t
		}
	}
	if first == nil {
		return 0
	}
	src, err := conninfo.Connect(ctx, first.Source)
	if err != nil {
		return time.Since(fencedAt).Seconds()
	}
	defer src.Close(context.Background())
	var secs float64
	if err := src.QueryRow(ctx, "SELECT extract(epoch FROM clock_timestamp() - $1::timestamptz)::float8", fencedAt).Scan(&secs); err != nil {
		return time.Since(fencedAt).Seconds()
	}
	return secs
}

// subscriptionLagSeconds reads, on the target database, how long ago the
// subscription's apply worker last confirmed a position to the source
// (pg_stat_subscription.latest_end_time); 0 when no worker runs or it has
// not confirmed yet (preflight checks the worker separately).
func subscriptionLagSeconds(ctx context.Context, target conninfo.Info, subscription string) (float64, error) {
	conn, err := conninfo.Connect(ctx, target)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var s *float64
	// clock_timestamp, not now(): the worker may confirm after this
	// transaction started, and a lag is never negative. Only this
	// database's subscription of that name.
	err = conn.QueryRow(ctx, `SELECT greatest(extract(epoch FROM clock_timestamp() - st.latest_end_time), 0)::float8
		FROM pg_catalog.pg_stat_subscription st JOIN pg_catalog.pg_subscription s ON s.oid = st.subid
		WHERE s.subname = $1 AND st.relid IS NULL
		  AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())`, subscription).Scan(&s)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("read pg_stat_subscription: %w", err)
	case s == nil:
		return 0, nil
	}
	return *s, nil
}

// errNoSlot reports that readSlot found no slot of that name.
var errNoSlot = errors.New("no such replication slot")

// readSlot reads whether replication slot name on conn's server is in use
// and how many bytes of WAL lie between its confirmed position and the
// server's current one; errNoSlot when there is no such slot.
func readSlot(ctx context.Context, conn *pgx.Conn, name string) (active bool, lagBytes int64, err error) {
	err = conn.QueryRow(ctx, `SELECT active, COALESCE(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn), 0)::int8
		FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, name).Scan(&active, &lagBytes)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, 0, errNoSlot
	}
	return active, lagBytes, err
}

// dropSlotAndPublication drops db's replication slot and publication on
// the source.
func dropSlotAndPublication(ctx context.Context, db *Database) error {
	if err := snapshot.DropSlot(ctx, db.Source, db.Slot); err != nil {
		return err
	}
	src, err := connectSource(ctx, db)
	if err != nil {
		return err
	}
	defer src.Close(context.Background())
	if _, err := src.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pgx.Identifier{db.Publication}.Sanitize()); err != nil {
		return fmt.Errorf("drop publication %q: %w", db.Publication, err)
	}
	return nil
}
