// Package xminsync keeps target tables in step with a source that cannot
// run logical replication (wal_level below logical, no REPLICATION
// privilege): each cycle reads the rows written since the table's cursor,
// found by their xmin, and upserts them on the target in batches; deletes
// are found by reconciliation, which compares hashes of primary-key buckets
// on both sides and drills into the buckets that differ.
//
// Correctness (ARCHITECTURE.md rule 7): cursors are 64-bit transaction IDs
// (epoch and xid), so they survive the 32-bit wraparound; a cycle reads in
// one snapshot and moves the cursor to that snapshot's xmin, never to the
// largest xmin it saw, so a transaction that was running during a cycle
// and commits later is read by the next one. The cursor is stored in the
// target database and moves in the same transaction as each batch.
package xminsync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/compare"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
)

// Column is one column the engine copies.
type Column struct {
	Name string
	// Type is the column's type as format_type renders it (for casts).
	Type string
	// IdentityAlways marks a GENERATED ALWAYS AS IDENTITY column: rows
	// keep the source's value on insert (OVERRIDING SYSTEM VALUE), and an
	// update never sets it (PostgreSQL allows only DEFAULT there).
	IdentityAlways bool
}

// Table is one table the engine keeps in sync.
type Table struct {
	// Key names the table in cursors, logs and results ("schema.table").
	Key          string
	Schema, Name string
	// Columns are the columns copied (generated columns left out).
	Columns []Column
	// PrimaryKey is the key rows are upserted and reconciled by: the
	// primary key, or the columns of a unique index over NOT NULL columns
	// (FromCatalog). Empty for a table with neither: any change then
	// copies the table again.
	PrimaryKey []string
	// Filter keeps only the source rows that belong on the target.
	Filter string
	// Start is the watermark of a table that has no cursor yet: the xmin
	// of the snapshot its copy was taken in (0 reads every row once).
	Start uint64
	// Partitioned is true for a partitioned table: it is read, written
	// and compared through its partitions.
	Partitioned bool
}

// relation is how statements name the table: ONLY the table itself for a
// plain table (inheritance children are tables of their own), the whole
// tree for a partitioned table (its rows live in the partitions).
func (t Table) relation() string {
	if t.Partitioned {
		return t.sqlName()
	}
	return "ONLY " + t.sqlName()
}

// Options tune a cycle.
type Options struct {
	// Replication names the replication the cursors belong to.
	Replication string
	// BatchSize is the number of rows per upsert transaction.
	BatchSize int
	// ReconcileAfter reconciles a table whose last reconciliation is older
	// than this (or that was never reconciled); 0 reconciles every table,
	// a negative value none.
	ReconcileAfter time.Duration
	// Log receives what the cycle does; nil discards it.
	Log hclog.Logger
	// OnRows, when set, is called after each committed batch.
	OnRows func(table string, upserted, deleted int64)
	// Stop, when closed, ends the cycle after the batch being applied is
	// committed; Cycle then returns ErrStopped.
	Stop <-chan struct{}
	// Parallel is how many tables are synced at once (each with its own
	// source and target connection, all in the cycle's one snapshot);
	// OnRows may then be called concurrently.
	Parallel int
	// Changes, when set, skips the tables whose activity counters did not
	// move since they were last read (see ChangeTracker); keep one per
	// database across its cycles. Nil reads every table every cycle.
	Changes *ChangeTracker
	// ReplayDDL runs, before the tables, the DDL captured on the source
	// (policy.capture_ddl) that the target's log lacks (see replayDDL).
	ReplayDDL bool
	// Carryover, with WaitAtMost, lets a cycle return while its slowest
	// tables are still running (see Carryover); keep one per database
	// across its cycles. Nil waits for every table.
	Carryover *Carryover
	// WaitAtMost is how long after its start a cycle with a Carryover
	// waits for its tables; 0 waits for all.
	WaitAtMost time.Duration
}

// ErrStopped is returned by Cycle when Options.Stop ended it early; every
// committed batch moved its table's cursor, so the next cycle resumes.
var ErrStopped = errors.New("xmin sync stopped after the current batch")

