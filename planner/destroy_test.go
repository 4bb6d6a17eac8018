package planner

import (
	"testing"

	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
)

func TestDestroyOrderAndDropData(t *testing.T) {
	_, _, st := applied()
	p := Destroy(st, false, "destroy")
	byAddr := map[string]*plans.Change{}
	for _, c := range p.Changes {
		if c.Action != plans.Delete {
			t.Fatalf("%s: %s", c.Addr, c.Action)
		}
		byAddr[c.Addr.String()] = c
	}
	slot := byAddr[`replication.main.slot["app"]`]
	if !hasDep(slot, `replication.main.subscription["app"]`) || !hasDep(slot, `replication.main.publication["app"]`) {
		t.Fatalf("slot deleted before subscription/publication: %v", slot.DependsOn)
	}
	if pub := byAddr[`replication.main.publication["app"]`]; !hasDep(pub, `replication.main.subscription["app"]`) {
		t.Fatalf("publication deleted before subscription: %v", pub.DependsOn)
	}
	db := byAddr[`replication.main.database["app"]`]
	if db.After != nil {
		t.Fatalf("without --drop-data the database stays: %v", db.After)
	}
	if !hasDep(db, `replication.main.table["app.public.orders"]`) {
		t.Fatalf("database forgotten before its tables: %v", db.DependsOn)
	}
	p = Destroy(st, true, "destroy")
	for _, c := range p.Changes {
		if c.Addr.Kind == addrs.Database && wire(c.After)["drop_data"] != true {
			t.Fatalf("--drop-data not planned: %v", c.After)
		}
	}
}
