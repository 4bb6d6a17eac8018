package planner

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

// A column added on the source: the plan says the target's rows get the
// source's values by primary key, and warns when the target's table has
// no primary key to match its rows with.
func TestNewColumnBackfill(t *testing.T) {
	for _, keyed := range []bool{true, false} {
		src, dst, st := applied()
		c := src.Database("app").Table("public", "customers")
		c.Columns = append(c.Columns, catalog.Column{Name: "tier", Type: "integer"})
		if !keyed {
			dst.Database("app").Table("public", "customers").PrimaryKey = nil
		}
		p, diags := Build(Input{Config: mustConfig(""), Servers: servers(src, dst), Prior: st})
		var reason string
		for _, ch := range p.Changes {
			if ch.Addr.String() == `replication.main.schema["app"]` {
				reason = ch.Reason
			}
		}
		if !strings.Contains(reason, "public.customers.tier integer") || !strings.Contains(reason, "read from the source by primary key") {
			t.Errorf("keyed=%v: the schema update's reason does not name the fill: %q", keyed, reason)
		}
		if got := hasCode(diags, diag.Warning, CodeColumnBackfillNoKey); got == keyed {
			t.Errorf("keyed=%v: %s warned: %v (%v)", keyed, CodeColumnBackfillNoKey, got, diags)
		}
		for _, d := range diags {
			if d.Code == CodeColumnBackfillNoKey && !strings.Contains(d.Detail, "app.public.customers") {
				t.Errorf("the warning does not name the table: %s", d.Detail)
			}
		}
	}
}
