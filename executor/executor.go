// Package executor applies a plan: it walks the plan's changes as a DAG
// built from their DependsOn lists, runs them through a Provider with
// bounded parallelism (overall and per resource kind), and checkpoints the
// state after every change so that an apply interrupted at any moment is
// resumed by the next plan. It knows no SQL: every change is performed by
// the Provider.
//
// A change is recorded in progress, and written, before the provider
// starts it. Its done record is written by the next state write, which is
// usually the next change's in-progress record (so a change costs one
// state write, not two), or at once when no other write is coming;
// changes that depend on it start only after that write. A crash in
// between leaves the change recorded in progress, and the next plan redoes
// it, as it does for a crash during the change.
//
// Failure handling follows Terraform: a failed change is recorded as
// failed, the changes downstream of it are skipped (never started) and
// independent branches continue. Cancelling the context stops new work,
// cancels the running changes through their context and leaves them
// recorded as in progress.
package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/state"
)

// DefaultWriteTimeout bounds one state write when Options.WriteTimeout is
// zero.
const DefaultWriteTimeout = 30 * time.Second

// Provider performs changes. The executor knows no SQL: it calls this.
type Provider interface {
	// Apply performs one change (create, update, replace or delete) and
	// returns the attributes to record in state (nil for a delete), of
	// the change's kind. It
	// must return promptly once ctx is cancelled. When it fails, non-nil
	// attributes are recorded with the failed status instead of the
	// planned ones, so a provider can record what it did manage to do.
	// Apply is called concurrently for independent changes.
	Apply(ctx context.Context, c *plans.Change, progress Progress) (plans.Attrs, error)
}

// Progress receives copy progress from a Provider. The executor
// aggregates it per change; both methods are safe for concurrent use.
type Progress interface {
	// Rows adds n rows to the change's row count.
	Rows(n int64)
	// Bytes adds n bytes to the change's byte count.
	Bytes(n int64)
}

// Counters is the Progress the executor hands to the provider for one
// change. Progress UIs may read it at any time through Totals.
type Counters struct {
	rows, bytes atomic.Int64
}

var _ Progress = (*Counters)(nil)

// Rows implements Progress.
func (c *Counters) Rows(n int64) { c.rows.Add(n) }

// Bytes implements Progress.
func (c *Counters) Bytes(n int64) { c.bytes.Add(n) }

// Totals returns the rows and bytes reported so far.
func (c *Counters) Totals() (rows, bytes int64) { return c.rows.Load(), c.bytes.Load() }

// EventType says what happened to a change.
type EventType string

// Event types, with stable strings.
const (
	// EventStarted: the change was recorded in progress and handed to the
	// provider.
	EventStarted EventType = "started"
	// EventFinished: the provider succeeded and the state records it.
	EventFinished EventType = "finished"
	// EventFailed: the provider (or the state write) failed, or the change
	// was interrupted by cancellation.
	EventFailed EventType = "failed"
	// EventSkipped: the change was not started, because something it
	// depends on failed or the run was stopped.
	EventSkipped EventType = "skipped"
)

// Event reports the progress of one change to a progress UI.
type Event struct {
	Type   EventType
	Change *plans.Change
	// Time is when the event happened.
	Time time.Time
	// Elapsed is the change's run time (finished and failed events).
	Elapsed time.Duration
	// Err is the failure (failed events) or the reason for a skip.
	Err error
	// Progress holds the change's row and byte counters; nil for skipped
	// changes. It keeps counting after the started event.
	Progress *Counters
}

// Options tune Run.
type Options struct {
	// Parallelism is the maximum number of changes running at once;
	// values below 1 mean 1.
	Parallelism int
	// Limits optionally caps the running changes of one kind, e.g.
	// {table: snapshot.jobs, post_data: 1}. Each value must be at least 1.
	Limits map[addrs.Kind]int
	// Logger receives progress logs; nil discards them.
	Logger hclog.Logger
	// OnEvent, when set, is called for every started, finished, failed
	// and skipped change. It is called from the executor's worker and
	// scheduling goroutines, possibly concurrently, so it must be safe for
	// concurrent use; it should return quickly, since the caller waits
	// for it. A finished event is emitted after the state records it.
	OnEvent func(Event)
	// WriteTimeout bounds each state write; zero means
	// DefaultWriteTimeout. Writes are not cancelled with Run's context,
	// so that the last checkpoint lands even when the run is interrupted.
	WriteTimeout time.Duration
}

