package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/state"
)

// fakeProvider records when each change starts and finishes (as steps of
// one counter), how many run at once, overall and per kind, and fails or
// blocks the changes it is told to.
type fakeProvider struct {
	delay time.Duration
	fail  map[string]bool
	// block holds a change until ctx is cancelled; started is closed when
	// it begins.
	block   map[string]bool
	started chan string
	// during, when set, runs inside Apply (e.g. to inspect the state).
	during func(c *plans.Change)
	// gather and gatherKind make a change wait (up to a second) until that
	// many changes, or changes of its kind, run at once, so that a cap is
	// reached however slowly the machine schedules goroutines.
	gather     int
	gatherKind map[addrs.Kind]int

	step  atomic.Int64
	calls atomic.Int64

	mu           sync.Mutex
	begin, end   map[string]int64
	running, max int
	kindRunning  map[addrs.Kind]int
	kindMax      map[addrs.Kind]int
}

func newFake() *fakeProvider {
	return &fakeProvider{fail: map[string]bool{}, block: map[string]bool{}, begin: map[string]int64{}, end: map[string]int64{},
		kindRunning: map[addrs.Kind]int{}, kindMax: map[addrs.Kind]int{}, started: make(chan string, 100)}
}

func (f *fakeProvider) Apply(ctx context.Context, c *plans.Change, progress Progress) (plans.Attrs, error) {
	f.calls.Add(1)
	a, k := c.Addr.String(), c.Addr.Kind
	f.mu.Lock()
	f.begin[a] = f.step.Add(1)
	f.running++
	f.max = max(f.max, f.running)
	f.kindRunning[k]++
	f.kindMax[k] = max(f.kindMax[k], f.kindRunning[k])
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running--
		f.kindRunning[k]--
		f.end[a] = f.step.Add(1)
		f.mu.Unlock()
	}()
	f.started <- a
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		f.mu.Lock()
		enough := f.running >= f.gather && f.kindRunning[k] >= f.gatherKind[k]
		f.mu.Unlock()
		if enough {
			break
		}
	}
	if f.during != nil {
		f.during(c)
	}
	progress.Rows(10)
	progress.Bytes(100)
	if f.block[a] {
		<-ctx.Done()
		return nil, fmt.Errorf("copy %s: %w", a, ctx.Err())
	}
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.fail[a] {
		return nil, errors.New("boom")
	}
	if c.Action == plans.Delete {
		return nil, nil
	}
	return &plans.TableAttrs{Filter: "applied:" + a, Method: lang.SyncMethod(c.Action)}, nil
}

func tbl(key string) addrs.Addr { return addrs.New("main", addrs.Table, key) }

func change(a addrs.Addr, action plans.Action, deps ...addrs.Addr) *plans.Change {
	return &plans.Change{Addr: a, Action: action, After: &plans.TableAttrs{Filter: "planned:" + a.String()}, DependsOn: deps}
}

func newBackend(t *testing.T) (*state.Local, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "replicator.state.json")
	return state.NewLocal(path), path
}

func readState(t *testing.T, path string) *state.State {
	t.Helper()
	s, err := state.NewLocal(path).Read(context.Background())
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	return s
}

func addrStrings(as []addrs.Addr) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

