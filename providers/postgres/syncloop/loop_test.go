package syncloop

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/status"
	"github.com/database-replicator/database-replicator/providers/postgres/xminsync"
)

// fakeClock advances only when the loop sleeps; it records each sleep.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
	// cancel ends the loop's context when the loop has slept until stopAt.
	stopAt time.Time
	cancel context.CancelFunc
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) bool {
	c.sleeps = append(c.sleeps, d)
	if d > 0 {
		c.now = c.now.Add(d)
	}
	if !c.stopAt.IsZero() && !c.now.Before(c.stopAt) {
		c.cancel()
	}
	return ctx.Err() == nil
}

// run is one call of the runner.
type run struct {
	at        time.Duration // since the start
	job       string
	reconcile time.Duration
	once      bool
}

// recorder is the report and the runner of a test loop.
type recorder struct {
	start   time.Time
	clock   *fakeClock
	runs    []run
	ticks   []time.Duration
	stopped []bool
	// fail makes the runner fail on these calls (1-based).
	fail map[int]error
	// took is how long each run takes on the clock.
	took time.Duration
}

func (r *recorder) XminCycle(CycleReport) {}
func (r *recorder) Lag(status.Row)        {}
func (r *recorder) Stopped(saved bool)    { r.stopped = append(r.stopped, saved) }

func (r *recorder) options(once bool) Options {
	return Options{
		Once:        once,
		StatusEvery: 10 * time.Second,
		Report:      r,
		Clock:       r.clock,
		RunJob: func(_ context.Context, _ <-chan struct{}, j *Job, c Cycle) error {
			r.runs = append(r.runs, run{r.clock.now.Sub(r.start), j.Replication.Name, c.ReconcileAfter, c.Once})
			r.clock.now = r.clock.now.Add(r.took)
			return r.fail[len(r.runs)]
		},
		Tick: func(context.Context, []*Job) { r.ticks = append(r.ticks, r.clock.now.Sub(r.start)) },
	}
}

func newRecorder(stopAfter time.Duration) (*recorder, context.Context) {
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &fakeClock{now: start, cancel: cancel}
	if stopAfter > 0 {
		c.stopAt = start.Add(stopAfter)
	}
	return &recorder{start: start, clock: c, fail: map[int]error{}}, ctx
}

func job(name string, method lang.SyncMethod, interval, reconcile time.Duration) *Job {
	return &Job{Replication: &lang.Replication{Name: name}, Method: method, Interval: interval, ReconcileEvery: reconcile}
}

func TestScheduleIntervals(t *testing.T) {
	r, ctx := newRecorder(65 * time.Second)
	jobs := []*Job{job("fast", lang.SyncXmin, 15*time.Second, time.Hour), job("slow", lang.SyncLogical, 40*time.Second, -1)}
	if err := Run(ctx, jobs, r.options(false)); err != nil {
		t.Fatal(err)
	}
	var fast, slow []time.Duration
	for _, x := range r.runs {
		if x.job == "fast" {
			fast = append(fast, x.at)
			if x.reconcile != time.Hour || x.once {
				t.Errorf("fast run %+v: want the job's reconcile interval", x)
			}
		} else {
			slow = append(slow, x.at)
			if x.reconcile != -1 {
				t.Errorf("slow run %+v: reconciliation is off", x)
			}
		}
	}
	if want := "[0s 15s 30s 45s 1m0s]"; fmt.Sprint(fast) != want {
		t.Errorf("fast ran at %v, want %s", fast, want)
	}
	if want := "[0s 40s]"; fmt.Sprint(slow) != want {
		t.Errorf("slow ran at %v, want %s", slow, want)
	}
	if want := "[0s 10s 20s 30s 40s 50s 1m0s]"; fmt.Sprint(r.ticks) != want {
		t.Errorf("lag ticks at %v, want every 10s: %s", r.ticks, want)
	}
	if fmt.Sprint(r.stopped) != "[false]" {
		t.Errorf("stopped %v, want one plain stop", r.stopped)
	}
}

// The interval counts from each cycle's start, so the time a cycle takes
// is not added to it; a cycle longer than the interval is followed at once.
func TestIntervalCountsFromTheCycleStart(t *testing.T) {
	for _, c := range []struct {
		took time.Duration
		want string
	}{
		{4 * time.Second, "[0s 15s 30s 45s]"},
		{20 * time.Second, "[0s 20s 40s]"},
	} {
		r, ctx := newRecorder(55 * time.Second)
		r.took = c.took
		if err := Run(ctx, []*Job{job("a", lang.SyncXmin, 15*time.Second, time.Hour)}, r.options(false)); err != nil {
			t.Fatal(err)
		}
		var at []time.Duration
		for _, x := range r.runs {
			at = append(at, x.at)
		}
		if fmt.Sprint(at) != c.want {
			t.Errorf("cycles taking %s ran at %v, want %s", c.took, at, c.want)
		}
	}
}

