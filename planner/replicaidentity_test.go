package planner

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/state"
)

// A table with a key whose inheritance child has none: publishing the
// parent publishes the child, so the plan refuses, naming the child and
// the nothing-identity table alike, in one error.
func TestReplicaIdentityInheritanceChildIsAnError(t *testing.T) {
	src := sourceServer()
	app := src.Database("app")
	authors := table("public", "authors", true, "id", "name")
	child := table("public", "distinguished_authors", false, "id", "name", "award")
	child.Inherits = []catalog.RelName{{Schema: "public", Name: "authors"}}
	nothing := table("public", "audit", true, "id")
	nothing.ReplicaIdentity = catalog.ReplicaIdentityNothing
	app.Tables = append(app.Tables, authors, child, nothing)
	cfg := loadConfig(t, `exclude_tables = ["app.distinguished_authors"]`)
	_, diags := Build(Input{Config: cfg, Servers: servers(src, emptyTarget()), Prior: state.New()})
	var errs []diag.Diagnostic
	for _, d := range diags {
		if d.Code == CodeNoReplicaIdentity {
			errs = append(errs, d)
		}
	}
	if len(errs) != 1 || errs[0].Severity != diag.Error {
		t.Fatalf("want one error %s, got %v", CodeNoReplicaIdentity, errs)
	}
	for _, want := range []string{
		`app.public.distinguished_authors (no primary key, inherits from public.authors and is published with it)`,
		`app.public.audit (REPLICA IDENTITY NOTHING)`,
		`--replica-identity-full=app.public.audit,app.public.distinguished_authors`,
		`sync { method = "xmin" }`, `exclude_tables`,
	} {
		if !strings.Contains(errs[0].Detail, want) {
			t.Errorf("error lacks %q:\n%s", want, errs[0].Detail)
		}
	}

	// Configured FULL for both clears the error and sets both to FULL.
	cfg = loadConfig(t, `table "app.distinguished_authors" { replica_identity = "full" }
table "app.audit" { replica_identity = "full" }`)
	p, diags := Build(Input{Config: cfg, Servers: servers(src, emptyTarget()), Prior: state.New()})
	if hasCode(diags, diag.Error, CodeNoReplicaIdentity) {
		t.Fatalf("still refused: %v", diags)
	}
	for _, c := range p.Changes {
		if c.Addr.Kind == addrs.Publication {
			got := c.After.(*plans.PublicationAttrs).SetReplicaIdentityFull
			if len(got) != 2 {
				t.Errorf("set_replica_identity_full = %v", got)
			}
		}
	}
}

// FULL already on the source but not on the target: the publication is
// updated so that apply sets it on the target too (issue 12 item 6).
func TestReplicaIdentityFullOnTheTargetToo(t *testing.T) {
	src, dst, st := applied()
	logs := table("public", "logs", false, "at", "line")
	logs.ReplicaIdentity = catalog.ReplicaIdentityFull
	src.Database("app").Tables = append(src.Database("app").Tables, logs)
	tlogs := *logs
	tlogs.ReplicaIdentity = catalog.ReplicaIdentityDefault
	dst.Database("app").Tables = append(dst.Database("app").Tables, &tlogs)
	cfg := loadConfig(t, `table "app.logs" { replica_identity = "full" }`)
	p, _ := Build(Input{Config: cfg, Servers: servers(src, dst), Prior: st})
	for _, c := range p.Changes {
		if c.Addr.Kind != addrs.Publication {
			continue
		}
		full := c.After.(*plans.PublicationAttrs).SetReplicaIdentityFull
		if len(full) != 1 || !strings.Contains(c.Reason, "replica identity FULL requested (on the source and the target)") {
			t.Fatalf("publication %s %q, full %v", c.Action, c.Reason, full)
		}
		return
	}
	t.Fatal("no publication change")
}