// Result lists what Run did, each list in plan order.
type Result struct {
	// Applied changes finished and are recorded done (or removed).
	Applied []addrs.Addr
	// Failed changes returned an error or were interrupted.
	Failed []addrs.Addr
	// Skipped changes were never started.
	Skipped []addrs.Addr
}

// nodeState is the progress of one node during a run.
type nodeState int

const (
	pending nodeState = iota
	running
	applied
	failed
	skipped
	// finishing: the provider succeeded and the done record is in the
	// in-memory state, not yet written.
	finishing
)

// node is one non-noop change of the plan in the graph.
type node struct {
	index      int // position in the plan, for deterministic order
	change     *plans.Change
	addr       string
	deps       []*node // in-plan, non-noop dependencies
	dependents []*node
	waiting    int // unfinished dependencies
	state      nodeState
	// durable is set when the write carrying the node's done record
	// landed before the scheduler got the worker's outcome.
	durable bool
	// elapsed and counters describe the finished change, for the log
	// line and event sent once its done record is written.
	elapsed  time.Duration
	counters *Counters
}

// outcome is what a worker reports back to the scheduler.
type outcome struct {
	n *node
	// started is false when the worker found the run cancelled before it
	// touched anything.
	started bool
	err     error
	// writeErr is a state write failure, which stops the run.
	writeErr error
	// interrupted is set when err came with the run's cancellation.
	interrupted bool
	// finished is set when the change succeeded and its done record waits
	// for the next state write.
	finished bool
}

// Run applies every non-noop change of p in dependency order through prov.
//
// A change starts only when every change it depends on has finished;
// dependencies that are not in the plan, or are noops, count as
// satisfied. Since the planner gives deletes their reverse dependencies
// (a subscription is dropped before its publication), honouring DependsOn
// orders creates and deletes alike. Run refuses a plan with duplicate
// addresses or a dependency cycle before it starts anything.
//
// Before a change starts, its resource is recorded with
// state.StatusInProgress and the planned After attributes (a delete keeps
// the recorded attributes); when it finishes, the resource is recorded
// state.StatusDone with the attributes the provider returned, or removed
// for a delete. In-progress and failed records are written through
// backend at once; a done record is written by the next write (the next
// change's in-progress record, or a write of its own when none is about
// to start), and the change's dependents start, and its finished event is
// emitted, only after that write. Writes are serialised under a mutex,
// with a context that survives cancellation of ctx, so a crash at any
// moment leaves a state the next plan resumes from (a finished change
// whose done record was not written yet is redone). st is the state
// read before planning; Run updates it in place, and the caller must not
// use it while Run runs.
//
// A failed change is recorded state.StatusFailed; everything downstream of
// it is skipped and independent changes continue. Run then returns the
// result with an error joining every change's failure. When ctx is
// cancelled, Run starts nothing more, cancels the running changes (they
// stay recorded in progress unless they finish) and returns an error
// wrapping ctx.Err(). A failed state write stops the run the same way,
// letting running changes finish.
func Run(ctx context.Context, p *plans.Plan, prov Provider, backend state.Backend, st *state.State, opts Options) (*Result, error) {
	if p == nil || prov == nil || backend == nil || st == nil {
		return nil, errors.New("executor: plan, provider, state backend and state are all required")
	}
	for k, v := range opts.Limits {
		if v < 1 {
			return nil, fmt.Errorf("executor: the limit for %s changes is %d; it must be at least 1", k, v)
		}
	}
	nodes, err := buildGraph(p)
	if err != nil {
		return nil, err
	}
	r := &runner{
		ctx: ctx, prov: prov, backend: backend, st: st, opts: opts,
		log:  opts.Logger,
		done: make(chan outcome), durable: make(chan []*node),
		dirty: map[string]bool{},
	}
	if r.log == nil {
		r.log = hclog.NewNullLogger()
	}
	if r.opts.Parallelism < 1 {
		r.opts.Parallelism = 1
	}
	if r.opts.WriteTimeout <= 0 {
		r.opts.WriteTimeout = DefaultWriteTimeout
	}
	return r.run(nodes)
}