func TestOrderRespectsDependsOn(t *testing.T) {
	db := addrs.New("main", addrs.Database, "app")
	schema := addrs.New("main", addrs.Schema, "app")
	pub := addrs.New("main", addrs.Publication, "app")
	slot := addrs.New("main", addrs.Slot, "app")
	t1, t2, t3 := tbl("app.public.a"), tbl("app.public.b"), tbl("app.public.c")
	post := addrs.New("main", addrs.PostData, "app")
	sub := addrs.New("main", addrs.Subscription, "app")
	p := &plans.Plan{Changes: []*plans.Change{
		change(sub, plans.Create, post, slot, pub),
		change(post, plans.Create, t1, t2, t3),
		change(t1, plans.Create, schema, slot),
		change(t2, plans.Create, schema, slot),
		change(t3, plans.Create, schema, slot),
		change(slot, plans.Create, pub),
		change(pub, plans.Create, db),
		change(schema, plans.Create, db),
		change(db, plans.Create, addrs.New("main", addrs.Globals, "")), // not in the plan: satisfied
		change(addrs.New("main", addrs.Sequences, "app"), plans.NoOp, db),
		change(addrs.New("main", addrs.Xmin, "app.public.a"), plans.Update, addrs.New("main", addrs.Sequences, "app")), // noop: satisfied
	}}
	f := newFake()
	f.delay = 5 * time.Millisecond
	// A table waits (up to a second) for a second table to run beside it,
	// so that concurrency is observed however slowly a loaded machine
	// schedules goroutines.
	f.gatherKind = map[addrs.Kind]int{addrs.Table: 2}
	b, path := newBackend(t)
	res, err := Run(context.Background(), p, f, b, state.New(), Options{Parallelism: 4})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Applied) != len(p.Changes)-1 || len(res.Failed)+len(res.Skipped) != 0 {
		t.Fatalf("result = %+v", res)
	}
	for _, c := range p.Changes {
		if c.Action == plans.NoOp {
			if _, ok := f.begin[c.Addr.String()]; ok {
				t.Errorf("noop %s was applied", c.Addr)
			}
			continue
		}
		for _, d := range c.DependsOn {
			de, ok := f.end[d.String()]
			if !ok {
				continue
			}
			if de >= f.begin[c.Addr.String()] {
				t.Errorf("%s started at step %d before its dependency %s finished (step %d)", c.Addr, f.begin[c.Addr.String()], d, de)
			}
		}
	}
	if f.max < 2 {
		t.Errorf("the three tables never ran concurrently (max %d)", f.max)
	}
	if st := readState(t, path); len(st.Resources) != len(p.Changes)-1 {
		t.Errorf("state has %d resources, want %d", len(st.Resources), len(p.Changes)-1)
	}
}

func TestParallelismCap(t *testing.T) {
	var cs []*plans.Change
	for i := range 21 {
		cs = append(cs, change(tbl(fmt.Sprintf("app.public.t%02d", i)), plans.Create))
	}
	f := newFake()
	f.delay = 5 * time.Millisecond
	f.gather = 3
	b, _ := newBackend(t)
	res, err := Run(context.Background(), &plans.Plan{Changes: cs}, f, b, state.New(), Options{Parallelism: 3})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Applied) != 21 {
		t.Fatalf("applied %d, want 21", len(res.Applied))
	}
	if f.max != 3 {
		t.Errorf("max concurrent = %d, want 3", f.max)
	}
}

