package planner

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/providers/postgres"
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
		return nil, diags
	}
	return cfg, nil
}

func table(schema, name string, pk bool, cols ...string) *postgres.Table {
	t := &postgres.Table{Schema: schema, Name: name, Kind: postgres.KindTable, ReplicaIdentity: postgres.ReplicaIdentityDefault, EstimatedRows: 100, Bytes: 8192}
	for _, c := range cols {
		t.Columns = append(t.Columns, postgres.Column{Name: c, Type: "integer"})
	}
	if pk {
		t.PrimaryKey = []string{cols[0]}
	}
	return t
}

func fk(from, to, name string) postgres.ForeignKey {
	return postgres.ForeignKey{Name: name, FromSchema: "public", FromTable: from, Columns: []string{to + "_id"}, RefSchema: "public", RefTable: to, RefColumns: []string{"id"}}
}

// sourceServer is the source: database app with customers, orders
// (FK to customers) and events, plus a sequence.
func sourceServer() *postgres.Server {
	orders := table("public", "orders", true, "id", "customers_id")
	orders.ForeignKeys = []postgres.ForeignKey{fk("orders", "customers", "orders_customers_id_fkey")}
	return &postgres.Server{
		VersionNum: 150018, Version: "15.18", WalLevel: "logical", CurrentUser: "replicator",
		Privileges: postgres.Privileges{Replication: true},
		Databases: []*postgres.Database{
			{Name: "postgres", AllowConn: true, Introspected: true},
			{Name: "app", Encoding: "UTF8", AllowConn: true, Introspected: true, Schemas: []string{"public"},
				Tables:    []*postgres.Table{table("public", "customers", true, "id", "name"), table("public", "events", true, "id", "kind"), orders},
				Sequences: []*postgres.Sequence{{Schema: "public", Name: "orders_id_seq", OwnedByTable: "orders", OwnedByColumn: "id"}}},
		},
	}
}

func emptyTarget() *postgres.Server {
	return &postgres.Server{VersionNum: 150018, Version: "15.18", WalLevel: "logical",
		Databases: []*postgres.Database{{Name: "postgres", AllowConn: true, Introspected: true}}}
}