// buildGraph validates the plan and returns its non-noop changes as
// nodes, in plan order, with their edges.
func buildGraph(p *plans.Plan) ([]*node, error) {
	seen := map[string]bool{}
	var dups []string
	byAddr := map[string]*node{}
	var nodes []*node
	for i, c := range p.Changes {
		if c == nil {
			return nil, fmt.Errorf("executor: change %d of the plan is nil", i)
		}
		a := c.Addr.String()
		if seen[a] {
			dups = append(dups, a)
			continue
		}
		seen[a] = true
		if c.Action == plans.NoOp {
			continue
		}
		switch c.Action {
		case plans.Create, plans.Update, plans.Replace, plans.Delete:
		default:
			return nil, fmt.Errorf("executor: %s has unknown action %q", a, c.Action)
		}
		n := &node{index: len(nodes), change: c, addr: a}
		nodes = append(nodes, n)
		byAddr[a] = n
	}
	if len(dups) > 0 {
		return nil, fmt.Errorf("executor: the plan lists %s more than once; it is invalid, run plan again", strings.Join(dups, ", "))
	}
	for _, n := range nodes {
		linked := map[*node]bool{}
		for _, d := range n.change.DependsOn {
			dn := byAddr[d.String()]
			if dn == nil || linked[dn] {
				continue // not in the plan or a noop: satisfied
			}
			if dn == n {
				return nil, fmt.Errorf("executor: dependency cycle in the plan: %s -> %s", n.addr, n.addr)
			}
			linked[dn] = true
			n.deps = append(n.deps, dn)
			dn.dependents = append(dn.dependents, n)
			n.waiting++
		}
	}
	if cycle := findCycle(nodes); cycle != nil {
		return nil, fmt.Errorf("executor: dependency cycle in the plan: %s", strings.Join(cycle, " -> "))
	}
	return nodes, nil
}

// findCycle returns the addresses of one dependency cycle, its first
// address repeated at the end, or nil when the graph is acyclic.
func findCycle(nodes []*node) []string {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(nodes))
	var stack []*node
	var cycle []string
	var visit func(n *node) bool
	visit = func(n *node) bool {
		color[n.index] = grey
		stack = append(stack, n)
		for _, d := range n.deps {
			switch color[d.index] {
			case grey:
				// d is on the stack: the cycle is d ... n -> d, read as
				// "depends on" from d.
				start := 0
				for i, s := range stack {
					if s == d {
						start = i
					}
				}
				for _, s := range stack[start:] {
					cycle = append(cycle, s.addr)
				}
				cycle = append(cycle, d.addr)
				return true
			case white:
				if visit(d) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n.index] = black
		return false
	}
	for _, n := range nodes {
		if color[n.index] == white && visit(n) {
			return cycle
		}
	}
	return nil
}

// runner holds one run.
type runner struct {
	ctx     context.Context
	prov    Provider
	backend state.Backend
	opts    Options
	log     hclog.Logger
	done    chan outcome
	// durable carries the finished nodes whose done records a worker's
	// state write has just written.
	durable chan []*node

	mu sync.Mutex // guards st and unwritten and serialises backend writes
	st *state.State
	// unwritten lists the finished nodes whose done records are in st
	// but not yet written.
	unwritten []*node
	// dirty holds the addresses changed in st since the last write.
	dirty map[string]bool
	// checkpointed is set once a write went to the backend's journal
	// (state.Checkpointer): the run ends with a whole write.
	checkpointed bool

	// finishing counts the nodes in the finishing state (scheduler only).
	finishing int
}