func TestOnceRunsEachJobOnceAndReconcilesNow(t *testing.T) {
	r, ctx := newRecorder(0)
	jobs := []*Job{job("a", lang.SyncXmin, time.Minute, time.Hour), job("b", lang.SyncXmin, time.Minute, -1), job("c", lang.SyncLogical, time.Minute, time.Hour)}
	if err := Run(ctx, jobs, r.options(true)); err != nil {
		t.Fatal(err)
	}
	want := []run{{0, "a", 0, true}, {0, "b", -1, true}, {0, "c", 0, true}}
	if fmt.Sprint(r.runs) != fmt.Sprint(want) {
		t.Errorf("runs %v, want %v (once reconciles now unless off)", r.runs, want)
	}
	if len(r.ticks) != 1 || len(r.clock.sleeps) != 0 {
		t.Errorf("ticks %v sleeps %v, want one tick and no sleep", r.ticks, r.clock.sleeps)
	}
}

func TestOnceReturnsTheError(t *testing.T) {
	r, ctx := newRecorder(0)
	boom := errors.New("boom")
	r.fail[1] = boom
	jobs := []*Job{job("a", lang.SyncXmin, time.Minute, time.Hour), job("b", lang.SyncXmin, time.Minute, time.Hour)}
	if err := Run(ctx, jobs, r.options(true)); !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	if len(r.runs) != 1 {
		t.Errorf("runs %v: a failure ends the round", r.runs)
	}
}

func TestBackoffDoublesToAMinuteAndResets(t *testing.T) {
	r, ctx := newRecorder(0)
	for i := 1; i <= 9; i++ {
		r.fail[i] = fmt.Errorf("failure %d", i)
	}
	// Call 10 succeeds, 11 fails again: the backoff starts over.
	r.fail[11] = errors.New("again")
	jobs := []*Job{job("a", lang.SyncXmin, 5*time.Minute, -1)}
	o := r.options(false)
	o.StatusEvery = time.Hour
	r.clock.stopAt = r.start.Add(24 * time.Hour)
	stopAfter := 13
	o.RunJob = func(_ context.Context, _ <-chan struct{}, j *Job, c Cycle) error {
		r.runs = append(r.runs, run{r.clock.now.Sub(r.start), j.Replication.Name, c.ReconcileAfter, c.Once})
		if len(r.runs) == stopAfter {
			r.clock.cancel()
			return xminsync.ErrStopped
		}
		return r.fail[len(r.runs)]
	}
	if err := Run(ctx, jobs, o); err != nil {
		t.Fatal(err)
	}
	want := "[1s 2s 4s 8s 16s 32s 1m0s 1m0s 1m0s 5m0s 1s 5m0s]"
	if fmt.Sprint(r.clock.sleeps) != want {
		t.Errorf("sleeps %v, want %s", r.clock.sleeps, want)
	}
	if fmt.Sprint(r.stopped) != "[true]" {
		t.Errorf("stopped %v: an interrupted batch says the cursors are saved", r.stopped)
	}
}

func TestCycleFor(t *testing.T) {
	for _, tc := range []struct {
		every time.Duration
		once  bool
		want  time.Duration
	}{{time.Hour, false, time.Hour}, {time.Hour, true, 0}, {-1, true, -1}, {-1, false, -1}, {0, false, 0}} {
		if got := CycleFor(&Job{ReconcileEvery: tc.every}, tc.once); got.ReconcileAfter != tc.want || got.Once != tc.once {
			t.Errorf("CycleFor(%s, once=%v) = %+v, want reconcile after %s", tc.every, tc.once, got, tc.want)
		}
	}
}

// A cycle that asks for an earlier recheck (a schema repair postponed for
// captured DDL in flight) brings the next one forward, once.
func TestRecheckBringsTheNextCycleForward(t *testing.T) {
	r, ctx := newRecorder(30 * time.Second)
	o := r.options(false)
	runJob := o.RunJob
	o.RunJob = func(ctx context.Context, stop <-chan struct{}, j *Job, c Cycle) error {
		if len(r.runs) == 0 {
			j.recheckIn = 5 * time.Second
		}
		return runJob(ctx, stop, j, c)
	}
	if err := Run(ctx, []*Job{job("a", lang.SyncLogical, 20*time.Second, -1)}, o); err != nil {
		t.Fatal(err)
	}
	var at []time.Duration
	for _, x := range r.runs {
		at = append(at, x.at)
	}
	if want := "[0s 5s 25s]"; fmt.Sprint(at) != want {
		t.Errorf("ran at %v, want %s", at, want)
	}
}
