package planner

import (
	"fmt"

	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/state"
)

// Destroy plans the removal of the replication objects the state records:
// subscriptions, then publications, then slots (reverse creation order).
// With dropData it also drops the target databases it created; otherwise
// target data stays and the other entries are only forgotten. Only what
// the state records is ever dropped.
func Destroy(prior *state.State, dropData bool, reason string) *plans.Plan {
	p := &plans.Plan{}
	if prior != nil {
		p.StateLineage, p.StateSerial = prior.Lineage, prior.Serial
	}
	var changes []*plans.Change
	for _, ad := range prior.Addresses() {
		a, err := addrs.Parse(ad)
		if err != nil {
			continue
		}
		r := prior.Resource(ad)
		c := &plans.Change{Addr: a, Action: plans.Delete, Reason: reason}
		before, err := plans.DecodeAttrs(a.Kind, r.Attributes)
		if err != nil {
			c.Reason += fmt.Sprintf(" (its recorded attributes do not decode: %v)", err)
		}
		c.Before = before
		switch a.Kind {
		case addrs.Subscription, addrs.Publication, addrs.Slot:
		case addrs.DDLCapture:
			c.Reason = reason + ": drop the event triggers, functions and log tables"
		case addrs.Database:
			if !dropData {
				c.Reason = reason + "; the database and its data stay (destroy --drop-data drops it)"
			} else {
				c.After = &plans.DatabaseAttrs{DropData: true}
				c.Reason = reason + "; --drop-data: the target database is dropped"
			}
		default:
			c.Reason = "forget it (target data stays)"
		}
		changes = append(changes, c)
	}
	// Reverse order: a resource is deleted after everything that depends on
	// it in creation order (subscription before publication before slot;
	// every object of a database before the database).
	for _, c := range changes {
		for _, other := range changes {
			if other == c || other.Addr.Replication != c.Addr.Replication {
				continue
			}
			sameDB := other.Addr.Key == c.Addr.Key || (c.Addr.Kind == addrs.Database && DatabaseOf(other.Addr) == c.Addr.Key)
			if sameDB && deleteBefore(other.Addr.Kind, c.Addr.Kind) {
				c.DependsOn = append(c.DependsOn, other.Addr)
			}
		}
	}
	p.Changes = changes
	p.Sort()
	return p
}

// deleteBefore reports whether a resource of kind first must be deleted
// before one of kind then.
func deleteBefore(first, then addrs.Kind) bool {
	switch then {
	case addrs.Slot:
		return first == addrs.Subscription || first == addrs.Publication
	case addrs.Publication:
		return first == addrs.Subscription
	case addrs.DDLCapture:
		// The log table leaves the stream before it is dropped.
		return first == addrs.Subscription || first == addrs.Publication
	case addrs.Database:
		return first != addrs.Database && first != addrs.Globals
	}
	return false
}
