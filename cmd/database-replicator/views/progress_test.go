package views

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/database-replicator/database-replicator/executor"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
)

// syncBuffer is a bytes.Buffer safe for the bars' goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func progressPlan() (*plans.Plan, *plans.Change) {
	tbl := &plans.Change{Addr: addrs.New("main", addrs.Table, "app.public.big"), Action: plans.Create,
		After: &plans.TableAttrs{Bytes: 10 << 20}}
	return &plans.Plan{Changes: []*plans.Change{tbl}}, tbl
}

func TestProgressBarsOnATerminal(t *testing.T) {
	p, tbl := progressPlan()
	var out syncBuffer
	v, logOut := NewProgress(p, hclog.NewNullLogger(), true, &out, time.Second)
	if logOut == nil {
		t.Fatal("with bars, logs must be routed above them")
	}
	c := &executor.Counters{}
	v.Event(executor.Event{Type: executor.EventStarted, Change: tbl, Time: time.Now(), Progress: c})
	c.Rows(12345)
	c.Bytes(5 << 20)
	time.Sleep(700 * time.Millisecond)
	v.Event(executor.Event{Type: executor.EventFinished, Change: tbl, Time: time.Now(), Progress: c})
	v.Close()
	s := out.String()
	for _, want := range []string{"app.public.big", "12345 rows", "all changes", "1 / 1"} {
		if !strings.Contains(s, want) {
			t.Errorf("bars lack %q:\n%q", want, s)
		}
	}
}

func TestProgressLinesWithoutATerminal(t *testing.T) {
	p, tbl := progressPlan()
	var out syncBuffer
	log := hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Info})
	v, logOut := NewProgress(p, log, false, &out, 50*time.Millisecond)
	if logOut != nil {
		t.Fatal("no bars without a terminal")
	}
	c := &executor.Counters{}
	v.Event(executor.Event{Type: executor.EventStarted, Change: tbl, Time: time.Now(), Progress: c})
	c.Rows(42)
	c.Bytes(3 << 20)
	time.Sleep(200 * time.Millisecond)
	v.Close()
	s := out.String()
	if !strings.Contains(s, "progress: done=0/1") || !strings.Contains(s, `replication.main.table["app.public.big"]="42 rows, 3072 kB`) {
		t.Fatalf("progress line:\n%s", s)
	}
}