// applied returns source, target and state as apply leaves them.
func applied() (*postgres.Server, *postgres.Server, *state.State) {
	src := sourceServer()
	app := src.Database("app")
	app.Publications = []*postgres.Publication{{Name: lang.DefaultPublication, Insert: true, Update: true, Delete: true, Truncate: true,
		Tables: []postgres.PublicationTable{{Schema: "public", Name: "customers"}, {Schema: "public", Name: "events", RowFilter: "(id <= 10)"}, {Schema: "public", Name: "orders"}}}}
	slot := SlotName(lang.DefaultSubscription, "app")
	src.Slots = []postgres.Slot{{Name: slot, Plugin: "pgoutput", SlotType: "logical", Database: "app", Active: true}}

	dst := emptyTarget()
	tapp := &postgres.Database{Name: "app", Encoding: "UTF8", AllowConn: true, Introspected: true, Schemas: []string{"public"}}
	for _, t := range app.Tables {
		c := *t
		tapp.Tables = append(tapp.Tables, &c)
	}
	tapp.Subscriptions = []*postgres.Subscription{{Name: lang.DefaultSubscription, Enabled: true, SlotName: slot, Publications: []string{lang.DefaultPublication}}}
	dst.Databases = append(dst.Databases, tapp)

	st := state.New()
	st.Lineage, st.Serial = "lineage-1", 7
	p, _ := Build(Input{Config: mustConfig(""), Servers: servers(sourceServer(), emptyTarget()), Prior: state.New()})
	for _, c := range p.Changes {
		st.SetResource(&state.Resource{Address: c.Addr.String(), Kind: string(c.Addr.Kind), Attributes: c.After, Status: state.StatusDone})
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

func servers(src, dst *postgres.Server) map[string]*postgres.Server {
	return map[string]*postgres.Server{"source.prod": src, "target.replica": dst}
}

// changes maps address to action for the non-noop changes.
func changes(p *Plan) map[string]Action {
	out := map[string]Action{}
	for _, c := range p.Changes {
		if c.Action != NoOp {
			out[c.Addr.String()] = c.Action
		}
	}
	return out
}

func errorsOf(ds Diagnostics) []string {
	var out []string
	for _, d := range ds {
		if d.Severity == SevError {
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
		if c.Action != Create {
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

func hasDep(c *Change, addr string) bool {
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
	var out bytes.Buffer
	if err := (TextView{}).Render(&out, p); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "No changes.") || !strings.Contains(out.String(), "Plan: 0 to add, 0 to change, 0 to destroy.") {
		t.Fatalf("text:\n%s", out.String())
	}
}

func TestDrift(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(src, dst *postgres.Server, st *state.State)
		extra  string
		want   map[string]Action
		reason string
	}{
		{
			// The subscription's replication origin went with it: streaming
			// again from the slot could apply transactions twice, so the
			// database is copied again in a new slot's snapshot.
			name:   "dropped subscription",
			mutate: func(src, dst *postgres.Server, st *state.State) { dst.Database("app").Subscriptions = nil },
			want: map[string]Action{
				`replication.main.subscription["app"]`:           Create,
				`replication.main.slot["app"]`:                   Replace,
				`replication.main.table["app.public.customers"]`: Replace,
				`replication.main.table["app.public.events"]`:    Replace,
				`replication.main.table["app.public.orders"]`:    Replace,
				`replication.main.sequences["app"]`:              Create,
			},
			reason: "took its replication progress with it",
		},
		{
			name:   "disabled subscription",
			mutate: func(src, dst *postgres.Server, st *state.State) { dst.Database("app").Subscriptions[0].Enabled = false },
			want:   map[string]Action{`replication.main.subscription["app"]`: Update},
			reason: "the subscription is disabled",
		},
		{
			name: "new table on the source",
			mutate: func(src, dst *postgres.Server, st *state.State) {
				app := src.Database("app")
				app.Tables = append(app.Tables, table("public", "invoices", true, "id", "total"))
			},
			// Streaming has started: the subscription's table sync copies
			// it (TestTableAddedAfterSubscription has the details).
			want: map[string]Action{
				`replication.main.schema["app"]`:       Update,
				`replication.main.publication["app"]`:  Update,
				`replication.main.subscription["app"]`: Update,
			},
			reason: "schema drift",
		},
		{
			name: "new column on the source",
			mutate: func(src, dst *postgres.Server, st *state.State) {
				c := src.Database("app").Table("public", "customers")
				c.Columns = append(c.Columns, postgres.Column{Name: "email", Type: "text"})
			},
			want:   map[string]Action{`replication.main.schema["app"]`: Update},
			reason: "public.customers.email text",
		},
		{
			name:   "changed filter",
			extra:  `table "app.customers" { where = "id > 0" }`,
			mutate: func(src, dst *postgres.Server, st *state.State) {},
			want: map[string]Action{
				`replication.main.table["app.public.customers"]`: Replace,
				`replication.main.publication["app"]`:            Update,
			},
			reason: "the filter changed",
		},
		{
			name: "lost slot",
			mutate: func(src, dst *postgres.Server, st *state.State) {
				src.Slots = nil
			},
			want: map[string]Action{
				`replication.main.slot["app"]`:                   Replace,
				`replication.main.table["app.public.customers"]`: Replace,
				`replication.main.table["app.public.events"]`:    Replace,
				`replication.main.table["app.public.orders"]`:    Replace,
				`replication.main.sequences["app"]`:              Create,
				`replication.main.xmin["x"]`:                     "",
			},
			reason: "the slot is gone",
		},
		{
			name:   "table removed from scope",
			extra:  `exclude_tables = ["app.orders"]`,
			mutate: func(src, dst *postgres.Server, st *state.State) {},
			want: map[string]Action{
				`replication.main.table["app.public.orders"]`: Delete,
				`replication.main.publication["app"]`:         Update,
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
			var out bytes.Buffer
			_ = TextView{}.Render(&out, p)
			if !strings.Contains(out.String(), tt.reason) {
				t.Errorf("plan text lacks %q:\n%s", tt.reason, out.String())
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
	c.Columns = append(c.Columns, postgres.Column{Name: "email", Type: "text"})

	p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: st})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	want := map[string]Action{schemaAddr: Update, pubAddr: Update, subAddr: Update}
	if got := changes(p); len(got) != len(want) || got[schemaAddr] != Update || got[pubAddr] != Update || got[subAddr] != Update {
		t.Fatalf("changes %v, want %v", got, want)
	}
	byAddr := map[string]*Change{}
	for _, c := range p.Changes {
		byAddr[c.Addr.String()] = c
	}
	schema, pub, sub, tbl := byAddr[schemaAddr], byAddr[pubAddr], byAddr[subAddr], byAddr[tableAddr]
	if tbl == nil || tbl.Action != NoOp || tbl.After["copied_by"] != "table_sync" || !strings.Contains(tbl.Reason, "table sync") {
		t.Fatalf("the new table must not be copied in a snapshot: %+v", tbl)
	}
	if got := schema.After["missing_tables"]; !reflectEqual(got, []string{"app.public.invoices"}) {
		t.Errorf("missing_tables %v", got)
	}
	if got := schema.After["add_columns"]; !reflectEqual(got, map[string]any{"app.public.customers": []string{"email"}}) {
		t.Errorf("add_columns %v", got)
	}
	if !strings.Contains(pub.Reason, "published tables differ") {
		t.Errorf("publication reason %q", pub.Reason)
	}
	if !reflectEqual(sub.After[AttrRefreshPublication], []string{"app.public.invoices"}) || !reflectEqual(sub.After[AttrTableSync], []string{"app.public.invoices"}) {
		t.Errorf("subscription after %v", sub.After)
	}
	if !strings.Contains(sub.Reason, "app.public.invoices added to the scope after streaming started: copied by the subscription's table sync (REFRESH PUBLICATION WITH copy_data = true)") {
		t.Errorf("subscription reason %q", sub.Reason)
	}
	// schema update -> publication update -> subscription refresh.
	if !hasDep(pub, schemaAddr) || !hasDep(sub, pubAddr) {
		t.Errorf("dependencies: publication %v, subscription %v", pub.DependsOn, sub.DependsOn)
	}
	var out bytes.Buffer
	_ = TextView{}.Render(&out, p)
	for _, s := range []string{"replication.main.subscription[\"app\"] will be updated in-place", `+ refresh_publication = ["app.public.invoices"]`, "public.customers.email text"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("plan text lacks %q:\n%s", s, out.String())
		}
	}

	// Apply: record the changes as the executor does, and make the target
	// look as the provider leaves it.
	for _, c := range p.Changes {
		if c.Action == NoOp {
			continue
		}
		attrs := map[string]any{}
		for k, v := range c.After {
			attrs[k] = v
		}
		delete(attrs, AttrRefreshPublication)
		st.SetResource(&state.Resource{Address: c.Addr.String(), Kind: string(c.Addr.Kind), Attributes: attrs, Status: state.StatusDone})
	}
	tapp := dst.Database("app")
	tapp.Tables = append(tapp.Tables, table("public", "invoices", true, "id", "total"))
	tc := tapp.Table("public", "customers")
	tc.Columns = append(tc.Columns, postgres.Column{Name: "email", Type: "text"})
	app.Publications[0].Tables = append(app.Publications[0].Tables, postgres.PublicationTable{Schema: "public", Name: "invoices"})
	tsub := tapp.Subscriptions[0]

	for _, tt := range []struct {
		state   string
		warning string
	}{
		{postgres.SubStateDataSync, "Table sync in progress"},
		{postgres.SubStateSyncDone, "Table sync in progress"},
		{postgres.SubStateReady, ""},
	} {
		tsub.Tables = []postgres.SubscriptionTable{{Schema: "public", Name: "invoices", State: tt.state}}
		p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: st})
		if errs := errorsOf(diags); len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
		if p.HasChanges() {
			t.Errorf("state %s: changes %v, want none (no copy planned while the table syncs)", tt.state, changes(p))
		}
		found := false
		for _, d := range diags {
			found = found || d.Summary == "Table sync in progress"
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
	if got := changes(p)[tableAddr]; got != Replace {
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
		if c.Action != Update || !reflectEqual(c.After["missing_tables"], []string{"app.public.invoices"}) || !strings.Contains(c.Reason, "interrupted") {
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
	for addr, want := range map[string]Action{
		`replication.main.slot["app"]`:                   Replace,
		`replication.main.table["app.public.customers"]`: Replace,
		`replication.main.table["app.public.orders"]`:    Replace,
		`replication.main.table["app.public.events"]`:    Create,
		`replication.main.subscription["app"]`:           Create,
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
	notes.ForeignKeys = []postgres.ForeignKey{fk("notes", "customers", "notes_customers_id_fkey")}
	// And orders (in scope) references customers too: the chain is
	// customers <- orders (in scope, followed) and customers <- notes (outside).
	dst.Database("app").Tables = append(dst.Database("app").Tables, notes)
	_, diags := Build(Input{Config: loadConfig(t, `table "app.customers" { where = "id > 0" }`), Servers: servers(src, dst), Prior: st})
	errs := errorsOf(diags)
	if len(errs) != 1 || !strings.Contains(errs[0], "TRUNCATE would cascade outside the scope") ||
		!strings.Contains(errs[0], "app.public.customers <- app.public.notes (foreign key notes_customers_id_fkey)") {
		t.Fatalf("errors: %v", errs)
	}
}

func TestTruncateCascadeThroughScopeNamesWholeChain(t *testing.T) {
	src, dst, st := applied()
	audit := table("public", "order_audit", true, "id", "orders_id")
	audit.ForeignKeys = []postgres.ForeignKey{fk("order_audit", "orders", "order_audit_orders_id_fkey")}
	dst.Database("app").Tables = append(dst.Database("app").Tables, audit)
	_, diags := Build(Input{Config: loadConfig(t, `table "app.customers" { where = "id > 0" }`), Servers: servers(src, dst), Prior: st})
	errs := errorsOf(diags)
	want := "app.public.customers <- app.public.orders (foreign key orders_customers_id_fkey) <- app.public.order_audit (foreign key order_audit_orders_id_fkey)"
	if len(errs) != 1 || !strings.Contains(errs[0], want) {
		t.Fatalf("errors: %v\nwant the chain %s", errs, want)
	}
}

func TestTargetHoldingDataNeedsDropExisting(t *testing.T) {
	_, dst, _ := applied()
	p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(sourceServer(), dst), Prior: state.New()})
	errs := errorsOf(diags)
	if len(errs) == 0 || !strings.Contains(errs[0], "Target database already holds data") || !strings.Contains(errs[0], "drop_existing = true") {
		t.Fatalf("errors: %v", errs)
	}
	_ = p
	// With drop_existing the database is replaced, unless a table outside
	// the scope references one inside it.
	notes := table("public", "notes", true, "id", "customers_id")
	notes.ForeignKeys = []postgres.ForeignKey{fk("notes", "customers", "notes_customers_id_fkey")}
	dst.Database("app").Tables = append(dst.Database("app").Tables, notes)
	// The subscription on the target is not ours either: remove it for this case.
	dst.Database("app").Subscriptions = nil
	_, diags = Build(Input{Config: loadConfig(t, "snapshot {\n drop_existing = true\n }"), Servers: servers(sourceServer(), dst), Prior: state.New()})
	errs = errorsOf(diags)
	if len(errs) != 1 || !strings.Contains(errs[0], "drop_existing would cascade outside the scope") || !strings.Contains(errs[0], "app.public.notes") {
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
		"Table without primary key or replica identity", `replica_identity = "full"`,
		"Row filters need PostgreSQL 15 on the source",
		"Sequences are synced, not replicated",
		"The subscription will store a password",
		"Sync method: logical",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, text)
		}
	}
	var out bytes.Buffer
	for _, v := range []View{TextView{}, JSONView{}, MarkdownView{}} {
		out.Reset()
		if err := v.Render(&out, p); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "hunter2-secret") {
			t.Fatalf("%T output contains the password:\n%s", v, out.String())
		}
	}
	// replica_identity = "full" in the configuration plans REPLICA IDENTITY FULL.
	p, _ = Build(Input{Config: loadConfig(t, `table "app.logs" { replica_identity = "full" }`), Servers: servers(src, emptyTarget()), Prior: state.New()})
	for _, c := range p.Changes {
		if c.Addr.Kind == addrs.Publication {
			full, _ := c.After["set_replica_identity_full"].([]string)
			if len(full) != 1 || full[0] != `"public"."logs"` {
				t.Fatalf("set_replica_identity_full = %v", c.After["set_replica_identity_full"])
			}
		}
	}
}

func TestXminMethodPlansCursorsAndNoPublication(t *testing.T) {
	src := sourceServer()
	src.WalLevel = "replica"
	p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, emptyTarget()), Prior: state.New()})
	got := changes(p)
	if got[`replication.main.xmin["app.public.orders"]`] != Create {
		t.Fatalf("no xmin cursor: %v", got)
	}
	for a := range got {
		if strings.Contains(a, "publication") || strings.Contains(a, "slot") || strings.Contains(a, "subscription") {
			t.Fatalf("xmin plan has %s", a)
		}
	}
	found := false
	for _, d := range diags {
		if strings.Contains(d.Detail, "Source has wal_level=replica: using xmin-based sync (no source changes required)") {
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
	back, err := ReadFile(path)
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
	src.Database("app").Table("public", "customers").Columns = append(src.Database("app").Table("public", "customers").Columns, postgres.Column{Name: "x", Type: "int"})
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
	if err := (JSONView{}).Render(&out, p); err != nil {
		t.Fatal(err)
	}
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