// run schedules the nodes until every one has finished or been skipped.
func (r *runner) run(nodes []*node) (*Result, error) {
	var (
		ready       []*node // in plan order
		inFlight    int
		kindRunning = map[addrs.Kind]int{}
		stopping    bool
		changeErrs  []error
		writeErrs   []error
		ctxDone     = r.ctx.Done()
	)
	for _, n := range nodes {
		if n.waiting == 0 {
			ready = append(ready, n)
		}
	}
	if len(nodes) == 0 {
		return &Result{}, nil
	}
	r.log.Info("applying plan", "changes", len(nodes), "parallelism", r.opts.Parallelism)

	for {
		startedNow := 0
		if !stopping {
			// Start every ready change the caps allow, in plan order.
			kept := ready[:0]
			for _, n := range ready {
				k := n.change.Addr.Kind
				limit, capped := r.opts.Limits[k]
				if inFlight >= r.opts.Parallelism || (capped && kindRunning[k] >= limit) {
					kept = append(kept, n)
					continue
				}
				n.state = running
				inFlight++
				kindRunning[k]++
				startedNow++
				go r.work(n)
			}
			ready = kept
			if startedNow == 0 && r.finishing > 0 {
				// No in-progress record is about to be written that
				// would carry the finished changes' done records: write
				// them now, so that their dependents can start.
				written, err := r.writePending()
				if err != nil {
					writeErrs = append(writeErrs, err)
					r.log.Error("state write failed: starting no more changes", "error", err)
					stopping = true
				} else if len(written) > 0 {
					ready = r.markWritten(written, ready)
					continue
				}
			}
		}
		if inFlight == 0 {
			break
		}
		var o outcome
		select {
		case o = <-r.done:
		case written := <-r.durable:
			ready = r.markWritten(written, ready)
			continue
		case <-ctxDone:
			r.log.Warn("apply interrupted: starting no more changes and cancelling the running ones", "running", inFlight)
			stopping, ctxDone = true, nil
			continue
		}
		inFlight--
		kindRunning[o.n.change.Addr.Kind]--
		if o.writeErr != nil {
			writeErrs = append(writeErrs, o.writeErr)
			if !stopping {
				r.log.Error("state write failed: starting no more changes", "error", o.writeErr)
			}
			stopping = true
		}
		switch {
		case !o.started:
			o.n.state = pending // skipped below, with every other unstarted change
		case o.finished:
			o.n.state = finishing
			r.finishing++
			if o.n.durable {
				ready = r.finish(o.n, ready)
			}
		default:
			o.n.state = failed
			if !o.interrupted && (o.writeErr == nil || !errors.Is(o.err, o.writeErr)) {
				changeErrs = append(changeErrs, fmt.Errorf("%s: %s: %w", o.n.addr, o.n.change.Action, o.err))
			}
			r.skipDownstream(o.n)
		}
	}

	// The done records not written yet are written now, even when the run
	// was interrupted: those changes did finish.
	if written, err := r.writePending(); err != nil {
		writeErrs = append(writeErrs, err)
		r.log.Error("state write failed: finished changes stay recorded in progress and are redone by the next apply", "error", err)
		for _, n := range nodes {
			if n.state == finishing {
				n.state = failed
				r.emit(Event{Type: EventFailed, Change: n.change, Time: time.Now(), Elapsed: n.elapsed, Err: err, Progress: n.counters})
			}
		}
	} else {
		r.markWritten(written, nil)
	}
	if len(writeErrs) == 0 {
		r.fold()
	}

	res := &Result{}
	for _, n := range nodes {
		switch n.state {
		case applied:
			res.Applied = append(res.Applied, n.change.Addr)
		case failed:
			res.Failed = append(res.Failed, n.change.Addr)
		case skipped:
			res.Skipped = append(res.Skipped, n.change.Addr)
		case pending:
			// Never started because the run stopped.
			n.state = skipped
			res.Skipped = append(res.Skipped, n.change.Addr)
			r.emit(Event{Type: EventSkipped, Change: n.change, Time: time.Now(), Err: errors.New("the apply was stopped before this change started")})
		}
	}
	r.log.Info("apply finished", "applied", len(res.Applied), "failed", len(res.Failed), "skipped", len(res.Skipped))

	var errs []error
	interrupted := r.ctx.Err() != nil && len(res.Applied) < len(nodes)
	if interrupted {
		errs = append(errs, fmt.Errorf("apply interrupted after %d of %d changes (%d not started); the state records the progress, run apply again to resume: %w",
			len(res.Applied), len(nodes), len(res.Skipped), r.ctx.Err()))
	}
	errs = append(errs, writeErrs...)
	errs = append(errs, changeErrs...)
	if len(errs) > 0 {
		return res, errors.Join(errs...)
	}
	return res, nil
}

