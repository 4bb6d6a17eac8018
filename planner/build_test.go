package planner

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/state"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The planner is a pure function of configuration, introspection and
// state. These tests feed it the introspection model of servers in the
// shapes the scenarios need; the end-to-end versions run against real
// clusters in cmd/database-replicator/testdata/live.

const baseConfig = `
source "prod" {
  url = "postgres://replicator@127.0.0.1:5432/postgres"
}
target "replica" {
  url = "postgres://admin@127.0.0.1:5433/postgres"
}
replication "main" {
  source    = source.prod
  target    = target.replica
  databases = ["app"]
  table "app.events" {
    where = "id <= 10"
  }
  %EXTRA%
}
`

func loadConfig(t *testing.T, extra string) *lang.Config {
	t.Helper()
	cfg, err := configWith(extra)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// configWith loads baseConfig with extra lines in the replication block.
func configWith(extra string) (*lang.Config, error) {
	src := strings.Replace(baseConfig, "%EXTRA%", extra, 1)
	cfg, diags := lang.LoadSources(map[string][]byte{"replication.hcl": []byte(src)}, lang.LoadOptions{})
	if diags.HasErrors() {
		return nil, diags.Err()
	}
	return cfg, nil
}

func table(schema, name string, pk bool, cols ...string) *catalog.Table {
	t := &catalog.Table{Schema: schema, Name: name, Kind: catalog.KindTable, ReplicaIdentity: catalog.ReplicaIdentityDefault, EstimatedRows: 100, Bytes: 8192}
	for _, c := range cols {
		t.Columns = append(t.Columns, catalog.Column{Name: c, Type: "integer"})
	}
	if pk {
		t.PrimaryKey = []string{cols[0]}
	}
	return t
}

func fk(from, to, name string) catalog.ForeignKey {
	return catalog.ForeignKey{Name: name, FromSchema: "public", FromTable: from, Columns: []string{to + "_id"}, RefSchema: "public", RefTable: to, RefColumns: []string{"id"}}
}

// sourceServer is the source: database app with customers, orders
// (FK to customers) and events, plus a sequence.
func sourceServer() *catalog.Server {
	orders := table("public", "orders", true, "id", "customers_id")
	orders.ForeignKeys = []catalog.ForeignKey{fk("orders", "customers", "orders_customers_id_fkey")}
	return &catalog.Server{
		VersionNum: 150018, Version: "15.18", WalLevel: "logical", CurrentUser: "replicator",
		Privileges: catalog.Privileges{Replication: true},
		Databases: []*catalog.Database{
			{Name: "postgres", AllowConn: true, Introspected: true},
			{Name: "app", Encoding: "UTF8", AllowConn: true, Introspected: true, Schemas: []string{"public"},
				Tables:    []*catalog.Table{table("public", "customers", true, "id", "name"), table("public", "events", true, "id", "kind"), orders},
				Sequences: []*catalog.Sequence{{Schema: "public", Name: "orders_id_seq", OwnedByTable: "orders", OwnedByColumn: "id"}}},
		},
	}
}

func emptyTarget() *catalog.Server {
	return &catalog.Server{VersionNum: 150018, Version: "15.18", WalLevel: "logical",
		Databases: []*catalog.Database{{Name: "postgres", AllowConn: true, Introspected: true}}}
}

// applied returns source, target and state as apply leaves them.
func applied() (*catalog.Server, *catalog.Server, *state.State) {
	src := sourceServer()
	app := src.Database("app")
	app.Publications = []*catalog.Publication{{Name: lang.DefaultPublication, Insert: true, Update: true, Delete: true, Truncate: true,
		Tables: []catalog.PublicationTable{{Schema: "public", Name: "customers"}, {Schema: "public", Name: "events", RowFilter: "(id <= 10)"}, {Schema: "public", Name: "orders"}}}}
	slot := SlotName(lang.DefaultSubscription, "app")
	src.Slots = []catalog.Slot{{Name: slot, Plugin: "pgoutput", SlotType: "logical", Database: "app", Active: true}}

	dst := emptyTarget()
	tapp := &catalog.Database{Name: "app", Encoding: "UTF8", AllowConn: true, Introspected: true, Schemas: []string{"public"}}
	for _, t := range app.Tables {
		c := *t
		tapp.Tables = append(tapp.Tables, &c)
	}
	tapp.Subscriptions = []*catalog.Subscription{{Name: lang.DefaultSubscription, Enabled: true, SlotName: slot, Publications: []string{lang.DefaultPublication},
		Tables: []catalog.SubscriptionTable{{Schema: "public", Name: "customers", State: catalog.SubStateReady}, {Schema: "public", Name: "events", State: catalog.SubStateReady}, {Schema: "public", Name: "orders", State: catalog.SubStateReady}}}}
	dst.Databases = append(dst.Databases, tapp)

	st := state.New()
	st.Lineage, st.Serial = "lineage-1", 7
	p, _ := Build(Input{Config: mustConfig(""), Servers: servers(sourceServer(), emptyTarget()), Prior: state.New()})
	for _, c := range p.Changes {
		st.SetResource(&state.Resource{Address: c.Addr.String(), Kind: string(c.Addr.Kind), Attributes: plans.EncodeAttrs(c.After), Status: state.StatusDone})
	}
	return src, dst, st
}

func mustConfig(extra string) *lang.Config {
	cfg, err := configWith(extra)
	if err != nil {
		panic(err)
	}
	return cfg
}

func servers(src, dst *catalog.Server) map[string]*catalog.Server {
	return map[string]*catalog.Server{"source.prod": src, "target.replica": dst}
}

// changes maps address to action for the non-noop changes.
func changes(p *plans.Plan) map[string]plans.Action {
	out := map[string]plans.Action{}
	for _, c := range p.Changes {
		if c.Action != plans.NoOp {
			out[c.Addr.String()] = c.Action
		}
	}
	return out
}

// codesOf returns the codes of the diagnostics of severity sev, in order.
func codesOf(ds diag.Diagnostics, sev diag.Severity) []diag.Code {
	var out []diag.Code
	for _, d := range ds {
		if d.Severity == sev {
			out = append(out, d.Code)
		}
	}
	return out
}

// hasCode reports whether a diagnostic of severity sev carries code.
func hasCode(ds diag.Diagnostics, sev diag.Severity, code diag.Code) bool {
	return slices.Contains(codesOf(ds, sev), code)
}

func errorsOf(ds diag.Diagnostics) []string {
	var out []string
	for _, d := range ds {
		if d.Severity == diag.Error {
			out = append(out, d.Summary+": "+d.Detail)
		}
	}
	return out
}

func TestFreshTargetCreatesEverythingInOrder(t *testing.T) {
	p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(sourceServer(), emptyTarget()), Prior: state.New()})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	want := []string{
		`replication.main.database["app"]`, `replication.main.globals`, `replication.main.schema["app"]`,
		`replication.main.publication["app"]`, `replication.main.slot["app"]`,
		`replication.main.table["app.public.customers"]`, `replication.main.table["app.public.events"]`, `replication.main.table["app.public.orders"]`,
		`replication.main.post_data["app"]`, `replication.main.sequences["app"]`, `replication.main.subscription["app"]`,
	}
	var got []string
	for _, c := range p.Changes {
		if c.Action != plans.Create {
			t.Errorf("%s: %s, want create", c.Addr, c.Action)
		}
		got = append(got, c.Addr.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s := p.Summary(); s.Add != len(want) || s.Change != 0 || s.Destroy != 0 {
		t.Fatalf("summary %+v", s)
	}
	// Every table copy runs inside the slot's snapshot: it depends on the slot.
	for _, c := range p.Changes {
		if c.Addr.Kind == addrs.Table && !hasDep(c, `replication.main.slot["app"]`) {
			t.Errorf("%s does not depend on the slot", c.Addr)
		}
		if c.Addr.Kind == addrs.Subscription && !hasDep(c, `replication.main.post_data["app"]`) {
			t.Errorf("subscription does not wait for post-data")
		}
	}
}

func hasDep(c *plans.Change, addr string) bool {
	for _, d := range c.DependsOn {
		if d.String() == addr {
			return true
		}
	}
	return false
}

func TestAppliedPairHasNoChanges(t *testing.T) {
	src, dst, st := applied()
	// The configuration says "id <= 10"; PostgreSQL stored "(id <= 10)".
	p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: st})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if p.HasChanges() {
		t.Fatalf("changes on an applied pair: %v", changes(p))
	}
	if out := planText(p); !strings.Contains(out, "Plan: 0 to add, 0 to change, 0 to destroy.") {
		t.Fatalf("text:\n%s", out)
	}
}

