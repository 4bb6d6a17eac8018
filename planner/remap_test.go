package planner

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/schemacompare"
	"github.com/database-replicator/database-replicator/state"
)

func remapScope(targets map[string]lang.TableRef) *Scope {
	ds := &DatabaseScope{Name: "app", Source: &catalog.Database{Name: "app", Schemas: []string{"public", "s1"},
		Sequences: []*catalog.Sequence{{Schema: "s1", Name: "t_id_seq", OwnedByTable: "t"}, {Schema: "public", Name: "free_seq"}}}}
	for _, name := range []string{"s1.t", "s1.u", "public.keep"} {
		parts := strings.SplitN(name, ".", 2)
		ref := lang.TableRef{Database: "app", Schema: parts[0], Table: parts[1]}
		ts := &TableScope{Ref: ref, Target: ref}
		if to, ok := targets[name]; ok {
			ts.Target = to
		}
		ds.Tables = append(ds.Tables, ts)
	}
	return &Scope{Databases: []*DatabaseScope{ds}}
}

func TestSourceNamedTarget(t *testing.T) {
	scope := remapScope(map[string]lang.TableRef{"s1.t": {Database: "app", Schema: "s2", Table: "t2"}})
	dst := &catalog.Server{Databases: []*catalog.Database{
		{Name: "app", Tables: []*catalog.Table{{Schema: "s2", Name: "t2"}, {Schema: "s1", Name: "u"}, {Schema: "s1", Name: "t"}, {Schema: "public", Name: "keep"}}},
		{Name: "other", Tables: []*catalog.Table{{Schema: "s2", Name: "t2"}}},
	}}
	view := sourceNamedTarget(dst, scope)
	db := view.Database("app")
	if db.Table("s1", "t") == nil || db.Table("s2", "t2") != nil {
		t.Errorf("remapped table not under its source name in the view: %+v", db.Tables)
	}
	if n := len(db.Tables); n != 3 {
		t.Errorf("view has %d tables, want 3 (a stray table under the source name hidden)", n)
	}
	if dst.Database("app").Table("s2", "t2") == nil || view.Database("other").Table("s2", "t2") == nil {
		t.Error("the server itself, or another database, was changed")
	}
	if plain := remapScope(nil); sourceNamedTarget(dst, plain) != dst {
		t.Error("without remapping the server is not returned as it is")
	}
}

func TestRemapCollision(t *testing.T) {
	var diags diag.Diagnostics
	b := &builder{r: &lang.Replication{Name: "main"}, diags: &diags, dstName: "target.replica"}
	b.checkRemapCollisions(remapScope(map[string]lang.TableRef{"s1.t": {Database: "app", Schema: "public", Table: "keep"}}))
	if len(diags) != 1 || diags[0].Code != CodeRemapCollision || !strings.Contains(diags[0].Detail, "app.s1.t is remapped to public.keep") {
		t.Fatalf("diagnostics: %v", diags)
	}
	diags = nil
	b.checkRemapCollisions(remapScope(map[string]lang.TableRef{"s1.t": {Database: "app", Schema: "s2", Table: "t"}}))
	if len(diags) != 0 {
		t.Errorf("unexpected diagnostics: %v", diags)
	}
}

func TestSchemaCompareScopeLeavesOutRemapped(t *testing.T) {
	scope := remapScope(map[string]lang.TableRef{"s1.t": {Database: "app", Schema: "s2", Table: "t"}})
	inScope, ignore := scope.Databases[0].SchemaCompareScope(nil)
	if inScope("s1", "t") || inScope("s2", "t") || !inScope("s1", "u") || !inScope("public", "keep") {
		t.Error("scope: remapped tables must be left out, the others kept")
	}
	for _, d := range []schemacompare.Difference{
		{Kind: "schema", Object: "s2", Problem: "extra"},
		{Kind: "sequence", Object: "s1.t_id_seq", Problem: "missing"},
		{Kind: "sequence", Object: "s2.t_id_seq", Problem: "extra"},
	} {
		if !ignore(d) {
			t.Errorf("%+v not ignored", d)
		}
	}
	for _, d := range []schemacompare.Difference{
		{Kind: "schema", Object: "s1", Problem: "missing"},
		{Kind: "sequence", Object: "public.free_seq", Problem: "missing"},
	} {
		if ignore(d) {
			t.Errorf("%+v ignored", d)
		}
	}
}

func TestRemapLimits(t *testing.T) {
	to := map[string]lang.TableRef{"s1.t": {Database: "app", Schema: "s2", Table: "t2"}}
	check := func(scope *Scope, prior *state.State) diag.Diagnostics {
		var diags diag.Diagnostics
		b := &builder{r: &lang.Replication{Name: "main"}, diags: &diags, dstName: "target.replica", in: Input{Prior: prior}}
		b.checkRemapLimits(scope)
		return diags
	}
	plain := remapScope(to)
	for _, ts := range plain.Databases[0].Tables {
		ts.Source = &catalog.Table{Schema: ts.Ref.Schema, Name: ts.Ref.Table, Kind: catalog.KindTable}
	}
	if d := check(plain, nil); len(d) != 0 {
		t.Fatalf("an ordinary remapped table: %v", d)
	}
	for _, kind := range []struct {
		name string
		tbl  catalog.Table
	}{{"partitioned", catalog.Table{Kind: catalog.KindPartitioned}}, {"partition", catalog.Table{Kind: catalog.KindTable, Parent: "s1.parent"}}} {
		scope := remapScope(to)
		scope.Databases[0].Tables[0].Source = &kind.tbl
		d := check(scope, nil)
		if len(d) != 1 || d[0].Code != CodeRemapUnsupported || !strings.Contains(d[0].Detail, "app.s1.t is remapped to s2.t2") {
			t.Errorf("%s: %v", kind.name, d)
		}
	}
	// Copied under one name, then remapped to another (or back to the
	// source's): refused; the same target again is fine.
	recorded := func(attrs *plans.TableAttrs) *state.State {
		st := state.New()
		st.SetResource(&state.Resource{Address: "replication.main.table[\"app.s1.t\"]", Kind: "table", Attributes: plans.EncodeAttrs(attrs), Status: state.StatusDone})
		return st
	}
	if d := check(plain, recorded(&plans.TableAttrs{TargetSchema: "s2", TargetTable: "t2"})); len(d) != 0 {
		t.Errorf("unchanged target: %v", d)
	}
	for name, tc := range map[string]struct {
		attrs *plans.TableAttrs
		scope *Scope
		want  string
	}{
		"remapped after the copy": {&plans.TableAttrs{}, plain, "app.s1.t was copied to s1.t on target.replica and is now remapped to s2.t2"},
		"another target":          {&plans.TableAttrs{TargetSchema: "s3", TargetTable: "t"}, plain, "copied to s3.t"},
		"remapping removed":       {&plans.TableAttrs{TargetSchema: "s2", TargetTable: "t2"}, remapScope(nil), "now remapped to s1.t"},
	} {
		d := check(tc.scope, recorded(tc.attrs))
		if len(d) != 1 || d[0].Code != CodeRemapChanged || !strings.Contains(d[0].Detail, tc.want) {
			t.Errorf("%s: %v", name, d)
		}
	}
}