// TableResult is what one cycle did to one table.
type TableResult struct {
	Table    string        `json:"table"`
	Upserted int64         `json:"upserted"`
	Deleted  int64         `json:"deleted"`
	Duration time.Duration `json:"duration"`
	// Reconciled is true when the cycle compared the whole table.
	Reconciled bool `json:"reconciled,omitempty"`
	// Diffed is true when a table without a key was compared with the
	// target as a multiset of rows and the difference applied.
	Diffed bool `json:"diffed,omitempty"`
	// FullScan is true when the cursor was too old for xmin to tell rows
	// apart and every row was read.
	FullScan bool `json:"full_scan,omitempty"`
	// Unchanged is true when the table was not read: its activity
	// counters had not moved since it was last read (Options.Changes).
	Unchanged bool `json:"unchanged,omitempty"`
	// Watermark is the table's cursor after the cycle.
	Watermark uint64 `json:"watermark"`
	// Earlier is true for a table an earlier cycle left running, which
	// finished since (Options.Carryover).
	Earlier bool `json:"earlier,omitempty"`
}

// Result is one cycle over the tables of one database.
type Result struct {
	// Xmin and Xmax bound the cycle's snapshot (64-bit transaction IDs).
	Xmin, Xmax uint64
	Tables     []TableResult
	// DDLReplayed counts the captured DDL statements run before the tables
	// (Options.ReplayDDL), failed ones included.
	DDLReplayed int
	// StillRunning counts the tables left out because they were still
	// running from an earlier cycle; LeftRunning the tables this cycle
	// left running when it returned (Options.Carryover).
	StillRunning, LeftRunning int
}

// Rows is the total number of rows upserted and deleted.
func (r Result) Rows() (upserted, deleted int64) {
	for _, t := range r.Tables {
		upserted += t.Upserted
		deleted += t.Deleted
	}
	return upserted, deleted
}

// DefaultBatchSize is used when Options.BatchSize is not positive.
const DefaultBatchSize = 10000