func TestPerKindLimits(t *testing.T) {
	var cs []*plans.Change
	for i := range 10 {
		cs = append(cs, change(tbl(fmt.Sprintf("app.public.t%02d", i)), plans.Create))
		cs = append(cs, change(addrs.New("main", addrs.PostData, fmt.Sprintf("db%02d", i)), plans.Create))
		cs = append(cs, change(addrs.New("main", addrs.Sequences, fmt.Sprintf("db%02d", i)), plans.Create))
	}
	f := newFake()
	f.delay = 5 * time.Millisecond
	f.gatherKind = map[addrs.Kind]int{addrs.Table: 2, addrs.Sequences: 2}
	b, _ := newBackend(t)
	_, err := Run(context.Background(), &plans.Plan{Changes: cs}, f, b, state.New(),
		Options{Parallelism: 6, Limits: map[addrs.Kind]int{addrs.Table: 2, addrs.PostData: 1}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if f.kindMax[addrs.Table] != 2 || f.kindMax[addrs.PostData] != 1 {
		t.Errorf("max concurrent per kind = %v, want table 2, post_data 1", f.kindMax)
	}
	if f.max > 6 {
		t.Errorf("max concurrent = %d, above parallelism 6", f.max)
	}
	if f.kindMax[addrs.Sequences] < 2 {
		t.Errorf("uncapped sequences never ran concurrently: %v", f.kindMax)
	}

	if _, err := Run(context.Background(), &plans.Plan{Changes: cs}, f, b, state.New(),
		Options{Limits: map[addrs.Kind]int{addrs.Table: 0}}); err == nil || !strings.Contains(err.Error(), "at least 1") {
		t.Errorf("a zero limit: err = %v", err)
	}
}

func TestStateWrittenAfterEveryChange(t *testing.T) {
	a, b2, c := tbl("app.public.a"), tbl("app.public.b"), tbl("app.public.c")
	p := &plans.Plan{Changes: []*plans.Change{
		change(a, plans.Create), change(b2, plans.Create, a), change(c, plans.Create, b2),
	}}
	b, path := newBackend(t)
	f := newFake()
	var checkErrs []string
	var mu sync.Mutex
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		checkErrs = append(checkErrs, fmt.Sprintf(format, args...))
	}
	// While a change runs, the state on disk records it in progress with
	// the planned attributes.
	f.during = func(ch *plans.Change) {
		r := readState(t, path).Resource(ch.Addr.String())
		if r == nil || r.Status != state.StatusInProgress || r.Attributes["filter"] != "planned:"+ch.Addr.String() {
			fail("during %s: state has %+v, want in_progress with planned attributes", ch.Addr, r)
		}
	}
	var finished []string
	onEvent := func(e Event) {
		if e.Type != EventFinished {
			return
		}
		st := readState(t, path)
		r := st.Resource(e.Change.Addr.String())
		if r == nil || r.Status != state.StatusDone || r.Attributes["filter"] != "applied:"+e.Change.Addr.String() || r.Kind != "table" {
			fail("after %s: state has %+v, want done with the returned attributes", e.Change.Addr, r)
		}
		mu.Lock()
		finished = append(finished, fmt.Sprintf("%s@%d", e.Change.Addr.Key, st.Serial))
		mu.Unlock()
		if rows, bytes := e.Progress.Totals(); rows != 10 || bytes != 100 {
			fail("progress of %s = %d rows %d bytes, want 10 and 100", e.Change.Addr, rows, bytes)
		}
	}
	st := state.New()
	res, err := Run(context.Background(), p, f, b, st, Options{Parallelism: 2, OnEvent: onEvent})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, e := range checkErrs {
		t.Error(e)
	}
	// Two writes per change: in progress, then done.
	want := []string{"app.public.a@2", "app.public.b@4", "app.public.c@6"}
	if !slices.Equal(finished, want) {
		t.Errorf("finished at serials %v, want %v", finished, want)
	}
	// The six checkpoints, then the whole write that ends the run.
	if st.Serial != 7 || readState(t, path).Serial != 7 {
		t.Errorf("serial = %d in memory, %d on disk, want 7", st.Serial, readState(t, path).Serial)
	}
	if got := addrStrings(res.Applied); len(got) != 3 {
		t.Errorf("applied = %v", got)
	}
	// That write folded the journal into the state file and removed it:
	// the file alone records every change done.
	if _, err := os.Stat(b.JournalPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal after the run: %v, want none", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	file, err := state.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []addrs.Addr{a, b2, c} {
		if r := file.Resource(a.String()); r == nil || r.Status != state.StatusDone {
			t.Errorf("state file after the run: %s is %+v, want done", a, r)
		}
	}
}

// wholeWrites hides a backend's Checkpoint: the executor writes the whole
// state every time.
type wholeWrites struct{ state.Backend }

func TestStateWrittenWholeWithoutJournal(t *testing.T) {
	a, b2 := tbl("app.public.a"), tbl("app.public.b")
	p := &plans.Plan{Changes: []*plans.Change{change(a, plans.Create), change(b2, plans.Create, a)}}
	b, path := newBackend(t)
	st := state.New()
	if _, err := Run(context.Background(), p, newFake(), wholeWrites{b}, st, Options{}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Two whole writes per change and no final fold.
	if st.Serial != 4 || readState(t, path).Serial != 4 {
		t.Errorf("serial = %d in memory, %d on disk, want 4", st.Serial, readState(t, path).Serial)
	}
	if _, err := os.Stat(b.JournalPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal: %v, want none", err)
	}
}

func TestFailureSkipsDownstreamOnly(t *testing.T) {
	a, b2, c, d, e := tbl("app.public.a"), tbl("app.public.b"), tbl("app.public.c"), tbl("app.public.d"), tbl("app.public.e")
	post := addrs.New("main", addrs.PostData, "app")
	p := &plans.Plan{Changes: []*plans.Change{
		change(a, plans.Create),
		change(b2, plans.Create, a),
		change(c, plans.Create, b2),
		change(post, plans.Create, c, d),
		change(d, plans.Create, a),
		change(e, plans.Create),
	}}
	f := newFake()
	f.fail[b2.String()] = true
	var skippedEvents atomic.Int64
	back, path := newBackend(t)
	res, err := Run(context.Background(), p, f, back, state.New(), Options{Parallelism: 2, OnEvent: func(ev Event) {
		if ev.Type == EventSkipped {
			skippedEvents.Add(1)
		}
	}})
	if err == nil || !strings.Contains(err.Error(), b2.String()) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v, want the failure of %s", err, b2)
	}
	if got, want := addrStrings(res.Applied), addrStrings([]addrs.Addr{a, d, e}); !slices.Equal(got, want) {
		t.Errorf("applied = %v, want %v", got, want)
	}
	if got, want := addrStrings(res.Failed), addrStrings([]addrs.Addr{b2}); !slices.Equal(got, want) {
		t.Errorf("failed = %v, want %v", got, want)
	}
	if got, want := addrStrings(res.Skipped), addrStrings([]addrs.Addr{c, post}); !slices.Equal(got, want) {
		t.Errorf("skipped = %v, want %v", got, want)
	}
	if skippedEvents.Load() != 2 {
		t.Errorf("%d skipped events, want 2", skippedEvents.Load())
	}
	st := readState(t, path)
	if r := st.Resource(b2.String()); r == nil || r.Status != state.StatusFailed || r.Attributes["filter"] != "planned:"+b2.String() {
		t.Errorf("failed change recorded as %+v", r)
	}
	for _, x := range []addrs.Addr{c, post} {
		if st.Resource(x.String()) != nil {
			t.Errorf("skipped %s is in state", x)
		}
		if _, ok := f.begin[x.String()]; ok {
			t.Errorf("skipped %s was started", x)
		}
	}
	for _, x := range []addrs.Addr{a, d, e} {
		if r := st.Resource(x.String()); r == nil || r.Status != state.StatusDone {
			t.Errorf("%s recorded as %+v", x, r)
		}
	}
}

func TestCancellation(t *testing.T) {
	a, b2, c := tbl("app.public.a"), tbl("app.public.b"), tbl("app.public.c")
	p := &plans.Plan{Changes: []*plans.Change{
		change(a, plans.Create), change(b2, plans.Create, a), change(c, plans.Create, b2),
	}}
	f := newFake()
	f.block[b2.String()] = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for s := range f.started {
			if s == b2.String() {
				cancel()
				return
			}
		}
	}()
	back, path := newBackend(t)
	res, err := Run(ctx, p, f, back, state.New(), Options{Parallelism: 2})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("err = %v, want it to say the apply was interrupted", err)
	}
	if got := addrStrings(res.Applied); !slices.Equal(got, []string{a.String()}) {
		t.Errorf("applied = %v", got)
	}
	if got := addrStrings(res.Failed); !slices.Equal(got, []string{b2.String()}) {
		t.Errorf("failed = %v", got)
	}
	if got := addrStrings(res.Skipped); !slices.Equal(got, []string{c.String()}) {
		t.Errorf("skipped = %v", got)
	}
	st := readState(t, path)
	if r := st.Resource(a.String()); r == nil || r.Status != state.StatusDone {
		t.Errorf("finished change recorded as %+v", r)
	}
	if r := st.Resource(b2.String()); r == nil || (r.Status != state.StatusInProgress && r.Status != state.StatusFailed) {
		t.Errorf("interrupted change recorded as %+v, want in_progress or failed", r)
	}
	if st.Resource(c.String()) != nil {
		t.Errorf("not-started change is in state")
	}
}

