package planning

import (
	"testing"

	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/state"
)

func TestForgetPlanDropsOnlyReplicationObjects(t *testing.T) {
	prior := state.New()
	for _, a := range []addrs.Addr{
		addrs.New("main", addrs.Database, "app"),
		addrs.New("main", addrs.Table, "app.public.items"),
		addrs.New("main", addrs.Publication, "app"),
		addrs.New("main", addrs.Slot, "app"),
		addrs.New("main", addrs.Subscription, "app"),
	} {
		prior.SetResource(&state.Resource{Address: a.String(), Kind: string(a.Kind), Status: state.StatusDone})
	}
	p := ForgetPlan(prior)
	kinds := map[addrs.Kind]bool{}
	for _, ch := range p.Changes {
		if ch.Action != plans.Delete {
			t.Errorf("%s: action %s, want delete", ch.Addr, ch.Action)
		}
		kinds[ch.Addr.Kind] = true
	}
	if len(p.Changes) != 3 || !kinds[addrs.Subscription] || !kinds[addrs.Slot] || !kinds[addrs.Publication] {
		t.Fatalf("changes %v, want the subscription, slot and publication only", p.Changes)
	}
}
