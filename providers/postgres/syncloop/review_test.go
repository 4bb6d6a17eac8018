package syncloop

import (
	"fmt"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
)

func TestHoldForReview(t *testing.T) {
	schema := addrs.New("main", addrs.Schema, "app")
	post := addrs.New("main", addrs.PostData, "app")
	p := &plans.Plan{Changes: []*plans.Change{
		{Addr: schema, Action: plans.Update, Reason: "schema drift: 1 other schema difference(s)", After: &plans.SchemaAttrs{Drift: &plans.SchemaDrift{}}},
		{Addr: post, Action: plans.NoOp, DependsOn: []addrs.Addr{schema}},
		{Addr: addrs.New("main", addrs.Publication, "app"), Action: plans.Update, DependsOn: []addrs.Addr{schema}},
		{Addr: addrs.New("main", addrs.Subscription, "app"), Action: plans.Update, DependsOn: []addrs.Addr{post}},
		{Addr: addrs.New("main", addrs.Subscription, "crm"), Action: plans.Update},
		{Addr: addrs.New("other", addrs.Schema, "app"), Action: plans.Update, After: &plans.SchemaAttrs{Drift: &plans.SchemaDrift{}}},
	}}
	cfg := &lang.Config{Replications: []*lang.Replication{
		{Name: "main", Policy: lang.Policy{OnSchemaDrift: lang.DriftPlan}},
		{Name: "other", Policy: lang.Policy{OnSchemaDrift: lang.DriftApply}},
	}}
	held := HoldForReview(p, cfg)
	if len(held) != 1 || held[0] != (Held{Replication: "main", Database: "app", Drift: "schema drift: 1 other schema difference(s)"}) {
		t.Fatalf("held = %+v", held)
	}
	// The drift update and everything after it (through a NoOp change
	// too) wait for the reviewed apply; the rest is left for sync.
	var left []string
	for _, ch := range p.Changes {
		left = append(left, fmt.Sprintf("%s %s", ch.Addr, ch.Action))
	}
	want := `[replication.main.post_data["app"] noop replication.main.subscription["crm"] update replication.other.schema["app"] update]`
	if fmt.Sprint(left) != want {
		t.Fatalf("left %v\nwant %s", left, want)
	}
	// Nothing left blocks sync: the other replication's drift repair and
	// the crm subscription are applied.
	if subs, blocking := Pending(p); subs != 2 || len(blocking) != 0 {
		t.Fatalf("Pending after hold: %d %v", subs, blocking)
	}
}