func TestNoopOnlyPlanDoesNothing(t *testing.T) {
	p := &plans.Plan{Changes: []*plans.Change{
		change(tbl("app.public.a"), plans.NoOp), change(tbl("app.public.b"), plans.NoOp, tbl("app.public.a")),
	}}
	f := newFake()
	back, path := newBackend(t)
	st := state.New()
	res, err := Run(context.Background(), p, f, back, st, Options{})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Applied)+len(res.Failed)+len(res.Skipped) != 0 || f.calls.Load() != 0 {
		t.Errorf("result %+v, %d provider calls", res, f.calls.Load())
	}
	if st.Serial != 0 || st.Lineage != "" {
		t.Errorf("state was written: serial %d lineage %q", st.Serial, st.Lineage)
	}
	if m, _ := filepath.Glob(path + "*"); len(m) != 0 {
		t.Errorf("files written: %v", m)
	}
}

func TestCycleDetected(t *testing.T) {
	a, b2, c, d := tbl("app.public.a"), tbl("app.public.b"), tbl("app.public.c"), tbl("app.public.d")
	p := &plans.Plan{Changes: []*plans.Change{
		change(d, plans.Create),
		change(a, plans.Create, d, b2),
		change(b2, plans.Create, c),
		change(c, plans.Create, a),
	}}
	f := newFake()
	back, _ := newBackend(t)
	_, err := Run(context.Background(), p, f, back, state.New(), Options{})
	want := fmt.Sprintf("dependency cycle in the plan: %s -> %s -> %s -> %s", a, b2, c, a)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to contain %q", err, want)
	}
	if f.calls.Load() != 0 {
		t.Errorf("provider called %d times despite the cycle", f.calls.Load())
	}

	self := &plans.Plan{Changes: []*plans.Change{change(a, plans.Create, a)}}
	if _, err := Run(context.Background(), self, f, back, state.New(), Options{}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("self dependency: err = %v", err)
	}
}

