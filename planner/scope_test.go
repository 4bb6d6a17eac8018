package planner

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

// scopeServer has databases app and crm; both have public.users, only app
// has public.orders and audit.log.
func scopeServer() *catalog.Server {
	tbl := func(schema, name string) *catalog.Table { return &catalog.Table{Schema: schema, Name: name} }
	return &catalog.Server{Databases: []*catalog.Database{
		{Name: "app", AllowConn: true, Tables: []*catalog.Table{tbl("public", "users"), tbl("public", "orders"), tbl("audit", "log")}},
		{Name: "crm", AllowConn: true, Tables: []*catalog.Table{tbl("public", "users")}},
	}}
}

// TestResolveScopeBareTables checks the predecessor's table names without a
// database: resolved to the one database that has the table, refused with
// the candidates when several do or none does, and a misspelt exclusion is
// an error (it would replicate the table it meant to leave out).
func TestResolveScopeBareTables(t *testing.T) {
	bare := func(table string) lang.TableRef { return lang.TableRef{Schema: "public", Table: table} }
	r := &lang.Replication{Name: "main", ExcludeTables: []lang.TableRef{bare("orders")}}
	scope, ds := ResolveScope(r, scopeServer(), "source.prod")
	if ds.HasErrors() {
		t.Fatalf("unexpected errors: %v", ds.Err())
	}
	for _, d := range scope.Databases {
		for _, ts := range d.Tables {
			if ts.Ref.Table == "orders" {
				t.Errorf("excluded bare table still in scope: %s", ts.Ref)
			}
		}
	}
	if got := scope.Replication.ExcludeTables; len(got) != 1 || got[0].Database != "app" {
		t.Errorf("resolved exclusion = %v, want app.public.orders", got)
	}
	if r.ExcludeTables[0].Database != "" {
		t.Error("ResolveScope changed the configuration it was given")
	}

	r = &lang.Replication{Name: "main", SchemaOnly: []lang.TableRef{bare("users")}}
	_, ds = ResolveScope(r, scopeServer(), "source.prod")
	if !hasCode(ds, diag.Error, CodeTableAmbiguous) || !strings.Contains(ds.Err().Error(), "app.public.users, crm.public.users") {
		t.Errorf("ambiguous bare table: %v", ds.Err())
	}

	r = &lang.Replication{Name: "main", ExcludeTables: []lang.TableRef{bare("userz")}}
	_, ds = ResolveScope(r, scopeServer(), "source.prod")
	if !hasCode(ds, diag.Error, CodeTableNotFound) || !ds.HasErrors() {
		t.Errorf("misspelt bare exclusion: %v", ds)
	}

	// A misspelt db.table exclusion is an error too, and two dotted parts
	// that name schema.table get a hint.
	r = &lang.Replication{Name: "main", ExcludeTables: []lang.TableRef{{Database: "audit", Schema: "public", Table: "log"}}}
	_, ds = ResolveScope(r, scopeServer(), "source.prod")
	if !ds.HasErrors() || !strings.Contains(ds.Err().Error(), `if you meant schema "audit", write app.audit.log`) {
		t.Errorf("schema.table hint: %v", ds.Err())
	}
}
