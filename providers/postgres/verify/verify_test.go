package verify

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestSelected(t *testing.T) {
	users := lang.TableRef{Database: "app", Schema: "public", Table: "users"}
	orders := lang.TableRef{Database: "app", Schema: "public", Table: "orders"}
	if !Selected(nil, users) || !Selected([]lang.TableRef{users}, users) || Selected([]lang.TableRef{users}, orders) {
		t.Fatal("Selected: all when none given, else only those given")
	}
}

// TestRun compares two databases' tables: equal, different, schema-only
// (skipped), and --table limiting the scope.
func TestRun(t *testing.T) {
	src, dst := pgtest.Start(t), pgtest.Start(t)
	for _, c := range []*pgtest.Cluster{src, dst} {
		c.CreateDatabase(t, "app")
		c.Exec(t, "app", "CREATE TABLE same (id int PRIMARY KEY, v text)")
		c.Exec(t, "app", "CREATE TABLE drift (id int PRIMARY KEY, v text)")
		c.Exec(t, "app", "CREATE TABLE shape (id int PRIMARY KEY)")
		c.Exec(t, "app", "INSERT INTO same SELECT g, 'v' || g FROM generate_series(1, 100) g")
		c.Exec(t, "app", "INSERT INTO drift SELECT g, 'v' || g FROM generate_series(1, 100) g")
	}
	src.Exec(t, "app", "INSERT INTO shape VALUES (1)")
	dst.Exec(t, "app", "DELETE FROM drift WHERE id = 7")
	dst.Exec(t, "app", "UPDATE drift SET v = 'changed' WHERE id = 9")
	cfg := &lang.Config{
		Sources: map[string]*lang.Endpoint{"prod": {Kind: lang.KindSource, Name: "prod", URL: src.URL("postgres")}},
		Targets: map[string]*lang.Endpoint{"new": {Kind: lang.KindTarget, Name: "new", URL: dst.URL("postgres")}},
		Replications: []*lang.Replication{{Name: "main", Source: "prod", Target: "new", Databases: []string{"app"},
			Sync:       lang.Sync{Method: lang.SyncXmin},
			SchemaOnly: []lang.TableRef{{Database: "app", Schema: "public", Table: "shape"}}}},
	}
	eps, err := endpoints.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rep, err := Run(ctx, Input{Config: cfg, Endpoints: eps, MaxKeys: 10})
	if err != nil {
		t.Fatal(err)
	}
	vs, differ := rep.Tables, rep.TablesDiffer
	if rep.ObjectsDiffer != 0 || len(rep.Schema) != 1 || rep.Schema[0].Result != Equal || rep.Schema[0].Objects < 8 {
		t.Errorf("schema: %+v; want equal (same DDL on both sides)", rep.Schema)
	}
	got := map[string]Verdict{}
	for _, v := range vs {
		got[v.Table] = v
	}
	if differ != 1 || len(vs) != 2 {
		t.Fatalf("%d differ, verdicts %+v; want 1 of 2 (the schema-only table is skipped)", differ, vs)
	}
	if v := got["app.public.same"]; v.Result != Equal || v.Detail.SourceRows != 100 {
		t.Errorf("same: %+v", v)
	}
	d := got["app.public.drift"]
	if d.Result != Different || strings.Join(d.Detail.Missing, ",") != "(7)" || strings.Join(d.Detail.Different, ",") != "(9)" {
		t.Errorf("drift: %+v", d)
	}

	only := []lang.TableRef{{Database: "app", Schema: "public", Table: "same"}}
	rep, err = Run(ctx, Input{Config: cfg, Endpoints: eps, Tables: only, MaxKeys: 10, SkipSchema: true})
	if err != nil || rep.TablesDiffer != 0 || len(rep.Tables) != 1 || rep.Tables[0].Table != "app.public.same" || rep.Schema != nil {
		t.Fatalf("--table same --data-only: %+v %v", rep, err)
	}
}
