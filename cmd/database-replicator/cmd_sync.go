package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/datacopy"
	"github.com/database-replicator/database-replicator/providers/postgres/xminsync"
	"github.com/database-replicator/database-replicator/state"
)

// syncCmd applies the sync part of the plan (subscriptions) and runs the
// continuous-sync loop: xmin cycles, sequence syncs, lag reports.
type syncCmd struct {
	Once              bool          `help:"Run one full cycle (xmin: changed rows, reconciliation unless --no-reconcile, sequences; logical: sequences and a status line) and exit."`
	SyncInterval      time.Duration `help:"Time between xmin cycles and sequence syncs (default: the configuration's sync.interval)." placeholder:"DURATION"`
	ReconcileInterval time.Duration `help:"Time between reconciliations that find rows deleted on the source (xmin; default: sync.reconcile_interval)." placeholder:"DURATION"`
	NoReconcile       bool          `help:"Never reconcile (xmin): deleted rows stay on the target."`
	Daemon            bool          `help:"Run in the background: log in ~/.database-replicator/sync.log, pid in ~/.database-replicator/sync.pid." xor:"daemon"`
	DaemonStatus      bool          `help:"Report whether a background sync runs (exit 1 when none)." xor:"daemon"`
	Stop              bool          `help:"Stop the background sync: it finishes the batch it is applying and exits." xor:"daemon"`
	MetricsAddr       string        `help:"Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9187)." placeholder:"ADDR"`
	connectionFlags
}

// Run implements the command.
func (c *syncCmd) Run(a *app) error {
	switch {
	case c.DaemonStatus:
		return a.daemonStatus()
	case c.Stop:
		return a.daemonStop()
	case c.Daemon:
		return a.daemonStart()
	}
	cfg, err := a.loadConfigOrFlags(&c.connectionFlags)
	if err != nil {
		return err
	}
	jobs, err := a.prepareSync(cfg)
	if err != nil {
		return err
	}
	opts := loopOptions{once: c.Once}
	for _, j := range jobs {
		j.interval = firstNonZero(c.SyncInterval, j.r.Sync.Interval, lang.DefaultSyncInterval)
		// The configuration holds the default when it says nothing;
		// reconcile_interval = "off" is zero.
		j.reconcileEvery = firstNonZero(c.ReconcileInterval, j.r.Sync.ReconcileInterval, -1)
		if c.NoReconcile {
			j.reconcileEvery = -1
		}
	}
	m := newSyncMetrics()
	if c.MetricsAddr != "" {
		addr, err := m.serve(a.ctx, c.MetricsAddr)
		if err != nil {
			return err
		}
		a.log.Info("serving Prometheus metrics", "url", "http://"+addr+"/metrics")
	}
	return a.syncLoop(cfg, jobs, opts, m)
}

func firstNonZero(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d != 0 {
			return d
		}
	}
	return 0
}

// syncJob is the continuous sync of one replication.
type syncJob struct {
	r      *lang.Replication
	method lang.SyncMethod
	src    conninfo.Info
	dst    conninfo.Info
	// dbs are the databases in scope with their xmin tables.
	dbs            []syncDB
	interval       time.Duration
	reconcileEvery time.Duration
	// next is when the job's next cycle (xmin) or sequence sync is due.
	next time.Time
}

// syncDB is one database of a sync job.
type syncDB struct {
	name   string
	tables []xminsync.Table
}