// markWritten handles nodes whose done records a state write wrote: those
// the scheduler knows finished are finished now; the others are marked
// for when their outcome arrives. It returns ready with the dependents
// that became ready.
func (r *runner) markWritten(written []*node, ready []*node) []*node {
	for _, n := range written {
		if n.state == finishing {
			ready = r.finish(n, ready)
		} else {
			n.durable = true
		}
	}
	return ready
}

// finish marks n applied once its done record is written, reports it, and
// returns ready with the dependents that became ready.
func (r *runner) finish(n *node, ready []*node) []*node {
	r.finishing--
	n.state = applied
	rows, bytes := n.counters.Totals()
	r.log.Info("change finished", "address", n.addr, "action", string(n.change.Action), "elapsed", n.elapsed, "rows", rows, "bytes", bytes)
	r.emit(Event{Type: EventFinished, Change: n.change, Time: time.Now(), Elapsed: n.elapsed, Progress: n.counters})
	for _, d := range n.dependents {
		d.waiting--
		if d.waiting == 0 && d.state == pending {
			ready = insertOrdered(ready, d)
		}
	}
	return ready
}

// writePending writes the state when done records wait to be written and
// returns their nodes.
func (r *runner) writePending() ([]*node, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.unwritten) == 0 {
		return nil, nil
	}
	if err := r.write(); err != nil {
		return nil, fmt.Errorf("record %d finished change(s) done: %w", len(r.unwritten), err)
	}
	written := r.unwritten
	r.unwritten = nil
	return written, nil
}

// insertOrdered inserts n into ready, keeping plan order.
func insertOrdered(ready []*node, n *node) []*node {
	i := sort.Search(len(ready), func(i int) bool { return ready[i].index > n.index })
	ready = append(ready, nil)
	copy(ready[i+1:], ready[i:])
	ready[i] = n
	return ready
}

// skipDownstream marks every pending change downstream of failed as
// skipped.
func (r *runner) skipDownstream(from *node) {
	var visit func(n *node)
	visit = func(n *node) {
		for _, d := range n.dependents {
			if d.state != pending {
				continue
			}
			d.state = skipped
			r.log.Warn("skipping change: a change it depends on failed", "address", d.addr, "failed", from.addr)
			r.emit(Event{Type: EventSkipped, Change: d.change, Time: time.Now(),
				Err: fmt.Errorf("%s failed", from.addr)})
			visit(d)
		}
	}
	visit(from)
}

// work runs one change and reports its outcome to the scheduler.
func (r *runner) work(n *node) {
	r.done <- r.apply(n)
}

// apply records n in progress, calls the provider and records the result.
func (r *runner) apply(n *node) outcome {
	c := n.change
	if r.ctx.Err() != nil {
		return outcome{n: n}
	}
	if err := r.record(n, state.StatusInProgress, nil); err != nil {
		err = fmt.Errorf("record %s in progress: %w", n.addr, err)
		r.emit(Event{Type: EventFailed, Change: c, Time: time.Now(), Err: err})
		return outcome{n: n, started: true, err: err, writeErr: err}
	}
	counters := &Counters{}
	start := time.Now()
	r.log.Info("change started", "address", n.addr, "action", string(c.Action))
	r.emit(Event{Type: EventStarted, Change: c, Time: start, Progress: counters})

	attrs, err := r.prov.Apply(r.ctx, c, counters)
	elapsed := time.Since(start)
	if err != nil {
		o := outcome{n: n, started: true, err: err}
		if r.ctx.Err() != nil {
			// Interrupted: the in-progress record already tells the next
			// plan to redo it.
			o.interrupted = true
			r.log.Warn("change interrupted", "address", n.addr, "elapsed", elapsed, "error", err)
		} else {
			// The error itself ends the run's output (Run returns it):
			// logged here only at debug level, so that it is not printed
			// twice.
			r.log.Error("change failed", "address", n.addr, "elapsed", elapsed)
			r.log.Debug("change failed", "address", n.addr, "error", err)
			if werr := r.record(n, state.StatusFailed, attrs); werr != nil {
				o.writeErr = fmt.Errorf("record %s failed: %w", n.addr, werr)
			}
		}
		r.emit(Event{Type: EventFailed, Change: c, Time: time.Now(), Elapsed: elapsed, Err: err, Progress: counters})
		return o
	}
	// The done record is written by the next state write (see the
	// package comment); the scheduler reports the change finished then.
	n.elapsed, n.counters = elapsed, counters
	r.mu.Lock()
	r.update(n, state.StatusDone, attrs)
	r.unwritten = append(r.unwritten, n)
	r.mu.Unlock()
	return outcome{n: n, started: true, finished: true}
}