func TestDrift(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(src, dst *catalog.Server, st *state.State)
		extra  string
		want   map[string]plans.Action
		reason string
	}{
		{
			// The subscription's replication origin went with it: streaming
			// again from the slot could apply transactions twice, so the
			// database is copied again in a new slot's snapshot.
			name:   "dropped subscription",
			mutate: func(src, dst *catalog.Server, st *state.State) { dst.Database("app").Subscriptions = nil },
			want: map[string]plans.Action{
				`replication.main.subscription["app"]`:           plans.Create,
				`replication.main.slot["app"]`:                   plans.Replace,
				`replication.main.table["app.public.customers"]`: plans.Replace,
				`replication.main.table["app.public.events"]`:    plans.Replace,
				`replication.main.table["app.public.orders"]`:    plans.Replace,
				`replication.main.sequences["app"]`:              plans.Create,
			},
			reason: "took its replication progress with it",
		},
		{
			name:   "disabled subscription",
			mutate: func(src, dst *catalog.Server, st *state.State) { dst.Database("app").Subscriptions[0].Enabled = false },
			want:   map[string]plans.Action{`replication.main.subscription["app"]`: plans.Update},
			reason: "the subscription is disabled",
		},
		{
			name: "new table on the source",
			mutate: func(src, dst *catalog.Server, st *state.State) {
				app := src.Database("app")
				app.Tables = append(app.Tables, table("public", "invoices", true, "id", "total"))
			},
			// Streaming has started: the subscription's table sync copies
			// it (TestTableAddedAfterSubscription has the details).
			want: map[string]plans.Action{
				`replication.main.schema["app"]`:       plans.Update,
				`replication.main.publication["app"]`:  plans.Update,
				`replication.main.subscription["app"]`: plans.Update,
			},
			reason: "schema drift",
		},
		{
			name: "new column on the source",
			mutate: func(src, dst *catalog.Server, st *state.State) {
				c := src.Database("app").Table("public", "customers")
				c.Columns = append(c.Columns, catalog.Column{Name: "email", Type: "text"})
			},
			want:   map[string]plans.Action{`replication.main.schema["app"]`: plans.Update},
			reason: "public.customers.email text",
		},
		{
			name:   "changed filter",
			extra:  `table "app.customers" { where = "id > 0" }`,
			mutate: func(src, dst *catalog.Server, st *state.State) {},
			// Streaming goes on: the table sync copies it again
			// (TestFilterChangeWhileStreaming has the details).
			want: map[string]plans.Action{
				`replication.main.table["app.public.customers"]`: plans.Replace,
				`replication.main.publication["app"]`:            plans.Update,
				`replication.main.subscription["app"]`:           plans.Update,
			},
			reason: "filter changed from none (every row) to id > 0: removed from the publication, emptied on the target, and copied again by the subscription's table sync",
		},
		{
			name: "lost slot",
			mutate: func(src, dst *catalog.Server, st *state.State) {
				src.Slots = nil
			},
			want: map[string]plans.Action{
				`replication.main.slot["app"]`:                   plans.Replace,
				`replication.main.subscription["app"]`:           plans.Update,
				`replication.main.table["app.public.customers"]`: plans.Replace,
				`replication.main.table["app.public.events"]`:    plans.Replace,
				`replication.main.table["app.public.orders"]`:    plans.Replace,
				`replication.main.sequences["app"]`:              plans.Create,
				`replication.main.xmin["x"]`:                     "",
			},
			reason: "the slot is gone",
		},
		{
			name:   "table removed from scope",
			extra:  `exclude_tables = ["app.orders"]`,
			mutate: func(src, dst *catalog.Server, st *state.State) {},
			want: map[string]plans.Action{
				`replication.main.table["app.public.orders"]`: plans.Delete,
				`replication.main.publication["app"]`:         plans.Update,
			},
			reason: "no longer in the configuration",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, dst, st := applied()
			tt.mutate(src, dst, st)
			p, diags := Build(Input{Config: loadConfig(t, tt.extra), Servers: servers(src, dst), Prior: st})
			if errs := errorsOf(diags); len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			got := changes(p)
			for addr, want := range tt.want {
				if want == "" {
					continue
				}
				if got[addr] != want {
					t.Errorf("%s: %q, want %q (all: %v)", addr, got[addr], want, got)
				}
			}
			for addr := range got {
				if _, ok := tt.want[addr]; !ok {
					t.Errorf("unexpected change %s: %s", addr, got[addr])
				}
			}
			if out := planText(p); !strings.Contains(out, tt.reason) {
				t.Errorf("plan text lacks %q:\n%s", tt.reason, out)
			}
		})
	}
}

