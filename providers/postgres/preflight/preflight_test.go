package preflight

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// config is one auto replication of database app from srcURL to dstURL.
func config(srcURL, dstURL string) *lang.Config {
	return &lang.Config{
		Sources: map[string]*lang.Endpoint{"prod": {Kind: lang.KindSource, Name: "prod", URL: srcURL}},
		Targets: map[string]*lang.Endpoint{"new": {Kind: lang.KindTarget, Name: "new", URL: dstURL}},
		Replications: []*lang.Replication{{Name: "main", Source: "prod", Target: "new", Databases: []string{"app"},
			Sync: lang.Sync{Method: lang.SyncAuto}}},
	}
}

// run runs every check of cfg.
func run(t *testing.T, cfg *lang.Config) []Check {
	t.Helper()
	eps, err := endpoints.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return Run(context.Background(), cfg, eps)
}

// find returns the check subject/name, failing the test when absent.
func find(t *testing.T, cs []Check, subject, name string) Check {
	t.Helper()
	for _, c := range cs {
		if c.Subject == subject && c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s %q in:\n%s", subject, name, dump(cs))
	return Check{}
}

func has(cs []Check, subject, name string) bool {
	for _, c := range cs {
		if c.Subject == subject && c.Name == name {
			return true
		}
	}
	return false
}

func dump(cs []Check) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "  %d %s %s: %s\n", c.Status, c.Subject, c.Name, c.Detail)
	}
	return b.String()
}

func TestGoodPair(t *testing.T) {
	src, dst := pgtest.Start(t), pgtest.Start(t)
	src.CreateDatabase(t, "app")
	cs := run(t, config(src.URL("postgres"), dst.URL("postgres")))
	for _, name := range []string{"reachable", "version >= 12"} {
		if c := find(t, cs, "source.prod", name); c.Status != OK {
			t.Errorf("source %s: %+v", name, c)
		}
		if c := find(t, cs, "target.new", name); c.Status != OK {
			t.Errorf("target %s: %+v", name, c)
		}
	}
	if c := find(t, cs, "replication.main", "sync method"); c.Status != OK || c.Detail != "source has wal_level=logical: using logical replication" {
		t.Errorf("sync method: %+v", c)
	}
	for _, name := range []string{"target major >= source major", "databases exist on source", "source may replicate",
		"free replication slots", "free WAL senders", "target may create databases", "target can reach source"} {
		if c := find(t, cs, "replication.main", name); c.Status != OK {
			t.Errorf("%s: %+v", name, c)
		}
	}
}

func TestWalLevelReplica(t *testing.T) {
	src, dst := pgtest.Start(t, pgtest.WithSetting("wal_level", "replica")), pgtest.Start(t)
	src.CreateDatabase(t, "app")
	cfg := config(src.URL("postgres"), dst.URL("postgres"))
	cs := run(t, cfg)
	c := find(t, cs, "replication.main", "sync method")
	if c.Status != Warn || c.Detail != "source has wal_level=replica: using xmin-based sync (no source changes required)" ||
		!strings.Contains(c.Fix, "ALTER SYSTEM SET wal_level = logical") {
		t.Errorf("sync method: %+v", c)
	}
	if d := Diagnostics(cs); !slices.ContainsFunc(d, func(d diag.Diagnostic) bool {
		return d.Code == CodeSyncMethod && d.Severity == diag.Warning && d.Address == "replication.main"
	}) {
		t.Errorf("no sync-method warning among %+v", d)
	}
	if has(cs, "replication.main", "source may replicate") || has(cs, "replication.main", "target can reach source") {
		t.Errorf("xmin needs no replication privilege or reach check:\n%s", dump(cs))
	}

	cfg.Replications[0].Sync.Method = lang.SyncLogical
	cs = run(t, cfg)
	if c := find(t, cs, "replication.main", "wal_level for logical sync"); c.Status != Fail || c.Detail != "source has wal_level=replica" {
		t.Errorf("logical on replica: %+v", c)
	}
	if Failures(cs) == 0 {
		t.Error("logical on a wal_level=replica source must be a blocking failure")
	}
	if errs := Diagnostics(cs).Errors(); len(errs) != Failures(cs) || !slices.ContainsFunc(errs, func(d diag.Diagnostic) bool { return d.Code == CodeWalLevel }) {
		t.Errorf("errors %+v: want one per failure, with %s", errs, CodeWalLevel)
	}
}

// TestUserWithoutPrivileges pins the method decision: auto, wal_level
// logical and a source user without REPLICATION use xmin (as plan and
// sync do), so validate warns instead of claiming logical replication.
func TestUserWithoutPrivileges(t *testing.T) {
	src, dst := pgtest.Start(t), pgtest.Start(t)
	src.CreateDatabase(t, "app")
	src.CreateRole(t, "plain", "pw1")
	dst.CreateRole(t, "plain", "pw2")
	srcURL := strings.Replace(src.URL("postgres"), src.User()+":"+src.Password(), "plain:pw1", 1)
	dstURL := strings.Replace(dst.URL("postgres"), dst.User()+":"+dst.Password(), "plain:pw2", 1)
	cs := run(t, config(srcURL, dstURL))
	c := find(t, cs, "replication.main", "sync method")
	if c.Status != Warn || !strings.HasPrefix(c.Detail, "source user plain has neither REPLICATION nor rds_replication: using xmin-based sync") ||
		!strings.Contains(c.Fix, "ALTER ROLE \"plain\" WITH REPLICATION") {
		t.Errorf("sync method: %+v", c)
	}
	if has(cs, "replication.main", "source may replicate") {
		t.Errorf("xmin was chosen: no replication privilege is needed:\n%s", dump(cs))
	}
	if c := find(t, cs, "replication.main", "target may create databases"); c.Status != Fail || !strings.Contains(c.Fix, "ALTER ROLE \"plain\" WITH CREATEDB") {
		t.Errorf("target may create databases: %+v", c)
	}
}

func TestUnreachableServer(t *testing.T) {
	dst := pgtest.Start(t)
	cs := run(t, config("postgres://nobody@127.0.0.1:1/postgres?connect_timeout=3&sslmode=disable", dst.URL("postgres")))
	if c := find(t, cs, "source.prod", "reachable"); c.Status != Fail || c.Code != CodeReachable || !strings.Contains(c.Fix, "pg_hba.conf") {
		t.Errorf("reachable: %+v", c)
	}
	if c := find(t, cs, "target.new", "reachable"); c.Status != OK {
		t.Errorf("target reachable: %+v", c)
	}
	for _, c := range cs {
		if c.Subject == "replication.main" {
			t.Errorf("no replication check without source facts, got %+v", c)
		}
	}
}

func TestUnparsableURLIsACheck(t *testing.T) {
	cfg := config("postgres://h:notaport/x", "postgres://h/x")
	eps, err := endpoints.Resolve(cfg)
	if err == nil {
		t.Fatal("want a parse error")
	}
	_, cs := CheckServer(context.Background(), eps.All()[0])
	if len(cs) != 1 || cs[0].Name != "connection string" || cs[0].Code != CodeConnectionString || cs[0].Status != Fail || !strings.HasPrefix(cs[0].Detail, "source.prod: ") {
		t.Fatalf("got %+v", cs)
	}
}
