package main

import (
	"context"
	"fmt"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/cutover"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
	"github.com/database-replicator/database-replicator/state"
)

// forwardReplications sets, on every database of a rollback, the forward
// replication its detach re-establishes: the publication, slot and
// subscription the configuration plans once the cutover record is gone
// (a plan over a copy of the state without it; nothing is changed). A
// database the configuration no longer plans logically is refused.
func forwardReplications(ctx context.Context, a *app, cfg *lang.Config, eps *endpoints.Set, st *state.State, dbs []*cutover.Database) error {
	prior := st.DeepCopy()
	for _, db := range dbs {
		prior.RemoveResource(addrs.New(db.Replication, addrs.Cutover, db.Name).String())
	}
	plan, diags, err := planning.Make(ctx, planning.Input{Config: cfg, Endpoints: eps, Prior: prior, Log: a.log})
	if err != nil {
		return fmt.Errorf("plan the forward replication to re-establish: %w", err)
	}
	for _, db := range dbs {
		fwd := &cutover.Forward{}
		for _, c := range plan.Changes {
			if c.Addr.Replication != db.Replication || c.Addr.Key != db.Name {
				continue
			}
			switch at := c.After.(type) {
			case *plans.PublicationAttrs:
				fwd.Publication = at
			case *plans.SlotAttrs:
				fwd.Slot = at
			case *plans.SubscriptionAttrs:
				fwd.Subscription = at
			}
		}
		if err := cutover.CheckForward(fwd); err != nil {
			return fmt.Errorf("%s: cannot replicate forward again after the rollback: %w", db.Address(), err)
		}
		for _, d := range diags.Errors() {
			if db.Record.Phase == plans.CutoverBackDetaching {
				// An earlier run's detach may have created them already:
				// the plan calls them not managed; the detach takes them.
				break
			}
			if d.Address == "" || d.Address == addrs.New(db.Replication, addrs.Publication, db.Name).String() ||
				d.Address == addrs.New(db.Replication, addrs.Slot, db.Name).String() || d.Address == addrs.New(db.Replication, addrs.Subscription, db.Name).String() {
				return fmt.Errorf("%s: cannot replicate forward again after the rollback: %s: %s", db.Address(), d.Summary, d.Detail)
			}
		}
		db.Forward = fwd
	}
	return nil
}

// reforwarded records db's re-established forward replication as apply
// would (publication, slot and subscription done; the table records stay
// as copied) and forgets its cutover record.
func reforwarded(ctx context.Context, backend state.Backend, st *state.State, db *cutover.Database) error {
	f := db.Forward
	pub := *f.Publication
	pub.DropForTableSync = nil
	slot := *f.Slot
	slot.DisableSubscription = ""
	sub := *f.Subscription
	sub.RefreshPublication, sub.StopApplying = nil, nil
	for _, at := range []plans.Attrs{&pub, &slot, &sub} {
		addr := addrs.New(db.Replication, at.Kind(), db.Name).String()
		st.SetResource(&state.Resource{Address: addr, Kind: string(at.Kind()), Status: state.StatusDone, Attributes: plans.EncodeAttrs(at)})
	}
	st.RemoveResource(addrs.New(db.Replication, addrs.Cutover, db.Name).String())
	return backend.Write(ctx, st)
}