// TestTableAddedAfterSubscription: a table that joins the scope once the
// subscription streams cannot be copied in the slot's exported snapshot
// (it is gone). The schema update creates it on the target, the
// publication adds it, and the subscription's table sync copies it; the
// next plans show no change while it syncs and once it is ready.
func TestTableAddedAfterSubscription(t *testing.T) {
	const (
		schemaAddr = `replication.main.schema["app"]`
		pubAddr    = `replication.main.publication["app"]`
		subAddr    = `replication.main.subscription["app"]`
		tableAddr  = `replication.main.table["app.public.invoices"]`
	)
	src, dst, st := applied()
	app := src.Database("app")
	app.Tables = append(app.Tables, table("public", "invoices", true, "id", "total"))
	c := app.Table("public", "customers")
	c.Columns = append(c.Columns, catalog.Column{Name: "email", Type: "text"})

	p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: st})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	want := map[string]plans.Action{schemaAddr: plans.Update, pubAddr: plans.Update, subAddr: plans.Update}
	if got := changes(p); len(got) != len(want) || got[schemaAddr] != plans.Update || got[pubAddr] != plans.Update || got[subAddr] != plans.Update {
		t.Fatalf("changes %v, want %v", got, want)
	}
	byAddr := map[string]*plans.Change{}
	for _, c := range p.Changes {
		byAddr[c.Addr.String()] = c
	}
	schema, pub, sub, tbl := byAddr[schemaAddr], byAddr[pubAddr], byAddr[subAddr], byAddr[tableAddr]
	if tbl == nil || tbl.Action != plans.NoOp || wire(tbl.After)["copied_by"] != "table_sync" || !strings.Contains(tbl.Reason, "table sync") {
		t.Fatalf("the new table must not be copied in a snapshot: %+v", tbl)
	}
	if got := wire(schema.After)["missing_tables"]; !reflectEqual(got, []string{"app.public.invoices"}) {
		t.Errorf("missing_tables %v", got)
	}
	if got := wire(schema.After)["add_columns"]; !reflectEqual(got, map[string]any{"app.public.customers": []string{"email"}}) {
		t.Errorf("add_columns %v", got)
	}
	if !strings.Contains(pub.Reason, "published tables differ") {
		t.Errorf("publication reason %q", pub.Reason)
	}
	if !reflectEqual(wire(sub.After)["refresh_publication"], []string{"app.public.invoices"}) || !reflectEqual(wire(sub.After)["table_sync"], []string{"app.public.invoices"}) {
		t.Errorf("subscription after %v", sub.After)
	}
	if !strings.Contains(sub.Reason, "app.public.invoices added to the scope after streaming started: copied by the subscription's table sync (REFRESH PUBLICATION WITH copy_data = true)") {
		t.Errorf("subscription reason %q", sub.Reason)
	}
	// schema update -> publication update -> subscription refresh.
	if !hasDep(pub, schemaAddr) || !hasDep(sub, pubAddr) {
		t.Errorf("dependencies: publication %v, subscription %v", pub.DependsOn, sub.DependsOn)
	}
	out := planText(p)
	for _, s := range []string{"replication.main.subscription[\"app\"] will be updated in-place", `+ refresh_publication = ["app.public.invoices"]`, "public.customers.email text"} {
		if !strings.Contains(out, s) {
			t.Errorf("plan text lacks %q:\n%s", s, out)
		}
	}

	// Apply: record the changes as the executor does, and make the target
	// look as the provider leaves it.
	for _, c := range p.Changes {
		if c.Action == plans.NoOp {
			continue
		}
		attrs := map[string]any{}
		for k, v := range plans.EncodeAttrs(c.After) {
			attrs[k] = v
		}
		delete(attrs, "refresh_publication")
		st.SetResource(&state.Resource{Address: c.Addr.String(), Kind: string(c.Addr.Kind), Attributes: attrs, Status: state.StatusDone})
	}
	tapp := dst.Database("app")
	tapp.Tables = append(tapp.Tables, table("public", "invoices", true, "id", "total"))
	tc := tapp.Table("public", "customers")
	tc.Columns = append(tc.Columns, catalog.Column{Name: "email", Type: "text"})
	app.Publications[0].Tables = append(app.Publications[0].Tables, catalog.PublicationTable{Schema: "public", Name: "invoices"})
	tsub := tapp.Subscriptions[0]

	for _, tt := range []struct {
		state   string
		warning string
	}{
		{catalog.SubStateDataSync, "Table sync in progress"},
		{catalog.SubStateSyncDone, "Table sync in progress"},
		{catalog.SubStateReady, ""},
	} {
		tsub.Tables = append(tsub.Tables[:3:3], catalog.SubscriptionTable{Schema: "public", Name: "invoices", State: tt.state})
		p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: st})
		if errs := errorsOf(diags); len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
		if p.HasChanges() {
			t.Errorf("state %s: changes %v, want none (no copy planned while the table syncs)", tt.state, changes(p))
		}
		found := false
		for _, d := range diags {
			found = found || (d.Code == CodeTableSyncInProgress && d.Summary == "Table sync in progress")
		}
		if found != (tt.warning != "") {
			t.Errorf("state %s: table sync warning %v, want %v", tt.state, found, tt.warning != "")
		}
	}

	// A later recopy of the database truncates the table the table sync
	// filled: the state knows it although it has no table record.
	src.Slots = nil
	p, diags = Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: st})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if got := changes(p)[tableAddr]; got != plans.Replace {
		t.Errorf("after a lost slot the table synced by the subscription is %q, want replace", got)
	}
}

