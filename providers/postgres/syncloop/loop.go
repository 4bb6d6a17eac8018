// Package syncloop keeps targets in sync after the snapshot: it runs each
// replication's job on its interval (xmin cycles with reconciliation every
// ReconcileEvery, sequence syncs), reports the lag of logical replications
// on a status tick that reads only server-level rows (status.ReadLag), and
// retries failures with a backoff from MinBackoff doubling to MaxBackoff.
// An interrupt (the context given to Run) ends the loop after the batch in
// progress; its I/O is cancelled only StopGrace later.
//
// The runner of a job and the clock are injectable (Options.RunJob,
// Options.Tick, Options.Clock) so that the scheduling is tested without a
// database; the real runner is RunCycle.
package syncloop

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/status"
	"github.com/database-replicator/database-replicator/providers/postgres/xminsync"
)

// Backoff bounds: a failure is retried after MinBackoff, doubling up to
// MaxBackoff; a successful round resets it.
const (
	MinBackoff = time.Second
	MaxBackoff = time.Minute
)

// DefaultStopGrace is how long the loop may take to finish its batch after
// an interrupt before its I/O is cancelled.
const DefaultStopGrace = 30 * time.Second

// DefaultStatusEvery is the longest interval between lag reports.
const DefaultStatusEvery = 10 * time.Second

// Job is the continuous sync of one replication.
type Job struct {
	// Replication is the configuration block.
	Replication *lang.Replication
	// Method is the decided sync method: xmin, logical or stream.
	Method lang.SyncMethod
	// Source and Target are the servers.
	Source, Target conninfo.Info
	// Databases are the databases in scope, with their xmin tables.
	Databases []Database
	// Interval is the time from the start of one of the job's cycles to
	// the start of the next (at once when a cycle takes longer).
	Interval time.Duration
	// ReconcileEvery is the time between reconciliations (xmin), < 0 for
	// never.
	ReconcileEvery time.Duration

	// next is when the job's next cycle is due.
	next time.Time
	// recheckIn, set by a cycle, brings the next one forward to that
	// long after it (a schema repair postponed for captured DDL in
	// flight); 0 keeps Interval.
	recheckIn time.Duration
	// streams are the stream engine's running appliers by database.
	streams map[string]*streamer
}

// Database is one database of a job.
type Database struct {
	// Name is the database name.
	Name string
	// Tables are the xmin engine's tables (none for logical).
	Tables []xminsync.Table
	// Changes lets the database's xmin cycles skip unchanged tables; nil
	// reads every table every cycle.
	Changes *xminsync.ChangeTracker
	// Carryover lets a cycle return after the job's interval while the
	// database's slowest tables go on (xminsync.Carryover); nil waits for
	// every table.
	Carryover *xminsync.Carryover
	// DDLFailuresSeen is the highest sequence number of a failed captured
	// DDL statement already logged (policy.capture_ddl).
	DDLFailuresSeen int64
}

// Cycle is what one run of a job is asked to do.
type Cycle struct {
	// ReconcileAfter is xminsync.Options.ReconcileAfter: reconcile when
	// the last reconciliation is older (0: now; < 0: never).
	ReconcileAfter time.Duration
	// Once is true for the single cycle of `sync --once`.
	Once bool
}

// CycleFor is the cycle a job runs: its reconcile interval, except that
// --once reconciles now unless reconciliation is off.
func CycleFor(j *Job, once bool) Cycle {
	c := Cycle{ReconcileAfter: j.ReconcileEvery, Once: once}
	if once && c.ReconcileAfter >= 0 {
		c.ReconcileAfter = 0
	}
	return c
}

// CycleReport is one database's xmin cycle, for the user.
type CycleReport struct {
	Replication, Database string
	Upserted, Deleted     int64
	// Tables is how many tables the cycle went through.
	Tables int
	// Took is the cycle's duration.
	Took time.Duration
	// Reconciled is true when the cycle reconciled deletes.
	Reconciled bool
	// Notes name tables copied again or read in full.
	Notes []string
}

// Reporter receives what the loop tells the user.
type Reporter interface {
	// XminCycle reports one database's xmin cycle.
	XminCycle(CycleReport)
	// Lag reports one logical database's state and lag.
	Lag(status.Row)
	// Stopped reports the end of the loop on an interrupt; cursorsSaved
	// is true when a batch was in progress and stopped cleanly.
	Stopped(cursorsSaved bool)
}

// Clock is the loop's time source.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// Sleep waits d, or until ctx ends; false when ctx ended.
	Sleep(ctx context.Context, d time.Duration) bool
}