// prepareSync makes sure the snapshot is in place, creates or repairs the
// subscriptions the plan asks for, and describes each replication's loop.
func (a *app) prepareSync(cfg *lang.Config) ([]*syncJob, error) {
	backend, unlock, err := a.lockState(cfg, "sync")
	if err != nil {
		return nil, err
	}
	defer unlock()
	plan, diags, err := a.makePlan(cfg, backend, nil)
	if err != nil {
		return nil, err
	}
	var blocking []string
	syncPart := 0
	for _, ch := range plan.Changes {
		switch {
		case ch.Action == plans.NoOp:
		case ch.Addr.Kind == addrs.Subscription:
			syncPart++
		default:
			blocking = append(blocking, fmt.Sprintf("%s (%s)", ch.Addr, ch.Action))
		}
	}
	if diags.HasErrors() || len(blocking) > 0 {
		if err := a.renderPlan(plan, false, false); err != nil {
			return nil, err
		}
		if diags.HasErrors() {
			return nil, &exitError{code: 1, err: fmt.Errorf("sync: %d error(s) above must be fixed first; nothing was changed", countErrors(diags))}
		}
		return nil, &exitError{code: 1, err: fmt.Errorf("sync: the snapshot is not complete: %d change(s) besides subscriptions are pending (%s). Run `database-replicator apply` (or `init`) first; sync only creates or repairs subscriptions and runs the sync loop", len(blocking), strings.Join(firstN(blocking, 3), ", "))}
	}
	if syncPart > 0 {
		if err := a.renderPlan(plan, false, false); err != nil {
			return nil, err
		}
		if err := a.execute(cfg, backend, plan, 0); err != nil {
			return nil, err
		}
	}
	st, servers, err := a.stateAndServers(cfg, backend)
	if err != nil {
		return nil, err
	}
	var jobs []*syncJob
	for _, r := range cfg.Replications {
		src := servers["source."+r.Source]
		method, why := planner.ResolveMethod(r, src)
		fmt.Fprintf(a.io.stdout, "replication.%s: %s sync — %s\n", r.Name, method, why)
		if method == lang.SyncNone {
			continue
		}
		if method == lang.SyncStream {
			return nil, fmt.Errorf("replication.%s: sync.method = \"stream\" is not available in this version: use \"logical\" (the target must reach the source) or \"xmin\"", r.Name)
		}
		si, err := conninfo.ParseURL(cfg.Sources[r.Source].URL)
		if err != nil {
			return nil, fmt.Errorf("source.%s: %w", r.Source, err)
		}
		di, err := conninfo.ParseURL(cfg.Targets[r.Target].URL)
		if err != nil {
			return nil, fmt.Errorf("target.%s: %w", r.Target, err)
		}
		scope, sd := planner.ResolveScope(r, src, "source."+r.Source)
		if sd.HasErrors() {
			return nil, fmt.Errorf("replication.%s: %s", r.Name, sd[0].Detail)
		}
		job := &syncJob{r: r, method: method, src: si, dst: di}
		for _, ds := range scope.Databases {
			db := syncDB{name: ds.Name}
			if method == lang.SyncXmin {
				db.tables = xminTables(st, r.Name, ds, a)
			}
			job.dbs = append(job.dbs, db)
		}
		jobs = append(jobs, job)
	}
	if len(jobs) == 0 {
		return nil, errors.New("sync: no replication has a sync method (sync.method = \"none\" everywhere)")
	}
	return jobs, nil
}

// xminTables describes the tables of one database for the xmin engine,
// starting each at the watermark its copy recorded in state.
func xminTables(st *state.State, replication string, ds *planner.DatabaseScope, a *app) []xminsync.Table {
	var out []xminsync.Table
	for _, ts := range ds.Tables {
		if ts.SchemaOnly {
			continue
		}
		key := ts.Ref.Schema + "." + ts.Ref.Table
		var start uint64
		if res := st.Resource(addrs.New(replication, addrs.Xmin, ts.Ref.String()).String()); res != nil {
			start, _ = res.Uint("xmin_watermark")
		}
		if start == 0 {
			a.log.Warn("no xmin watermark in state for this table: its first cycle reads every row once", "table", ts.Ref.String())
		}
		if len(ts.Source.PrimaryKey) == 0 {
			a.log.Warn("table without primary key: any change copies it again (truncate and copy in one transaction)", "table", ts.Ref.String())
		}
		out = append(out, xminsync.FromCatalog(key, ts.Source, ts.Filter, start))
	}
	return out
}

// firstN returns the first n items of s.
func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// loopOptions are the command-line choices of the loop.
type loopOptions struct {
	once bool
}

// stopGrace is how long the loop may take to finish its batch after
// SIGTERM before its I/O is cancelled.
const stopGrace = 30 * time.Second

// syncLoop runs the jobs until interrupted (or once). Errors are logged
// and retried with backoff; SIGTERM or Ctrl-C end the loop after the
// current batch, with exit 0.
func (a *app) syncLoop(cfg *lang.Config, jobs []*syncJob, opts loopOptions, m *syncMetrics) error {
	ioCtx, cancelIO := context.WithCancel(context.WithoutCancel(a.ctx))
	defer cancelIO()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-a.ctx.Done():
			a.log.Info("stopping: finishing the current batch")
			select {
			case <-time.After(stopGrace):
				cancelIO()
			case <-finished:
			}
		case <-finished:
		}
	}()
	backoff := time.Second
	statusEvery := min(a.progressEvery, 10*time.Second)
	nextStatus := time.Now()
	for {
		now := time.Now()
		if opts.once || !now.Before(nextStatus) {
			a.logicalTick(ioCtx, cfg, jobs, m)
		}
		var err error
		for _, j := range jobs {
			if opts.once || !now.Before(j.next) {
				if err = a.runJob(ioCtx, j, opts, m); err != nil {
					break
				}
				j.next = time.Now().Add(j.interval)
			}
		}
		if !now.Before(nextStatus) {
			nextStatus = now.Add(statusEvery)
		}
		switch {
		case errors.Is(err, xminsync.ErrStopped) || a.ctx.Err() != nil:
			fmt.Fprintln(a.io.stdout, "Sync stopped; cursors are saved: the next sync resumes where this one stopped.")
			return nil
		case err != nil && opts.once:
			return err
		case err != nil:
			m.errors.WithLabelValues().Inc()
			a.log.Error("sync failed; retrying", "error", err, "retry_in", backoff.String())
			if !a.sleep(backoff) {
				return nil
			}
			backoff = min(backoff*2, time.Minute)
			continue
		case opts.once:
			return nil
		}
		backoff = time.Second
		wake := nextStatus
		for _, j := range jobs {
			if j.next.Before(wake) {
				wake = j.next
			}
		}
		if !a.sleep(time.Until(wake)) {
			fmt.Fprintln(a.io.stdout, "Sync stopped.")
			return nil
		}
	}
}