func TestDuplicateAddresses(t *testing.T) {
	a := tbl("app.public.a")
	p := &plans.Plan{Changes: []*plans.Change{change(a, plans.Create), change(a, plans.NoOp)}}
	back, _ := newBackend(t)
	_, err := Run(context.Background(), p, newFake(), back, state.New(), Options{})
	if err == nil || !strings.Contains(err.Error(), "more than once") || !strings.Contains(err.Error(), a.String()) {
		t.Fatalf("err = %v", err)
	}
}

func TestDeletesInReverseOrderRemoveResources(t *testing.T) {
	sub := addrs.New("main", addrs.Subscription, "app")
	pub := addrs.New("main", addrs.Publication, "app")
	slot := addrs.New("main", addrs.Slot, "app")
	back, path := newBackend(t)
	st := state.New()
	for _, a := range []addrs.Addr{sub, pub, slot} {
		st.SetResource(&state.Resource{Address: a.String(), Kind: string(a.Kind), Status: state.StatusDone,
			Attributes: map[string]any{"name": a.Key}})
	}
	if err := back.Write(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	// As planDeletes builds them: publication and slot wait for the
	// subscription, the slot for the publication too.
	p := &plans.Plan{Changes: []*plans.Change{
		{Addr: pub, Action: plans.Delete, DependsOn: []addrs.Addr{sub}},
		{Addr: slot, Action: plans.Delete, DependsOn: []addrs.Addr{sub, pub}},
		{Addr: sub, Action: plans.Delete},
	}}
	f := newFake()
	f.delay = 5 * time.Millisecond
	f.during = func(c *plans.Change) {
		r := readState(t, path).Resource(c.Addr.String())
		if r == nil || r.Status != state.StatusInProgress || r.Attributes["name"] != c.Addr.Key {
			t.Errorf("during delete of %s: state has %+v, want in_progress keeping the attributes", c.Addr, r)
		}
	}
	res, err := Run(context.Background(), p, f, back, st, Options{Parallelism: 3})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Applied) != 3 {
		t.Errorf("applied = %v", addrStrings(res.Applied))
	}
	if !(f.end[sub.String()] < f.begin[pub.String()] && f.end[pub.String()] < f.begin[slot.String()]) {
		t.Errorf("deletes out of order: begin %v end %v", f.begin, f.end)
	}
	if got := readState(t, path); !got.Empty() {
		t.Errorf("state still records %v", got.Addresses())
	}
}

