package planner

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
)

func TestCheckPreventDestroy(t *testing.T) {
	cfg := &lang.Config{Replications: []*lang.Replication{
		{Name: "open"},
		{Name: "kept", Policy: lang.Policy{PreventDestroy: true}},
	}}
	plan := func(addrs ...addrs.Addr) *plans.Plan {
		p := &plans.Plan{}
		for _, a := range addrs {
			p.Changes = append(p.Changes, &plans.Change{Addr: a, Action: plans.Delete})
		}
		return p
	}
	if err := CheckPreventDestroy(cfg, plan(addrs.New("open", addrs.Slot, "app"))); err != nil {
		t.Errorf("unprotected replication refused: %v", err)
	}
	if err := CheckPreventDestroy(cfg, plan(addrs.New("kept", addrs.Globals, "roles"))); err != nil {
		t.Errorf("globals of a protected replication refused: %v", err)
	}
	err := CheckPreventDestroy(cfg, plan(addrs.New("open", addrs.Slot, "app"), addrs.New("kept", addrs.Publication, "app")))
	if err == nil || !strings.Contains(err.Error(), "replication.kept has policy.prevent_destroy = true") {
		t.Fatalf("err = %v, want one naming replication.kept", err)
	}
}