// record updates n's resource in the state and writes the state, with
// the done records waiting for a write, which it hands to the scheduler.
// For StatusInProgress the planned After attributes are recorded (a delete
// keeps the recorded ones); for StatusDone and StatusFailed attrs, when
// non-nil, replace them. A finished delete removes the resource.
func (r *runner) record(n *node, status string, attrs plans.Attrs) error {
	r.mu.Lock()
	r.update(n, status, attrs)
	err := r.write()
	var written []*node
	if err == nil {
		written, r.unwritten = r.unwritten, nil
	}
	r.mu.Unlock()
	if len(written) > 0 {
		r.durable <- written // the scheduler waits for this worker's outcome, so it receives
	}
	return err
}

// update records n's resource in the in-memory state (see record). The
// caller holds r.mu.
func (r *runner) update(n *node, status string, attrs plans.Attrs) {
	c := n.change
	prior := r.st.Resource(n.addr)
	r.dirty[n.addr] = true
	switch {
	case c.Action == plans.Delete && status == state.StatusDone:
		r.st.RemoveResource(n.addr)
	default:
		res := &state.Resource{Address: n.addr, Kind: string(c.Addr.Kind), Status: status}
		switch {
		case attrs != nil:
			res.Attributes = plans.EncodeAttrs(attrs)
		case c.Action == plans.Delete && prior != nil:
			res.Attributes = prior.Attributes
		case c.Action == plans.Delete:
			res.Attributes = plans.EncodeAttrs(c.Before)
		case status == state.StatusFailed && prior != nil:
			res.Attributes = prior.Attributes // the in-progress record: After
		default:
			res.Attributes = plans.EncodeAttrs(c.After)
		}
		// Share nothing with the plan or the provider.
		res = res.DeepCopy()
		res.UpdatedAt = time.Now().UTC()
		r.st.SetResource(res)
	}
}

// write writes the in-memory state through the backend, with a context
// that survives the run's cancellation: only the resources changed since
// the last write when the backend keeps a journal (state.Checkpointer),
// the whole state otherwise. The caller holds r.mu.
func (r *runner) write() error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), r.opts.WriteTimeout)
	defer cancel()
	var err error
	if cp, ok := r.backend.(state.Checkpointer); ok {
		addrs := make([]string, 0, len(r.dirty))
		for a := range r.dirty {
			addrs = append(addrs, a)
		}
		sort.Strings(addrs)
		err = cp.Checkpoint(ctx, r.st, addrs)
		r.checkpointed = r.checkpointed || err == nil
	} else {
		err = r.backend.Write(ctx, r.st)
	}
	if err != nil {
		return fmt.Errorf("write state to %s: %w", r.backend.Describe(), err)
	}
	clear(r.dirty)
	return nil
}

// fold ends a run that checkpointed with one whole write, which folds the
// backend's journal into the stored state. Nothing depends on it: every
// checkpoint is already durable and read back with the state, so a
// failure is logged and the next write folds the journal.
func (r *runner) fold() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.checkpointed {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), r.opts.WriteTimeout)
	defer cancel()
	if err := r.backend.Write(ctx, r.st); err != nil {
		r.log.Warn("could not fold the state journal into the state file; the state is complete, and the next write folds it",
			"state", r.backend.Describe(), "error", err)
		return
	}
	r.checkpointed = false
	clear(r.dirty)
}

// emit calls OnEvent when set.
func (r *runner) emit(e Event) {
	if r.opts.OnEvent != nil {
		r.opts.OnEvent(e)
	}
}