func TestStateWriteFailureStopsRun(t *testing.T) {
	a, b2 := tbl("app.public.a"), tbl("app.public.b")
	p := &plans.Plan{Changes: []*plans.Change{change(a, plans.Create), change(b2, plans.Create, a)}}
	back, _ := newBackend(t)
	// A state of another lineage: the backend refuses every write.
	stored := state.New()
	if err := back.Write(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	st := state.New()
	st.Lineage = "another-lineage"
	f := newFake()
	res, err := Run(context.Background(), p, f, back, st, Options{})
	if !errors.Is(err, state.ErrLineageMismatch) {
		t.Fatalf("err = %v, want a lineage mismatch", err)
	}
	if f.calls.Load() != 0 {
		t.Errorf("provider called although the in-progress record could not be written")
	}
	if got := addrStrings(res.Failed); !slices.Equal(got, []string{a.String()}) {
		t.Errorf("failed = %v", got)
	}
	if got := addrStrings(res.Skipped); !slices.Equal(got, []string{b2.String()}) {
		t.Errorf("skipped = %v", got)
	}
}

// countingBackend counts the writes that reach a backend.
type countingBackend struct {
	state.Backend
	writes atomic.Int64
}

func (b *countingBackend) Write(ctx context.Context, s *state.State) error {
	b.writes.Add(1)
	return b.Backend.Write(ctx, s)
}

// A finished change's done record rides on the next change's in-progress
// write: one write per change plus the last done record, not two per
// change. Every finished event still finds its record done on disk, and a
// dependent starts only once its dependency is done on disk.
func TestDoneRecordRidesOnNextWrite(t *testing.T) {
	var changes []*plans.Change
	for i := range 6 {
		changes = append(changes, change(tbl(fmt.Sprintf("app.public.t%d", i)), plans.Create))
	}
	last := tbl("app.public.last")
	var all []addrs.Addr
	for _, c := range changes {
		all = append(all, c.Addr)
	}
	changes = append(changes, change(last, plans.Create, all...))
	p := &plans.Plan{Changes: changes}
	local, path := newBackend(t)
	b := &countingBackend{Backend: local}
	f := newFake()
	var mu sync.Mutex
	var checkErrs []string
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		checkErrs = append(checkErrs, fmt.Sprintf(format, args...))
	}
	f.during = func(ch *plans.Change) {
		if ch.Addr != last {
			return
		}
		st := readState(t, path)
		for _, a := range all {
			if r := st.Resource(a.String()); r == nil || r.Status != state.StatusDone {
				fail("%s started while %s is recorded %+v on disk", last, a, r)
			}
		}
	}
	finished := 0
	onEvent := func(e Event) {
		if e.Type != EventFinished {
			return
		}
		mu.Lock()
		finished++
		mu.Unlock()
		if r := readState(t, path).Resource(e.Change.Addr.String()); r == nil || r.Status != state.StatusDone {
			fail("finished event of %s with %+v on disk, want done", e.Change.Addr, r)
		}
	}
	st := state.New()
	res, err := Run(context.Background(), p, f, b, st, Options{Parallelism: 1, OnEvent: onEvent})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, e := range checkErrs {
		t.Error(e)
	}
	if len(res.Applied) != 7 || finished != 7 {
		t.Fatalf("applied %d, finished events %d, want 7", len(res.Applied), finished)
	}
	// t0..t5: six in-progress writes, each carrying the previous done
	// record; t5's done record is written alone (last depends on it);
	// last: in progress, then its done record at the end.
	if got := b.writes.Load(); got != 9 {
		t.Errorf("%d state writes, want 9 (one per change, plus the done records nothing else carried)", got)
	}
	disk := readState(t, path)
	for _, c := range changes {
		if r := disk.Resource(c.Addr.String()); r == nil || r.Status != state.StatusDone {
			t.Errorf("%s recorded %+v at the end, want done", c.Addr, r)
		}
	}
}