// TestInterruptedDriftUpdateIsFinished: an apply stopped after the drift
// update created a table and before its primary key and indexes: the table
// exists, so only the state tells that the update must run again.
func TestInterruptedDriftUpdateIsFinished(t *testing.T) {
	src, dst, st := applied()
	src.Database("app").Tables = append(src.Database("app").Tables, table("public", "invoices", true, "id", "total"))
	dst.Database("app").Tables = append(dst.Database("app").Tables, table("public", "invoices", false, "id", "total"))
	a := `replication.main.schema["app"]`
	st.SetResource(&state.Resource{Address: a, Kind: "schema", Status: state.StatusInProgress,
		Attributes: map[string]any{"missing_tables": []any{"app.public.invoices"}, "missing_columns": []any{}}})
	p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: st})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	for _, c := range p.Changes {
		if c.Addr.String() != a {
			continue
		}
		if c.Action != plans.Update || !reflectEqual(wire(c.After)["missing_tables"], []string{"app.public.invoices"}) || !strings.Contains(c.Reason, "interrupted") {
			t.Fatalf("schema change %s %v (%s), want the update again", c.Action, c.After, c.Reason)
		}
		return
	}
	t.Fatal("no schema change")
}

// reflectEqual compares through JSON, as state round trips do.
func reflectEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestInterruptedSnapshotRecopiesTheDatabase(t *testing.T) {
	src, dst, st := applied()
	// apply stopped after the slot and one table: the subscription and the
	// other tables were never finished.
	dst.Database("app").Subscriptions = nil
	st.RemoveResource(`replication.main.subscription["app"]`)
	st.Resource(`replication.main.table["app.public.orders"]`).Status = state.StatusInProgress
	st.RemoveResource(`replication.main.table["app.public.events"]`)
	p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: st})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	got := changes(p)
	for addr, want := range map[string]plans.Action{
		`replication.main.slot["app"]`:                   plans.Replace,
		`replication.main.table["app.public.customers"]`: plans.Replace,
		`replication.main.table["app.public.orders"]`:    plans.Replace,
		`replication.main.table["app.public.events"]`:    plans.Create,
		`replication.main.subscription["app"]`:           plans.Create,
	} {
		if got[addr] != want {
			t.Errorf("%s: %q, want %q (all: %v)", addr, got[addr], want, got)
		}
	}
}

func TestTruncateCascadeOutsideScopeIsRefused(t *testing.T) {
	src, dst, st := applied()
	// On the target, a table outside the scope references customers.
	notes := table("public", "notes", true, "id", "customers_id")
	notes.ForeignKeys = []catalog.ForeignKey{fk("notes", "customers", "notes_customers_id_fkey")}
	// And orders (in scope) references customers too: the chain is
	// customers <- orders (in scope, followed) and customers <- notes (outside).
	dst.Database("app").Tables = append(dst.Database("app").Tables, notes)
	_, diags := Build(Input{Config: loadConfig(t, `table "app.customers" { where = "id > 0" }`), Servers: servers(src, dst), Prior: st})
	errs := errorsOf(diags)
	if codes := codesOf(diags, diag.Error); !slices.Equal(codes, []diag.Code{CodeTruncateCascade}) {
		t.Errorf("error codes %v, want %s", codes, CodeTruncateCascade)
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "TRUNCATE would cascade outside the scope") ||
		!strings.Contains(errs[0], "app.public.customers <- app.public.notes (foreign key notes_customers_id_fkey)") {
		t.Fatalf("errors: %v", errs)
	}
}

func TestTruncateCascadeThroughScopeNamesWholeChain(t *testing.T) {
	src, dst, st := applied()
	audit := table("public", "order_audit", true, "id", "orders_id")
	audit.ForeignKeys = []catalog.ForeignKey{fk("order_audit", "orders", "order_audit_orders_id_fkey")}
	dst.Database("app").Tables = append(dst.Database("app").Tables, audit)
	_, diags := Build(Input{Config: loadConfig(t, `table "app.customers" { where = "id > 0" }`), Servers: servers(src, dst), Prior: st})
	errs := errorsOf(diags)
	want := "app.public.customers <- app.public.orders (foreign key orders_customers_id_fkey) <- app.public.order_audit (foreign key order_audit_orders_id_fkey)"
	if len(errs) != 1 || !strings.Contains(errs[0], want) || !hasCode(diags, diag.Error, CodeTruncateCascade) {
		t.Fatalf("errors: %v\nwant the chain %s", errs, want)
	}
}

func TestTargetHoldingDataNeedsDropExisting(t *testing.T) {
	_, dst, _ := applied()
	p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(sourceServer(), dst), Prior: state.New()})
	errs := errorsOf(diags)
	if len(errs) == 0 || !strings.Contains(errs[0], "Target database already holds data") || codesOf(diags, diag.Error)[0] != CodeTargetDatabaseNotEmpty {
		t.Fatalf("errors: %v", errs)
	}
	// The subscription that streams into it is named, with the import
	// command first and drop_existing as the other way.
	fix := diags.Errors()[0].Fix
	if !strings.Contains(errs[0], `Subscription "seren_replication_sub" streams into it`) ||
		!strings.Contains(fix, "`database-replicator import 'replication.main.subscription[\"app\"]' seren_replication_sub`") ||
		!strings.Contains(fix, "drop_existing = true") {
		t.Fatalf("error: %s\nfix: %s", errs[0], fix)
	}
	_ = p
	// With drop_existing the database is replaced, unless a table outside
	// the scope references one inside it.
	notes := table("public", "notes", true, "id", "customers_id")
	notes.ForeignKeys = []catalog.ForeignKey{fk("notes", "customers", "notes_customers_id_fkey")}
	dst.Database("app").Tables = append(dst.Database("app").Tables, notes)
	// The subscription on the target is not ours either: remove it for this case.
	dst.Database("app").Subscriptions = nil
	_, diags = Build(Input{Config: loadConfig(t, "snapshot {\n drop_existing = true\n }"), Servers: servers(sourceServer(), dst), Prior: state.New()})
	errs = errorsOf(diags)
	if len(errs) != 1 || !strings.Contains(errs[0], "drop_existing would cascade outside the scope") || !strings.Contains(errs[0], "app.public.notes") ||
		!hasCode(diags, diag.Error, CodeDropExistingCascade) {
		t.Fatalf("errors: %v", errs)
	}
}

