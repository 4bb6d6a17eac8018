package plans

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/planner/addrs"
)

// TestPlanWithout checks that Without drops exactly the named kinds and
// keeps the order of the rest.
func TestPlanWithout(t *testing.T) {
	mk := func(kind addrs.Kind, key string) *Change {
		return &Change{Addr: addrs.Addr{Replication: "main", Kind: kind, Key: key}, Action: Create}
	}
	p := &Plan{Changes: []*Change{mk(addrs.Database, "a"), mk(addrs.Subscription, "a"), mk(addrs.Slot, "a"), mk(addrs.Subscription, "b")}}
	p.Without(addrs.Subscription)
	var got []string
	for _, c := range p.Changes {
		got = append(got, c.Addr.String())
	}
	want := []string{mk(addrs.Database, "a").Addr.String(), mk(addrs.Slot, "a").Addr.String()}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Without(subscription) = %v, want %v", got, want)
	}
}