// sleep waits d or until interrupted; false when interrupted.
func (a *app) sleep(d time.Duration) bool {
	if d <= 0 {
		return a.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-a.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// runJob runs one cycle of a job: xmin cycles per database, then the
// sequences; for logical replication only the sequences.
func (a *app) runJob(ctx context.Context, j *syncJob, opts loopOptions, m *syncMetrics) error {
	for _, db := range j.dbs {
		if j.method == lang.SyncXmin {
			reconcile := j.reconcileEvery
			if opts.once && reconcile >= 0 {
				reconcile = 0 // one full cycle, unless reconciliation is off
			}
			start := time.Now()
			res, err := xminsync.Cycle(ctx, j.src.WithDatabase(db.name), j.dst.WithDatabase(db.name), db.tables, xminsync.Options{
				Replication:    j.r.Name,
				BatchSize:      j.r.Sync.BatchSize,
				Parallel:       j.r.Snapshot.Jobs,
				ReconcileAfter: reconcile,
				Log:            a.log.With("replication", j.r.Name, "database", db.name),
				Stop:           a.ctx.Done(),
				OnRows: func(table string, up, del int64) {
					m.rows.WithLabelValues(j.r.Name, db.name, table, "upsert").Add(float64(up))
					m.rows.WithLabelValues(j.r.Name, db.name, table, "delete").Add(float64(del))
				},
			})
			if err != nil {
				return fmt.Errorf("replication.%s database %q: %w", j.r.Name, db.name, err)
			}
			m.cycle.WithLabelValues(j.r.Name, db.name).Observe(time.Since(start).Seconds())
			m.lastCycle.WithLabelValues(j.r.Name, db.name).SetToCurrentTime()
			up, del := res.Rows()
			var notes []string
			for _, t := range res.Tables {
				if t.Recopied {
					notes = append(notes, t.Table+" copied again")
				}
				if t.FullScan {
					notes = append(notes, t.Table+" read in full")
				}
			}
			reconciled := ""
			if len(res.Tables) > 0 && res.Tables[0].Reconciled {
				reconciled = ", reconciled"
			}
			line := fmt.Sprintf("xmin cycle replication.%s %q: %d upserted, %d deleted, %d table(s) in %s%s",
				j.r.Name, db.name, up, del, len(res.Tables), time.Since(start).Round(time.Millisecond), reconciled)
			if len(notes) > 0 {
				line += " (" + strings.Join(notes, "; ") + ")"
			}
			fmt.Fprintln(a.io.stdout, line)
		}
		n, err := datacopy.SyncSequences(ctx, j.src.WithDatabase(db.name), j.dst.WithDatabase(db.name), nil)
		if err != nil {
			return fmt.Errorf("replication.%s database %q: sequences: %w", j.r.Name, db.name, err)
		}
		if j.method == lang.SyncLogical || opts.once {
			a.log.Info("sequences synced", "replication", j.r.Name, "database", db.name, "sequences", n)
		}
	}
	return nil
}

// logicalTick reports the lag of the logical replications among jobs and
// feeds the metrics: one status collection serves them all.
func (a *app) logicalTick(ctx context.Context, cfg *lang.Config, jobs []*syncJob, m *syncMetrics) {
	logical := map[string]bool{}
	for _, j := range jobs {
		if j.method == lang.SyncLogical {
			logical[j.r.Name] = true
		}
	}
	if len(logical) == 0 {
		return
	}
	rows, err := a.collectStatusCtx(ctx, cfg)
	if err != nil {
		m.errors.WithLabelValues().Inc()
		a.log.Error("status", "error", err)
		return
	}
	for _, r := range rows {
		if !logical[r.Replication] {
			continue
		}
		m.lagBytes.WithLabelValues(r.Replication, r.Database).Set(float64(r.LagBytes))
		m.lagSeconds.WithLabelValues(r.Replication, r.Database).Set(r.LagSeconds)
		m.streaming.WithLabelValues(r.Replication, r.Database).Set(map[bool]float64{true: 1}[r.State == "streaming"])
		fmt.Fprintf(a.io.stdout, "logical replication.%s %q: %s, lag %s / %.1fs\n", r.Replication, r.Database, r.State, humanSize(r.LagBytes), r.LagSeconds)
	}
}
