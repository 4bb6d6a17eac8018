package planning

import (
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/state"
)

// ForgetPlan is init --no-resume's plan: drop the replication objects
// (subscriptions, slots, publications and DDL capture) prior records and nothing else;
// the target's data stays for the fresh copy to replace.
func ForgetPlan(prior *state.State) *plans.Plan {
	p := planner.Destroy(prior, false, "init --no-resume starts fresh")
	var objects []*plans.Change
	for _, ch := range p.Changes {
		switch ch.Addr.Kind {
		case addrs.Subscription, addrs.Slot, addrs.Publication, addrs.DDLCapture:
			objects = append(objects, ch)
		}
	}
	p.Changes = objects
	return p
}