func TestObjectsNotInStateAreNeverAdopted(t *testing.T) {
	src, _, _ := applied()
	_, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, emptyTarget()), Prior: state.New()})
	var found []string
	for _, e := range errorsOf(diags) {
		found = append(found, strings.SplitN(e, ":", 2)[0])
	}
	joined := strings.Join(found, "|")
	for _, want := range []string{"Publication exists and is not managed here", "Replication slot exists and is not managed here"} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing %q in %v", want, found)
		}
	}
	for _, code := range []diag.Code{CodePublicationNotManaged, CodeSlotNotManaged} {
		if !hasCode(diags, diag.Error, code) {
			t.Errorf("no error %s in %v", code, codesOf(diags, diag.Error))
		}
	}
}

func TestWarnings(t *testing.T) {
	src := sourceServer()
	src.Database("app").Tables = append(src.Database("app").Tables, table("public", "logs", false, "at", "line"))
	src.VersionNum, src.Version = 140010, "14.10"
	cfg := loadConfig(t, "")
	cfg.Sources["prod"].URL = "postgres://replicator:hunter2-secret@127.0.0.1:5432/postgres"
	p, diags := Build(Input{Config: cfg, Servers: servers(src, emptyTarget()), Prior: state.New()})
	text := ""
	for _, d := range diags {
		text += d.Summary + ": " + d.Detail + "\n"
	}
	for _, want := range []string{
		"Tables without a usable replica identity", `replica_identity = "full"`, "--replica-identity-full=app.public.logs", `sync { method = "xmin" }`,
		"Row filters need PostgreSQL 15 on the source",
		"Sequences are synced, not replicated",
		"The subscription will store a password",
		"Sync method: logical",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, text)
		}
	}
	for _, want := range []struct {
		sev  diag.Severity
		code diag.Code
	}{
		{diag.Error, CodeNoReplicaIdentity}, {diag.Error, CodeRowFilterNeedsPG15}, {diag.Warning, CodeSequencesSynced},
		{diag.Warning, CodeSubscriptionStoresPassword}, {diag.Warning, CodeSyncMethod},
	} {
		if !hasCode(diags, want.sev, want.code) {
			t.Errorf("no %s %s among %v", want.sev, want.code, diags)
		}
	}
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{planText(p), string(js)} {
		if strings.Contains(out, "hunter2-secret") {
			t.Fatalf("plan contains the password:\n%s", out)
		}
	}
	// replica_identity = "full" in the configuration plans REPLICA IDENTITY FULL.
	p, _ = Build(Input{Config: loadConfig(t, `table "app.logs" { replica_identity = "full" }`), Servers: servers(src, emptyTarget()), Prior: state.New()})
	for _, c := range p.Changes {
		if c.Addr.Kind == addrs.Publication {
			full := c.After.(*plans.PublicationAttrs).SetReplicaIdentityFull
			if len(full) != 1 || full[0] != (plans.TableName{Schema: "public", Table: "logs"}) || !strings.Contains(plainValue(wire(c.After)["set_replica_identity_full"]), `"\"public\".\"logs\""`) {
				t.Fatalf("set_replica_identity_full = %v", wire(c.After)["set_replica_identity_full"])
			}
		}
	}
}

func TestXminMethodPlansCursorsAndNoPublication(t *testing.T) {
	src := sourceServer()
	src.WalLevel = "replica"
	p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, emptyTarget()), Prior: state.New()})
	got := changes(p)
	if got[`replication.main.xmin["app.public.orders"]`] != plans.Create {
		t.Fatalf("no xmin cursor: %v", got)
	}
	for a := range got {
		if strings.Contains(a, "publication") || strings.Contains(a, "slot") || strings.Contains(a, "subscription") {
			t.Fatalf("xmin plan has %s", a)
		}
	}
	found := false
	for _, d := range diags {
		if d.Code == CodeSyncMethod && d.Severity == diag.Warning && strings.Contains(d.Detail, "Source has wal_level=replica: using xmin-based sync (no source changes required)") {
			found = true
		}
	}
	if !found {
		t.Fatalf("method explanation missing: %v", diags)
	}
}

func TestSavedPlanStaleness(t *testing.T) {
	src, dst, st := applied()
	cfg := loadConfig(t, "")
	p, _ := Build(Input{Config: cfg, Servers: servers(src, dst), Prior: st, Now: time.Unix(0, 0)})
	path := filepath.Join(t.TempDir(), "saved.plan")
	if err := p.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := plans.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fps := map[string]string{"source.prod": src.Fingerprint(), "target.replica": dst.Fingerprint()}
	if err := back.CheckFresh(ConfigDigest(cfg), st.Lineage, st.Serial, fps); err != nil {
		t.Fatalf("fresh plan refused: %v", err)
	}
	if err := back.CheckFresh(ConfigDigest(cfg), st.Lineage, st.Serial+1, fps); err == nil || !strings.Contains(err.Error(), "state was written since (serial 8, plan made at 7)") {
		t.Fatalf("serial: %v", err)
	}
	if err := back.CheckFresh(ConfigDigest(loadConfig(t, `exclude_tables = ["app.orders"]`)), st.Lineage, st.Serial, fps); err == nil || !strings.Contains(err.Error(), "the configuration changed") {
		t.Fatalf("config: %v", err)
	}
	src.Database("app").Table("public", "customers").Columns = append(src.Database("app").Table("public", "customers").Columns, catalog.Column{Name: "x", Type: "int"})
	fps["source.prod"] = src.Fingerprint()
	if err := back.CheckFresh(ConfigDigest(cfg), st.Lineage, st.Serial, fps); err == nil || !strings.Contains(err.Error(), "source.prod changed") {
		t.Fatalf("fingerprint: %v", err)
	}
	// Formatting the configuration does not make a plan stale.
	reformatted, diags := lang.LoadSources(map[string][]byte{"other.hcl": []byte(strings.ReplaceAll(strings.Replace(baseConfig, "%EXTRA%", "", 1), "  ", "    "))}, lang.LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if ConfigDigest(reformatted) != ConfigDigest(cfg) {
		t.Fatalf("digest changed with formatting")
	}
}

func TestJSONGolden(t *testing.T) {
	src := sourceServer()
	p, _ := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, emptyTarget()), Prior: state.New(), Now: time.Unix(0, 0)})
	var out bytes.Buffer
	js, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out.Write(append(js, '\n'))
	golden := filepath.Join("testdata", "fresh-plan.json")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./planner -run TestJSONGolden -update)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("JSON plan differs from %s (rerun with -update after checking docs/plan-json.md):\n%s", golden, out.String())
	}
	// The documented top-level shape.
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format_version", "changes", "warnings", "summary"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("missing %q", k)
		}
	}
	var changes []map[string]json.RawMessage
	_ = json.Unmarshal(doc["changes"], &changes)
	for _, k := range []string{"address", "action", "kind", "before", "after", "reason", "depends_on"} {
		if _, ok := changes[0][k]; !ok {
			t.Errorf("change lacks %q", k)
		}
	}
}

