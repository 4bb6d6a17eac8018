package planner

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

// TestLostSlotRepairDisablesTheSubscription: when the slot is dropped by
// hand or loses its WAL while the subscription exists, the plan disables
// the subscription before the slot is replaced (the slot change names it)
// and enables it again in the subscription's own change, which waits for
// every copy. Without it the apply worker would attach to the new slot at
// once and apply changes to tables being emptied and copied.
func TestLostSlotRepairDisablesTheSubscription(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(src *catalog.Server)
		why    string
	}{
		{"dropped", func(src *catalog.Server) { src.Slots = nil }, "the replication slot was lost"},
		{"wal lost", func(src *catalog.Server) {
			for i := range src.Slots {
				src.Slots[i].WALStatus = "lost"
			}
		}, "the replication slot lost its WAL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, dst, st := applied()
			tt.mutate(src)
			p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: st})
			if errs := errorsOf(diags); len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			var slot, sub *plans.Change
			for _, c := range p.Changes {
				switch c.Addr.String() {
				case `replication.main.slot["app"]`:
					slot = c
				case `replication.main.subscription["app"]`:
					sub = c
				}
			}
			if slot == nil || slot.Action != plans.Replace {
				t.Fatalf("slot change %+v, want replace", slot)
			}
			sa := slot.After.(*plans.SlotAttrs)
			subName := sub.After.(*plans.SubscriptionAttrs).Name
			if sa.DisableSubscription != subName || !strings.Contains(slot.Reason, "is disabled first") {
				t.Fatalf("slot change does not disable subscription %q first: %+v (%s)", subName, sa, slot.Reason)
			}
			if sub.Action != plans.Update || !sub.After.(*plans.SubscriptionAttrs).Enabled || sub.Before.(*plans.SubscriptionAttrs).Enabled ||
				!strings.Contains(sub.Reason, tt.why) || !strings.Contains(sub.Reason, "enable it once the copies are done") {
				t.Fatalf("subscription change %s (%s), want an update enabling it after the copies", sub.Action, sub.Reason)
			}
			// The enabling waits for every table copy.
			deps := map[string]bool{}
			for _, d := range sub.DependsOn {
				deps[d.String()] = true
			}
			for _, c := range p.Changes {
				if c.Addr.Kind == "table" && c.Action == plans.Replace && !deps[c.Addr.String()] {
					t.Errorf("the subscription is enabled without waiting for %s", c.Addr)
				}
			}
			if !strings.Contains(planText(p), `disable_subscription`) {
				t.Errorf("plan text does not show the subscription being disabled:\n%s", planText(p))
			}
		})
	}
}