// Options configure Run.
type Options struct {
	// Once runs every job once (and one lag report) and returns.
	Once bool
	// StatusEvery is the interval of lag reports (DefaultStatusEvery
	// when zero).
	StatusEvery time.Duration
	// StopGrace is DefaultStopGrace when zero.
	StopGrace time.Duration
	// Log receives progress and errors; nil discards them.
	Log hclog.Logger
	// Report receives what the user sees; required.
	Report Reporter
	// Metrics are updated as the loop runs; nil keeps them private.
	Metrics *Metrics
	// Clock is the real clock when nil.
	Clock Clock
	// RunJob runs one cycle of one job; nil runs RunCycle. stop closes on
	// an interrupt: the runner should finish its batch and return
	// xminsync.ErrStopped.
	RunJob func(ctx context.Context, stop <-chan struct{}, j *Job, c Cycle) error
	// Tick reports the lag of the logical jobs; nil runs LagTick.
	Tick func(ctx context.Context, jobs []*Job)
}

func (o Options) withDefaults() Options {
	if o.StatusEvery <= 0 {
		o.StatusEvery = DefaultStatusEvery
	}
	if o.StopGrace <= 0 {
		o.StopGrace = DefaultStopGrace
	}
	if o.Log == nil {
		o.Log = hclog.NewNullLogger()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.RunJob == nil {
		runOpts := o
		o.RunJob = func(ctx context.Context, stop <-chan struct{}, j *Job, c Cycle) error {
			return RunCycle(ctx, stop, j, c, runOpts)
		}
	}
	if o.Tick == nil {
		tickOpts := o
		o.Tick = func(ctx context.Context, jobs []*Job) { LagTick(ctx, jobs, tickOpts) }
	}
	return o
}

// Run runs the jobs until ctx ends (or once). Errors are logged and
// retried with backoff; an interrupt ends the loop after the current
// batch, without error. With Once, the first error is returned.
func Run(ctx context.Context, jobs []*Job, o Options) error {
	o = o.withDefaults()
	ioCtx, cancelIO := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelIO()
	finished := make(chan struct{})
	defer close(finished)
	// Tables that cycles left running finish their batch first (an
	// interrupt stops them after it, like the cycle itself).
	defer waitCarryovers(jobs)
	go func() {
		select {
		case <-ctx.Done():
			o.Log.Info("stopping: finishing the current batch")
			select {
			case <-time.After(o.StopGrace):
				cancelIO()
			case <-finished:
			}
		case <-finished:
		}
	}()
	backoff := MinBackoff
	nextStatus := o.Clock.Now()
	for {
		now := o.Clock.Now()
		if o.Once || !now.Before(nextStatus) {
			o.Tick(ioCtx, jobs)
		}
		var err error
		for _, j := range jobs {
			if o.Once || !now.Before(j.next) {
				started := o.Clock.Now()
				if err = o.RunJob(ioCtx, ctx.Done(), j, CycleFor(j, o.Once)); err != nil {
					break
				}
				// The interval counts from the cycle's start: a cycle that
				// takes longer than it is followed at once by the next.
				j.next = started.Add(j.Interval)
				if j.recheckIn > 0 && j.recheckIn < j.Interval {
					j.next = o.Clock.Now().Add(j.recheckIn)
				}
				j.recheckIn = 0
			}
		}
		if !now.Before(nextStatus) {
			nextStatus = now.Add(o.StatusEvery)
		}
		switch {
		case errors.Is(err, xminsync.ErrStopped) || ctx.Err() != nil:
			o.Report.Stopped(true)
			return nil
		case err != nil && (o.Once || errors.As(err, new(*StopError))):
			// A StopError (schema drift under on_schema_drift = "fail")
			// is not retried.
			return err
		case err != nil:
			o.Metrics.errors.WithLabelValues().Inc()
			o.Log.Error("sync failed; retrying", "error", err, "retry_in", backoff.String())
			if !o.Clock.Sleep(ctx, backoff) {
				return nil
			}
			backoff = min(backoff*2, MaxBackoff)
			continue
		case o.Once:
			return nil
		}
		backoff = MinBackoff
		wake := nextStatus
		for _, j := range jobs {
			if j.next.Before(wake) {
				wake = j.next
			}
		}
		if !o.Clock.Sleep(ctx, wake.Sub(o.Clock.Now())) {
			o.Report.Stopped(false)
			return nil
		}
	}
}

// waitCarryovers waits for the xmin tables the jobs' cycles left running.
func waitCarryovers(jobs []*Job) {
	for _, j := range jobs {
		for _, db := range j.Databases {
			if db.Carryover != nil {
				db.Carryover.Wait()
			}
		}
	}
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