// Cycle runs one sync cycle for tables of one database: src and dst name
// that database on each side. Tables are done Options.Parallel at a time
// (default one after another), all reading in the same source snapshot.
// With Options.Carryover and Options.WaitAtMost, tables still running
// from an earlier cycle are left out, and the cycle returns after
// WaitAtMost with its slowest tables still running (see Carryover).
func Cycle(ctx context.Context, src, dst conninfo.Info, tables []Table, opts Options) (Result, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.Log == nil {
		opts.Log = hclog.NewNullLogger()
	}
	began := time.Now()
	var res Result
	carry := opts.Carryover
	if carry != nil {
		var err error
		if res.Tables, err = carry.take(); err != nil {
			return res, err
		}
		tables, res.StillRunning = carry.start(tables)
		if len(tables) == 0 {
			return res, nil
		}
	}
	// handedOver is set when the tables still running were left to the
	// carryover: they release themselves as they finish.
	handedOver := false
	defer func() {
		if !handedOver && carry != nil {
			carry.release(tables)
		}
	}()
	// The workers' connections open while the counters are read and the
	// snapshot exported; they import the snapshot once it exists.
	workers := max(1, min(opts.Parallel, len(tables)))
	runs := make([]*run, workers)
	connectErrs := make([]error, workers)
	var connecting sync.WaitGroup
	for i := range runs {
		r := &run{src: src, opts: opts, temp: map[string]string{}}
		runs[i] = r
		connecting.Add(1)
		go func() {
			defer connecting.Done()
			if connectErrs[i] = r.openTarget(ctx, dst); connectErrs[i] == nil {
				connectErrs[i] = r.connectReader(ctx)
			}
		}()
	}
	var held *snapshot.Held
	closeAll := func() {
		connecting.Wait()
		for _, r := range runs {
			r.close()
		}
		if held != nil {
			held.Close(context.Background()) //nolint:errcheck // read only
		}
	}
	defer func() {
		if !handedOver {
			closeAll()
		}
	}()
	// The counters are read before the snapshot is taken: a change the
	// snapshot misses is counted after them (see ChangeTracker).
	var seen observation
	if opts.Changes != nil {
		var err error
		if seen, err = observe(ctx, src, tables); err != nil {
			return res, err
		}
		opts.Changes.begin(seen)
	}
	observed := time.Now()
	held, err := snapshot.Export(ctx, src)
	if err != nil {
		return res, fmt.Errorf("source: %w", err)
	}
	exported := time.Now()
	connecting.Wait()
	if err := errors.Join(connectErrs...); err != nil {
		return res, err
	}
	connected := time.Now()
	importErrs := make([]error, workers)
	var importing sync.WaitGroup
	for i, r := range runs {
		r.snapshot, r.seen = held.Name, seen
		importing.Add(1)
		go func() {
			defer importing.Done()
			importErrs[i] = r.importSnapshot(ctx)
		}()
	}
	importing.Wait()
	if err := errors.Join(importErrs...); err != nil {
		return res, err
	}
	if err := ensureCursorTable(ctx, runs[0].dst); err != nil {
		return res, err
	}
	opts.Log.Debug("xmin cycle set up", "counters", observed.Sub(began), "snapshot", exported.Sub(observed),
		"connections_after_snapshot", connected.Sub(exported), "import", time.Since(connected), "workers", workers)
	res.Xmin, res.Xmax = runs[0].xmin, runs[0].xmax
	if opts.ReplayDDL {
		if res.DDLReplayed, err = runs[0].replayDDL(ctx); err != nil {
			return res, err
		}
	}
	// Workers take tables in order; after an error no new table starts,
	// nor after the hand-over to the carryover.
	results := make([]TableResult, len(tables))
	errs := make([]error, len(tables))
	started := make([]bool, len(tables))
	var mu sync.Mutex // guards results, errs and handedOver after the workers start
	next := make(chan int)
	handOver := make(chan struct{})
	allDone := make(chan struct{})
	var failed atomic.Bool
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				tr, err := r.table(ctx, tables[i])
				if err != nil {
					failed.Store(true)
				}
				mu.Lock()
				if handedOver {
					carry.finished(tables[i].Key, tr, err)
				} else {
					results[i], errs[i] = tr, err
				}
				mu.Unlock()
			}
		}()
	}
	fed := make(chan struct{}) // closed when no further table is handed out
	go func() {
		defer close(allDone)
		func() {
			defer close(fed)
			for i := range tables {
				if failed.Load() {
					return
				}
				if i < workers { // every worker gets a table: each cycle makes progress
					started[i] = true
					next <- i
					continue
				}
				select {
				case next <- i:
					started[i] = true
				case <-handOver:
					return
				}
			}
		}()
		close(next)
		wg.Wait()
	}()
	var deadline <-chan time.Time
	if carry != nil && opts.WaitAtMost > 0 {
		t := time.NewTimer(max(0, opts.WaitAtMost-time.Since(began)))
		defer t.Stop()
		deadline = t.C
	}
	select {
	case <-allDone:
	case <-deadline:
		// The tables still running go on in the background; this cycle
		// reports the ones that finished.
		close(handOver)
		<-fed
		mu.Lock()
		handedOver = true
		// Free the finished tables and the ones never handed out (not
		// read: the next cycle starts them first, in its snapshot).
		var free, unstarted []Table
		for i, t := range tables {
			switch {
			case !started[i]:
				unstarted = append(unstarted, t)
			case results[i].Table != "" || errs[i] != nil:
				free = append(free, t)
			default:
				res.LeftRunning++
			}
		}
		carry.release(free)
		carry.postpone(unstarted)
		mu.Unlock()
		carry.wg.Add(1)
		go func() {
			defer carry.wg.Done()
			<-allDone
			closeAll()
		}()
	}
	mu.Lock()
	defer mu.Unlock()
	var firstErr error
	for i, t := range tables {
		if results[i].Table != "" {
			res.Tables = append(res.Tables, results[i])
		}
		switch err := errs[i]; {
		case err == nil:
		case errors.Is(err, ErrStopped):
			if firstErr == nil {
				firstErr = err
			}
		case firstErr == nil || errors.Is(firstErr, ErrStopped):
			firstErr = fmt.Errorf("xmin sync %s: %w", t.Key, err)
		}
	}
	return res, firstErr
}

// run is the connections and snapshot of one cycle.
type run struct {
	src      conninfo.Info
	snapshot string
	opts     Options
	// reader reads the source inside the snapshot; it is opened again
	// when an aborted COPY closed it.
	reader   *pgx.Conn
	readerTx pgx.Tx
	dst      *pgx.Conn
	// xmin and xmax bound the snapshot; now is the reader transaction's
	// reference point for age(xmin).
	xmin, xmax, now uint64
	// temp maps a table key to its staging table on the target session.
	temp map[string]string
	// seen is the activity counters read before the snapshot (when
	// opts.Changes is set).
	seen observation
}

func (r *run) close() {
	if r.reader != nil {
		r.reader.Close(context.Background())
	}
	if r.dst != nil {
		r.dst.Close(context.Background())
	}
}

