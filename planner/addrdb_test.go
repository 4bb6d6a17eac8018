package planner

import (
	"testing"

	"github.com/database-replicator/database-replicator/planner/addrs"
)

func TestDatabaseOf(t *testing.T) {
	for _, tc := range []struct {
		a    addrs.Addr
		want string
	}{
		{addrs.New("main", addrs.Database, "my.db"), "my.db"},
		{addrs.New("main", addrs.Slot, "app"), "app"},
		{addrs.New("main", addrs.Table, `"my.db".public.t`), "my.db"},
		{addrs.New("main", addrs.Xmin, "app.Sales EU.Orders"), "app"},
		{addrs.Addr{Replication: "main", Kind: addrs.Globals}, ""},
		{addrs.New("main", addrs.Table, "broken"), ""},
	} {
		if got := DatabaseOf(tc.a); got != tc.want {
			t.Errorf("DatabaseOf(%s) = %q, want %q", tc.a, got, tc.want)
		}
	}
}
