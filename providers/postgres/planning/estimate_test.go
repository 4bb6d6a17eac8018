package planning

import (
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
)

func TestSnapshotEstimateSumsCopiedTablesPerDatabase(t *testing.T) {
	table := func(key string, action plans.Action, bytes int64) *plans.Change {
		return &plans.Change{Addr: addrs.New("main", addrs.Table, key), Action: action, After: &plans.TableAttrs{Bytes: bytes}}
	}
	p := &plans.Plan{Changes: []*plans.Change{
		{Addr: addrs.New("main", addrs.Database, "crm"), Action: plans.Create},
		table("crm.public.users", plans.Create, 120*CopyRate),
		table("app.public.big", plans.Replace, 10<<20),
		table("crm.public.orders", plans.Create, 30*CopyRate+5),
		table("app.public.same", plans.NoOp, 1<<40),
		table("app.public.gone", plans.Delete, 1<<40),
	}}
	got := SnapshotEstimate(p)
	want := []DatabaseEstimate{
		{Database: "crm", Bytes: 150*CopyRate + 5, Time: 150 * time.Second},
		{Database: "app", Bytes: 10 << 20, Time: time.Second},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestCopyBytesIsZeroForOtherKinds(t *testing.T) {
	if n := CopyBytes(&plans.Change{Addr: addrs.New("main", addrs.Slot, "app"), After: &plans.SlotAttrs{}}); n != 0 {
		t.Fatalf("slot copies %d bytes", n)
	}
	if n := CopyBytes(&plans.Change{After: &plans.TableAttrs{Bytes: 7}}); n != 7 {
		t.Fatalf("table copies %d bytes, want 7", n)
	}
}