// openTarget connects to the target, makes value text match the reader's
// and turns off triggers and foreign-key checks for the session (rows
// arrive table by table).
func (r *run) openTarget(ctx context.Context, info conninfo.Info) error {
	conn, err := conninfo.Connect(ctx, info)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	r.dst = conn
	if _, err := conn.Exec(ctx, compare.TextSession+"; SET statement_timeout = 0"); err != nil {
		return fmt.Errorf("target: session settings: %w", err)
	}
	if _, err := conn.Exec(ctx, "SET session_replication_role = replica"); err != nil {
		r.opts.Log.Warn("the target role cannot SET session_replication_role = replica (superuser needed): triggers fire and foreign keys are checked as rows arrive, so a child row synced before its parent fails the batch until the next cycle", "error", err)
	}
	return nil
}

// openReader opens a source connection inside the cycle's snapshot and
// reads the snapshot's bounds.
func (r *run) openReader(ctx context.Context) error {
	if err := r.connectReader(ctx); err != nil {
		return err
	}
	return r.importSnapshot(ctx)
}

// connectReader opens the source connection (closing an earlier one).
func (r *run) connectReader(ctx context.Context) error {
	if r.reader != nil {
		r.reader.Close(context.Background())
		r.reader = nil
	}
	conn, err := conninfo.Connect(ctx, r.src)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	r.reader = conn
	if _, err := conn.Exec(ctx, compare.TextSession+"; SET statement_timeout = 0"); err != nil {
		return fmt.Errorf("source: session settings: %w", err)
	}
	return nil
}

// importSnapshot begins the reader's transaction in the cycle's snapshot
// and reads the snapshot's bounds.
func (r *run) importSnapshot(ctx context.Context) error {
	conn := r.reader
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("source: begin: %w", err)
	}
	if err := snapshot.Import(ctx, tx, r.snapshot); err != nil {
		return fmt.Errorf("source: import the cycle's snapshot: %w", err)
	}
	r.readerTx = tx
	if r.xmin, r.xmax, err = snapshot.Bounds(ctx, tx); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	// Fix this transaction's reference point for age(xmin) (see xidWindow).
	var ageOf3 int32
	if err := tx.QueryRow(ctx, "SELECT age('3'::xid)").Scan(&ageOf3); err != nil {
		return fmt.Errorf("source: read the transaction's age reference: %w", err)
	}
	r.now = stableNow(ageOf3, r.xmax)
	return nil
}

// readerReady returns the source transaction, reopening it when a failed
// COPY closed its connection.
func (r *run) readerReady(ctx context.Context) (pgx.Tx, error) {
	if r.reader == nil || r.reader.IsClosed() {
		if err := r.openReader(ctx); err != nil {
			return nil, err
		}
	}
	return r.readerTx, nil
}

// stopped reports whether Options.Stop is closed.
func (r *run) stopped() bool {
	if r.opts.Stop == nil {
		return false
	}
	select {
	case <-r.opts.Stop:
		return true
	default:
		return false
	}
}

// table runs the cycle for one table.
func (r *run) table(ctx context.Context, t Table) (TableResult, error) {
	start := time.Now()
	res := TableResult{Table: t.Key}
	cur, err := r.cursor(ctx, t)
	if err != nil {
		return res, err
	}
	reconcile := r.reconcileDue(cur)
	if r.opts.Changes != nil && cur.CycleTarget == nil && !reconcile && r.opts.Changes.unchanged(r.seen, t.Key) {
		// Nothing was written since the table was last read: the cursor
		// stays where it is, so whatever the counters have not shown yet
		// is read once they do.
		res.Unchanged, res.Watermark, res.Duration = true, cur.Watermark, time.Since(start)
		return res, nil
	}
	from := cur.Watermark
	goal := r.xmin
	var resume []string
	if cur.CycleTarget != nil {
		// An earlier cycle stopped after some batches: finish it. Its goal
		// (its snapshot's xmin) is kept, so rows it already passed that
		// changed since are read by the next cycle.
		goal, resume = *cur.CycleTarget, cur.ResumeAfter
	}
	if _, err := r.readerReady(ctx); err != nil {
		return res, err
	}
	cond, full := xidWindow(from, r.xmax, r.now)
	if full {
		res.FullScan = true
		r.opts.Log.Warn("the cursor is more than 2^31 transactions old: reading every row of the table once", "table", t.Key)
	}
	if len(t.PrimaryKey) == 0 {
		res.Diffed, res.Upserted, res.Deleted, err = r.noKeyTable(ctx, t, cond, full, reconcile)
		if err != nil {
			return res, err
		}
		res.Reconciled = reconcile
	} else {
		n, err := r.changed(ctx, t, cond, full, goal, resume)
		res.Upserted += n
		switch {
		case errors.Is(err, errUniqueConflict):
			// A row deleted on the source still holds a unique value on
			// the target: find deletes now.
			r.opts.Log.Info("a unique constraint conflict on the target: reconciling the table now to apply deletes first", "table", t.Key)
			reconcile = true
		case err != nil:
			return res, err
		}
		if reconcile {
			up, del, err := r.reconcile(ctx, t)
			if err != nil {
				return res, err
			}
			res.Upserted += up
			res.Deleted += del
			res.Reconciled = true
		}
	}
	res.Duration = time.Since(start)
	res.Watermark = goal
	if err := r.finish(ctx, t, goal, res); err != nil {
		return res, err
	}
	if r.opts.Changes != nil {
		r.opts.Changes.read(r.seen, t.Key)
	}
	r.opts.Log.Debug("xmin table synced", "table", t.Key, "took", res.Duration, "upserted", res.Upserted, "deleted", res.Deleted,
		"diffed", res.Diffed, "reconciled", res.Reconciled)
	return res, nil
}