// TestFilterChangeWhileStreaming: a published table's filter changes once
// the subscription streams. The slot's exported snapshot is gone, so the
// subscription's table sync copies it again: the publication drops it, the
// subscription's refresh stops applying it, and the table change empties
// it and adds it back (ADD TABLE with the new filter, REFRESH PUBLICATION
// WITH copy_data = true). Every interrupted step plans the rest again; the
// finished re-copy shows no change.
func TestFilterChangeWhileStreaming(t *testing.T) {
	const (
		pubAddr   = `replication.main.publication["app"]`
		subAddr   = `replication.main.subscription["app"]`
		tableAddr = `replication.main.table["app.public.events"]`
	)
	src, dst, st := applied()
	// baseConfig filters events with "id <= 10"; this one with "id <= 20".
	cfg := mustConfig("")
	for _, tc := range cfg.Replications[0].Tables {
		if tc.Ref.Table == "events" {
			tc.Where = "id <= 20"
		}
	}
	build := func() (*plans.Plan, map[string]*plans.Change) {
		t.Helper()
		p, diags := Build(Input{Config: cfg, Servers: servers(src, dst), Prior: st})
		if errs := errorsOf(diags); len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
		byAddr := map[string]*plans.Change{}
		for _, c := range p.Changes {
			byAddr[c.Addr.String()] = c
		}
		return p, byAddr
	}
	p, byAddr := build()
	want := map[string]plans.Action{pubAddr: plans.Update, subAddr: plans.Update, tableAddr: plans.Replace}
	if got := changes(p); !reflectEqual(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	pub, sub, tbl := byAddr[pubAddr], byAddr[subAddr], byAddr[tableAddr]

	// (a) the publication drops the table; the subscription's refresh
	// stops applying it.
	if !reflectEqual(wire(pub.After)["tables"], []string{`"public"."customers"`, `"public"."orders"`}) ||
		!reflectEqual(wire(pub.After)["drop_for_table_sync"], []string{"app.public.events"}) {
		t.Errorf("publication after %v", pub.After)
	}
	if !strings.Contains(pub.Reason, "app.public.events: filter changed from id <= 10 to id <= 20: removed from the publication (ALTER PUBLICATION ... DROP TABLE)") ||
		strings.Contains(pub.Reason, "published tables differ") {
		t.Errorf("publication reason %q", pub.Reason)
	}
	if !reflectEqual(wire(sub.After)["stop_applying"], []string{"app.public.events"}) || wire(sub.After)["refresh_publication"] != nil {
		t.Errorf("subscription after %v", sub.After)
	}
	if !strings.Contains(sub.Reason, "REFRESH PUBLICATION so that the apply worker stops applying it") {
		t.Errorf("subscription reason %q", sub.Reason)
	}
	// (b, c) the table change empties it and hands it to the table sync,
	// after the subscription's refresh: no snapshot, no new slot.
	if wire(tbl.After)["copied_by"] != "table_sync" || wire(tbl.After)["filter"] != "id <= 20" || wire(tbl.After)["subscription"] != lang.DefaultSubscription ||
		wire(tbl.After)["publication"] != lang.DefaultPublication || wire(tbl.Before)["filter"] != "id <= 10" {
		t.Errorf("table before %v after %v", tbl.Before, tbl.After)
	}
	const reason = "filter changed from id <= 10 to id <= 20: removed from the publication, emptied on the target, and copied again by the subscription's table sync"
	if !strings.HasPrefix(tbl.Reason, reason) {
		t.Errorf("table reason %q", tbl.Reason)
	}
	// Order: publication -> subscription -> table; the subscription does
	// not wait for the table (that would be a cycle), post-data neither.
	if !hasDep(sub, pubAddr) || !hasDep(tbl, subAddr) || !hasDep(tbl, pubAddr) || hasDep(sub, tableAddr) || hasDep(byAddr[`replication.main.post_data["app"]`], tableAddr) {
		t.Errorf("dependencies: subscription %v, table %v", sub.DependsOn, tbl.DependsOn)
	}
	if hasDep(tbl, `replication.main.slot["app"]`) {
		t.Errorf("the table sync copy must not wait for a snapshot: %v", tbl.DependsOn)
	}
	out := planText(p)
	for _, s := range []string{
		`+ drop_for_table_sync = ["app.public.events"]`,
		`+ stop_applying = ["app.public.events"]`,
		`~ filter = "id <= 10" -> "id <= 20"`,
		`+ copied_by = "table_sync"`,
		`# after: replication.main.schema["app"], replication.main.publication["app"], replication.main.subscription["app"]`,
		"Plan: 1 to add, 2 to change, 1 to destroy.",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("plan text lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "~ bytes") {
		t.Errorf("unchanged attributes shown as changed:\n%s", out)
	}

	record := func(c *plans.Change, status string) {
		attrs := map[string]any{}
		for k, v := range plans.EncodeAttrs(c.After) {
			attrs[k] = v
		}
		delete(attrs, "stop_applying")
		delete(attrs, "drop_for_table_sync")
		st.SetResource(&state.Resource{Address: c.Addr.String(), Kind: string(c.Addr.Kind), Attributes: attrs, Status: status})
	}
	app, tapp := src.Database("app"), dst.Database("app")
	published := func(filter string) {
		tables := []catalog.PublicationTable{{Schema: "public", Name: "customers"}, {Schema: "public", Name: "orders"}}
		if filter != "" {
			tables = append(tables, catalog.PublicationTable{Schema: "public", Name: "events", RowFilter: filter})
		}
		app.Publications[0].Tables = tables
	}
	subscribed := func(events string) {
		tables := []catalog.SubscriptionTable{{Schema: "public", Name: "customers", State: catalog.SubStateReady}, {Schema: "public", Name: "orders", State: catalog.SubStateReady}}
		if events != "" {
			tables = append(tables, catalog.SubscriptionTable{Schema: "public", Name: "events", State: events})
		}
		tapp.Subscriptions[0].Tables = tables
	}

	// Killed after the publication dropped the table: the rest is planned
	// again, the publication has nothing left to do.
	published("")
	record(pub, state.StatusDone)
	p, _ = build()
	if got := changes(p); !reflectEqual(got, map[string]plans.Action{subAddr: plans.Update, tableAddr: plans.Replace}) {
		t.Errorf("after the publication step: changes %v", got)
	}
	// Killed after the subscription's refresh: the refresh (and its wait)
	// runs again, harmlessly, then the table.
	record(sub, state.StatusDone)
	subscribed("")
	p, _ = build()
	if got := changes(p); !reflectEqual(got, map[string]plans.Action{subAddr: plans.Update, tableAddr: plans.Replace}) {
		t.Errorf("after the subscription step: changes %v", got)
	}
	// Killed inside the table change, after it added the table back: the
	// whole sequence is planned again from the publication's drop on.
	record(tbl, state.StatusInProgress)
	published("(id <= 20)")
	subscribed(catalog.SubStateDataSync)
	p, byAddr = build()
	if got := changes(p); !reflectEqual(got, want) {
		t.Errorf("after an interrupted table change: changes %v, want %v", got, want)
	}
	if r := byAddr[tableAddr].Reason; !strings.HasPrefix(r, "the previous re-copy by the subscription's table sync was interrupted: removed from the publication, emptied on the target") {
		t.Errorf("interrupted table reason %q", r)
	}
	if r := byAddr[pubAddr].Reason; !strings.Contains(r, "app.public.events: the previous re-copy by the subscription's table sync was interrupted") {
		t.Errorf("interrupted publication reason %q", r)
	}

	// Finished: while the table sync copies, no change and a warning;
	// once it is ready, no change at all.
	record(tbl, state.StatusDone)
	for _, tt := range []struct {
		state   string
		syncing bool
	}{{catalog.SubStateDataSync, true}, {catalog.SubStateReady, false}} {
		subscribed(tt.state)
		p, diags := Build(Input{Config: cfg, Servers: servers(src, dst), Prior: st})
		if errs := errorsOf(diags); len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
		if p.HasChanges() {
			t.Errorf("state %s: changes %v, want none", tt.state, changes(p))
		}
		found := false
		for _, d := range diags {
			found = found || (d.Code == CodeTableSyncInProgress && strings.Contains(d.Detail, "app.public.events (copying)"))
		}
		if found != tt.syncing {
			t.Errorf("state %s: table sync warning %v, want %v", tt.state, found, tt.syncing)
		}
	}
}

// TestFailedSnapshotCopyWhileStreamingUsesTableSync: an earlier version
// planned a changed filter as a copy in the slot's (long gone) snapshot;
// the apply failed and left the table failed in state. The next plan
// hands it to the table sync instead of failing the same way again.
func TestFailedSnapshotCopyWhileStreamingUsesTableSync(t *testing.T) {
	src, dst, st := applied()
	a := `replication.main.table["app.public.customers"]`
	r := st.Resource(a)
	r.Status = state.StatusFailed
	r.Attributes["filter"] = "id > 0"
	src.Database("app").Publications[0].Tables[0].RowFilter = "(id > 0)"
	p, diags := Build(Input{Config: loadConfig(t, `table "app.customers" { where = "id > 0" }`), Servers: servers(src, dst), Prior: st})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	got := changes(p)
	if got[a] != plans.Replace || got[`replication.main.subscription["app"]`] != plans.Update || got[`replication.main.publication["app"]`] != plans.Update || got[`replication.main.slot["app"]`] != "" {
		t.Fatalf("changes %v", got)
	}
	for _, c := range p.Changes {
		if c.Addr.String() == a && (wire(c.After)["copied_by"] != "table_sync" || !strings.Contains(c.Reason, "the slot's exported snapshot it needed is gone")) {
			t.Errorf("table change %v (%s)", c.After, c.Reason)
		}
	}
}

// TestDriftIgnoredTableIsNotPublished: with on_schema_drift = "ignore", a
// table in scope that the target lacks stays out of the publication (the
// subscription's apply worker would fail on its first row); plan warns.
func TestDriftIgnoredTableIsNotPublished(t *testing.T) {
	src, dst, st := applied()
	app := src.Database("app")
	app.Tables = append(app.Tables, table("public", "invoices", true, "id", "total"))
	p, diags := Build(Input{Config: loadConfig(t, `policy { on_schema_drift = "ignore" }`), Servers: servers(src, dst), Prior: st})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if p.HasChanges() {
		t.Fatalf("changes %v, want none: the missing table must not be published", changes(p))
	}
	for _, c := range p.Changes {
		if c.Addr.Kind == addrs.Publication && strings.Contains(plainValue(wire(c.After)["tables"]), "invoices") {
			t.Errorf("publication after %v", c.After)
		}
		if c.Addr.Kind == addrs.Subscription && (wire(c.After)["refresh_publication"] != nil || wire(c.After)["table_sync"] != nil) {
			t.Errorf("subscription after %v", c.After)
		}
	}
	var warned []string
	for _, d := range diags {
		if d.Code == CodeTableNotPublished || d.Code == CodeSchemaDriftIgnored {
			warned = append(warned, d.Summary+": "+d.Detail)
		}
	}
	if len(warned) != 2 || !strings.Contains(strings.Join(warned, "\n"), `app.public.invoices is in scope but missing on target.replica, and policy.on_schema_drift = "ignore"`) {
		t.Errorf("warnings %v", warned)
	}

	// Once the table exists on the target, it is published and synced.
	dst.Database("app").Tables = append(dst.Database("app").Tables, table("public", "invoices", true, "id", "total"))
	p, _ = Build(Input{Config: loadConfig(t, `policy { on_schema_drift = "ignore" }`), Servers: servers(src, dst), Prior: st})
	if got := changes(p); got[`replication.main.publication["app"]`] != plans.Update || got[`replication.main.subscription["app"]`] != plans.Update {
		t.Errorf("after the table was created: changes %v", got)
	}
}

// TestPublishedTableNotSubscribedIsCopiedAgain: a table with a table
// record that the subscription does not list (a re-copy stopped after the
// refresh, then the configuration went back to the old filter) would never
// see its changes applied: the table sync copies it again.
func TestPublishedTableNotSubscribedIsCopiedAgain(t *testing.T) {
	src, dst, st := applied()
	sub := dst.Database("app").Subscriptions[0]
	sub.Tables = []catalog.SubscriptionTable{sub.Tables[0], sub.Tables[2]} // customers, orders
	p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: st})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	a := `replication.main.table["app.public.events"]`
	want := map[string]plans.Action{a: plans.Replace, `replication.main.publication["app"]`: plans.Update, `replication.main.subscription["app"]`: plans.Update}
	if got := changes(p); !reflectEqual(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	for _, c := range p.Changes {
		if c.Addr.String() == a && !strings.HasPrefix(c.Reason, "the subscription does not list it in pg_subscription_rel, so its changes are not applied: removed from the publication, emptied on the target") {
			t.Errorf("reason %q", c.Reason)
		}
	}
}

// wire returns attributes in their wire form, as state and plan JSON hold
// them.
func wire(a plans.Attrs) map[string]any { return plans.EncodeAttrs(a) }

// planText renders a plan for assertions, close to the text view (which
// lives in cmd/database-replicator/views): each change with its reason,
// attribute differences in their wire form, dependencies; the warnings;
// the summary line.
func planText(p *plans.Plan) string {
	var b strings.Builder
	for _, c := range p.Changes {
		if c.Action == plans.NoOp {
			continue
		}
		fmt.Fprintf(&b, "# %s will be %s\n# (%s)\n", c.Addr, c.Action.Verb(), c.Reason)
		before, after := wire(c.Before), wire(c.After)
		keys := map[string]bool{}
		for k := range before {
			keys[k] = true
		}
		for k := range after {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			bv, hadBefore := before[k]
			av, hasAfter := after[k]
			switch {
			case !hadBefore:
				fmt.Fprintf(&b, "  + %s = %s\n", k, plainValue(av))
			case !hasAfter:
				fmt.Fprintf(&b, "  - %s = %s\n", k, plainValue(bv))
			case plainValue(bv) != plainValue(av):
				fmt.Fprintf(&b, "  ~ %s = %s -> %s\n", k, plainValue(bv), plainValue(av))
			}
		}
		if len(c.DependsOn) > 0 {
			deps := make([]string, len(c.DependsOn))
			for i, d := range c.DependsOn {
				deps[i] = d.String()
			}
			fmt.Fprintf(&b, "# after: %s\n", strings.Join(deps, ", "))
		}
	}
	for _, d := range p.Diagnostics {
		fmt.Fprintf(&b, "%s: %s\n  on %s\n  %s\n", d.Severity, d.Summary, d.Address, d.Detail)
	}
	s := p.Summary()
	fmt.Fprintf(&b, "Plan: %d to add, %d to change, %d to destroy.\n", s.Add, s.Change, s.Destroy)
	return b.String()
}

// plainValue renders a wire value as JSON, strings quoted, without HTML
// escaping.
func plainValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

func TestDescribeCopyNeverAnalysed(t *testing.T) {
	ts := &TableScope{Source: &catalog.Table{EstimatedRows: -1, Bytes: 8192}}
	if got := describeCopy(ts); got != "copy an unknown number of rows (never analysed) (8192 bytes)" {
		t.Errorf("describeCopy = %q", got)
	}
	ts.Source.EstimatedRows = 3
	if got := describeCopy(ts); got != "copy ~3 rows (8192 bytes)" {
		t.Errorf("describeCopy = %q", got)
	}
}

// With the stream engine, an interrupted snapshot resumes: the slot and
// the copied tables are kept, the others are copied in a new snapshot,
// and plan names both.
func TestInterruptedStreamSnapshotResumes(t *testing.T) {
	src, dst, st := applied()
	dst.Database("app").Subscriptions = nil
	st.RemoveResource(`replication.main.subscription["app"]`)
	st.RemoveResource(`replication.main.post_data["app"]`)
	st.Resource(`replication.main.table["app.public.orders"]`).Status = state.StatusInProgress
	st.RemoveResource(`replication.main.table["app.public.events"]`)
	p, diags := Build(Input{Config: loadConfig(t, `sync { method = "stream" }`), Servers: servers(src, dst), Prior: st})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	got := changes(p)
	for addr, want := range map[string]plans.Action{
		`replication.main.slot["app"]`:                   "",
		`replication.main.table["app.public.customers"]`: "",
		`replication.main.table["app.public.orders"]`:    plans.Replace,
		`replication.main.table["app.public.events"]`:    plans.Create,
	} {
		if got[addr] != want {
			t.Errorf("%s: %q, want %q (all: %v)", addr, got[addr], want, got)
		}
	}
	for _, c := range p.Changes {
		if c.Addr.Kind != addrs.Table {
			continue
		}
		ta := c.After.(*plans.TableAttrs)
		if copied := c.Action != plans.NoOp; ta.NewSnapshot != copied {
			t.Errorf("%s: new_snapshot = %v, copied = %v", c.Addr, ta.NewSnapshot, copied)
		}
	}
	var detail string
	for _, d := range diags {
		if d.Code == CodeSnapshotResumed {
			detail = d.Detail
		}
	}
	if !strings.Contains(detail, "1 table(s) copied in its snapshot are kept (app.public.customers); 2 table(s) are copied again in a new snapshot (app.public.events, app.public.orders)") {
		t.Errorf("no or wrong %s warning: %q", CodeSnapshotResumed, detail)
	}

	// A table that joins the scope after the snapshot finished (post-data
	// done) is not a resumed copy.
	_, _, st2 := applied()
	st2.RemoveResource(`replication.main.subscription["app"]`)
	st2.RemoveResource(`replication.main.table["app.public.events"]`)
	p, _ = Build(Input{Config: loadConfig(t, `sync { method = "stream" }`), Servers: servers(src, dst), Prior: st2})
	if a := changes(p)[`replication.main.slot["app"]`]; a != plans.Replace {
		t.Errorf("stream after post-data: slot %q, want replace", a)
	}

	// Logical replaces the slot and copies everything again, as before.
	p, _ = Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: st})
	if a := changes(p)[`replication.main.slot["app"]`]; a != plans.Replace {
		t.Errorf("logical: slot %q, want replace", a)
	}
}
