package planning

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
	"github.com/database-replicator/database-replicator/state"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestIntrospectAllAndCheckFilters(t *testing.T) {
	src := pgtest.Start(t)
	src.CreateDatabase(t, "app")
	src.Exec(t, "app", "CREATE TABLE items (id int PRIMARY KEY, n int); CREATE TABLE y (id int)")
	src.Exec(t, "app", "CREATE PUBLICATION pub FOR TABLE items WHERE (n > 0)")
	cfg := &lang.Config{
		Sources: map[string]*lang.Endpoint{"prod": {Kind: lang.KindSource, Name: "prod", URL: src.URL("postgres")}},
		Targets: map[string]*lang.Endpoint{"new": {Kind: lang.KindTarget, Name: "new", URL: src.URL("postgres")}},
		Replications: []*lang.Replication{{Name: "main", Source: "prod", Target: "new", Tables: []*lang.TableConfig{
			{Ref: lang.TableRef{Database: "app", Schema: "public", Table: "items"}, Where: "N>0"},
			{Ref: lang.TableRef{Database: "app", Schema: "public", Table: "items_gone"}, Where: "n > 0"},
		}, Sync: lang.Sync{Publication: "pub"}}},
	}
	eps, err := endpoints.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	servers, err := IntrospectAll(ctx, eps, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := servers["source.prod"]
	if s == nil || servers["target.new"] == nil {
		t.Fatalf("servers %v, want source.prod and target.new", servers)
	}
	if db := s.Database("app"); db == nil || db.Table("public", "items") == nil {
		t.Fatal("IntrospectAll did not read database app in full")
	}
	checks := CheckFilters(ctx, cfg, eps, servers, nil)
	if len(checks) != 1 {
		t.Fatalf("checks %v, want one (the missing table is the planner's to report)", checks)
	}
	if c := checks["app.public.items"]; c.Invalid != "" || c.Deparsed != "(n > 0)" {
		t.Fatalf("check %+v, want a valid filter that means the stored (n > 0)", c)
	}

	// A filter that escapes its parentheses is refused before it reaches
	// the server; nothing on the source changes.
	cfg.Replications[0].Tables[0].Where = "1=1); commit; drop table y; --"
	if c := CheckFilters(ctx, cfg, eps, servers, nil)["app.public.items"]; c.Invalid == "" {
		t.Fatalf("check %+v, want the injection refused", c)
	}
	if n := src.QueryInt(t, "app", "SELECT count(*) FROM pg_class WHERE relname = 'y'"); n != 1 {
		t.Fatal("CheckFilters dropped table y")
	}
	if n := src.QueryInt(t, "app", "SELECT count(*) FROM pg_publication"); n != 1 {
		t.Fatalf("%d publications after CheckFilters, want the one it found", n)
	}

	cfg.Replications[0].Tables[0].Where = "no_such_column > 0"
	if c := CheckFilters(ctx, cfg, eps, servers, nil)["app.public.items"]; c.Invalid == "" {
		t.Fatalf("check %+v, want the server's complaint about no_such_column", c)
	}
}

func TestIntrospectAllNamesTheFailingEndpoint(t *testing.T) {
	cfg := &lang.Config{
		Sources:      map[string]*lang.Endpoint{"prod": {Kind: lang.KindSource, Name: "prod", URL: "postgres://127.0.0.1:1/x?connect_timeout=2"}},
		Targets:      map[string]*lang.Endpoint{"new": {Kind: lang.KindTarget, Name: "new", URL: "postgres://127.0.0.1:1/x?connect_timeout=2"}},
		Replications: []*lang.Replication{{Name: "main", Source: "prod", Target: "new"}},
	}
	eps, err := endpoints.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = IntrospectAll(context.Background(), eps, nil, nil)
	if err == nil || !(strings.HasPrefix(err.Error(), "source.prod: ") || strings.HasPrefix(err.Error(), "target.new: ")) {
		t.Fatalf("error %v, want one naming the endpoint", err)
	}
}

// A server's databases outside the configuration are listed but never
// read (their tables could be thousands), and their sizes are not walked;
// a database the state still records for the replication is read, so its
// removal can be planned.
func TestIntrospectAllReadsOnlyTheDatabasesInScope(t *testing.T) {
	src := pgtest.Start(t)
	for _, db := range []string{"app", "old", "other"} {
		src.CreateDatabase(t, db)
		src.Exec(t, db, "CREATE TABLE items (id int PRIMARY KEY)")
	}
	cfg := &lang.Config{
		Sources:      map[string]*lang.Endpoint{"prod": {Kind: lang.KindSource, Name: "prod", URL: src.URL("postgres")}},
		Targets:      map[string]*lang.Endpoint{"new": {Kind: lang.KindTarget, Name: "new", URL: src.URL("postgres")}},
		Replications: []*lang.Replication{{Name: "main", Source: "prod", Target: "new", Databases: []string{"app"}}},
	}
	prior := state.New()
	prior.SetResource(&state.Resource{Address: `replication.main.table["old.public.items"]`, Kind: "table"})
	prior.SetResource(&state.Resource{Address: `replication.other.database["other"]`, Kind: "database"})
	scope := DatabasesInScope(cfg, prior)
	if got := strings.Join(scope["source.prod"], ","); got != "app,old" {
		t.Fatalf("source databases in scope %q, want app,old", got)
	}
	eps, err := endpoints.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	servers, err := IntrospectAll(context.Background(), eps, scope, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := servers["source.prod"]
	for _, db := range []string{"app", "old"} {
		if d := s.Database(db); d == nil || d.Table("public", "items") == nil || d.SizeBytes == 0 {
			t.Fatalf("database %s not read in full: %+v", db, d)
		}
	}
	if d := s.Database("other"); d == nil || len(d.Tables) != 0 || d.SizeBytes != 0 {
		t.Fatalf("database other (out of scope) was read: %+v", d)
	}

	// Without a database list (every database), the endpoint is read whole.
	cfg.Replications[0].Databases = nil
	if _, scoped := DatabasesInScope(cfg, prior)["source.prod"]; scoped {
		t.Fatal("a replication of every database must leave its source unscoped")
	}
}
