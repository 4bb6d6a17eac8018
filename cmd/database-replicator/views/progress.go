package views

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/database-replicator/database-replicator/executor"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
)

// Progress shows an apply's progress: bars on a terminal (mpb: a bar
// per running table with rows, bytes, rate and ETA, and an overall bar),
// otherwise a log line every interval (start and finish of each change are
// logged by the executor).
type Progress struct {
	log      hclog.Logger
	interval time.Duration
	total    int

	mu      sync.Mutex
	done    int
	running map[string]*runningChange
	bars    *mpb.Progress
	overall *mpb.Bar

	stop chan struct{}
	wg   sync.WaitGroup
}

// runningChange is one change in progress.
type runningChange struct {
	change   *plans.Change
	counters *executor.Counters
	started  time.Time
	bar      *mpb.Bar
}

// NewProgress starts the view for a plan: bars on out when tty, otherwise
// a "progress" line on log every interval. With bars, it returns the
// writer logs must go to so that they print above the bars; Close stops it.
func NewProgress(p *plans.Plan, log hclog.Logger, tty bool, out io.Writer, interval time.Duration) (*Progress, io.Writer) {
	v := &Progress{log: log, interval: interval, running: map[string]*runningChange{}, stop: make(chan struct{})}
	for _, c := range p.Changes {
		if c.Action != plans.NoOp {
			v.total++
		}
	}
	var logOut io.Writer
	if tty {
		v.bars = mpb.New(mpb.WithOutput(out), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond), mpb.WithAutoRefresh())
		v.overall = v.bars.AddBar(int64(v.total),
			mpb.PrependDecorators(decor.Name("all changes ", decor.WCSyncSpaceR), decor.CountersNoUnit("%d / %d", decor.WCSyncSpace)),
			mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO, decor.WCSyncSpace)))
		logOut = v.bars
	}
	v.wg.Add(1)
	go v.loop()
	return v, logOut
}

// Event records an executor event (safe for concurrent use).
func (v *Progress) Event(e executor.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	key := e.Change.Addr.String()
	switch e.Type {
	case executor.EventStarted:
		r := &runningChange{change: e.Change, counters: e.Progress, started: e.Time}
		if v.bars != nil && e.Change.Addr.Kind == addrs.Table {
			size := planning.CopyBytes(e.Change)
			r.bar = v.bars.AddBar(max(size, 1),
				mpb.PrependDecorators(decor.Name(e.Change.Addr.Key, decor.WCSyncSpaceR),
					decor.Any(func(decor.Statistics) string {
						rows, _ := r.counters.Totals()
						return fmt.Sprintf("%d rows", rows)
					}, decor.WCSyncSpace)),
				mpb.AppendDecorators(decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WCSyncSpace),
					decor.EwmaSpeed(decor.SizeB1024(0), "% .1f", 30, decor.WCSyncSpace),
					decor.EwmaETA(decor.ET_STYLE_GO, 30, decor.WCSyncSpace)),
				mpb.BarRemoveOnComplete())
		}
		v.running[key] = r
	case executor.EventFinished, executor.EventFailed, executor.EventSkipped:
		if r := v.running[key]; r != nil && r.bar != nil {
			if e.Type == executor.EventFinished {
				r.bar.SetTotal(-1, true)
			} else {
				r.bar.Abort(true)
			}
		}
		delete(v.running, key)
		v.done++
		if v.overall != nil {
			v.overall.Increment()
		}
	}
}

// loop refreshes bars, or logs a progress line every interval.
func (v *Progress) loop() {
	defer v.wg.Done()
	tick := v.interval
	if v.bars != nil {
		tick = 200 * time.Millisecond
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-v.stop:
			return
		case <-t.C:
			v.refresh()
		}
	}
}

// refresh moves the bars, or writes one progress log line.
func (v *Progress) refresh() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.bars != nil {
		for _, r := range v.running {
			if r.bar == nil || r.counters == nil {
				continue
			}
			_, bytes := r.counters.Totals()
			if size := planning.CopyBytes(r.change); bytes >= size {
				r.bar.SetTotal(bytes+1, false)
			}
			r.bar.EwmaSetCurrent(bytes, 200*time.Millisecond)
		}
		return
	}
	keys := make([]string, 0, len(v.running))
	for k := range v.running {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	args := []any{"done", fmt.Sprintf("%d/%d", v.done, v.total)}
	for _, k := range keys {
		r := v.running[k]
		if r.counters == nil {
			continue
		}
		rows, bytes := r.counters.Totals()
		secs := max(time.Since(r.started).Seconds(), 0.001)
		args = append(args, k, fmt.Sprintf("%d rows, %s, %.1f MB/s", rows, lang.FormatBytes(bytes), float64(bytes)/secs/(1<<20)))
	}
	v.log.Info("progress", args...)
}

// Close stops the view and waits for the bars to finish drawing.
func (v *Progress) Close() {
	close(v.stop)
	v.wg.Wait()
	if v.bars != nil {
		v.mu.Lock()
		for _, r := range v.running {
			if r.bar != nil {
				r.bar.Abort(true)
			}
		}
		if !v.overall.Completed() {
			v.overall.Abort(false)
		}
		v.mu.Unlock()
		v.bars.Wait()
	}
}