// reconcileDue reports whether a table's reconciliation is due.
func (r *run) reconcileDue(c Cursor) bool {
	switch {
	case r.opts.ReconcileAfter < 0:
		return false
	case r.opts.ReconcileAfter == 0 || c.LastReconcileAt == nil:
		return true
	default:
		return time.Since(*c.LastReconcileAt) >= r.opts.ReconcileAfter
	}
}

// cursor reads a table's cursor, creating it at Table.Start when missing.
func (r *run) cursor(ctx context.Context, t Table) (Cursor, error) {
	tx, err := r.dst.Begin(ctx)
	if err != nil {
		return Cursor{}, fmt.Errorf("target: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // no-op after commit
	cur, ok, err := loadCursor(ctx, tx, r.opts.Replication, t.Key)
	if err != nil {
		return cur, err
	}
	if !ok {
		if _, err := tx.Exec(ctx, "INSERT INTO "+cursorTable+" (replication, table_name, watermark, last_reconcile_at) VALUES ($1, $2, $3, now())",
			r.opts.Replication, t.Key, int64(t.Start)); err != nil {
			return cur, fmt.Errorf("create the xmin cursor of %s: %w", t.Key, err)
		}
		now := time.Now()
		// A fresh copy is a reconciliation: the next one is due an
		// interval from now.
		cur = Cursor{Replication: r.opts.Replication, Table: t.Key, Watermark: t.Start, LastReconcileAt: &now}
		if t.Start == 0 {
			cur.LastReconcileAt = nil
		}
	}
	return cur, tx.Commit(ctx)
}

// finish moves a table's cursor to goal and records the cycle.
func (r *run) finish(ctx context.Context, t Table, goal uint64, res TableResult) error {
	_, err := r.dst.Exec(ctx, `UPDATE `+cursorTable+` SET watermark = $3, cycle_target = NULL, resume_after = NULL,
		last_cycle_at = now(), last_cycle_seconds = $4, last_cycle_rows = $5,
		last_reconcile_at = CASE WHEN $6 THEN now() ELSE last_reconcile_at END,
		last_reconcile_deleted = CASE WHEN $6 THEN $7 ELSE last_reconcile_deleted END,
		rows_applied = rows_applied + $5
		WHERE replication = $1 AND table_name = $2`,
		r.opts.Replication, t.Key, int64(goal), res.Duration.Seconds(), res.Upserted+res.Deleted, res.Reconciled, res.Deleted)
	if err != nil {
		return fmt.Errorf("move the xmin cursor of %s: %w", t.Key, err)
	}
	return nil
}

// quoted returns quoted identifiers.
func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pgx.Identifier{n}.Sanitize()
	}
	return out
}

// columnNames returns the names of t's columns.
func (t Table) columnNames() []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Name
	}
	return out
}

// typeOf returns the type of column name ("text" when unknown).
func (t Table) typeOf(name string) string {
	for _, c := range t.Columns {
		if c.Name == name {
			return c.Type
		}
	}
	return "text"
}

// sqlName is the quoted table name.
func (t Table) sqlName() string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }
