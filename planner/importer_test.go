package planner

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/state"
)

// predecessorSetup is what the predecessor leaves (or an apply whose state
// file was lost): the publication and slot on the source, the copied
// database with a streaming subscription on the target, and no state.
func predecessorSetup() (*catalog.Server, *catalog.Server) {
	src, dst, _ := applied()
	return src, dst
}

// importInto imports id at addr into st and returns the result; the
// records are written into st when there are no errors.
func importInto(t *testing.T, cfg *lang.Config, src, dst *catalog.Server, st *state.State, addr, id string) (*Imported, diag.Diagnostics) {
	t.Helper()
	a, err := addrs.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	servers := servers(src, dst)
	if cfg.FlagMode {
		servers = map[string]*catalog.Server{"source.source": src, "target.target": dst}
	}
	im, diags := Import(ImportInput{Input: Input{Config: cfg, Servers: servers, Prior: st}, Addr: a, ID: id})
	if !diags.HasErrors() {
		for _, r := range im.Resources {
			st.SetResource(r)
		}
	}
	return im, diags
}

func TestImportPredecessorSetupConverges(t *testing.T) {
	src, dst := predecessorSetup()
	cfg := loadConfig(t, "")
	st := state.New()
	pubAddr, slotAddr, subAddr := `replication.main.publication["app"]`, `replication.main.slot["app"]`, `replication.main.subscription["app"]`
	slot := SlotName(lang.DefaultSubscription, "app")

	im, diags := importInto(t, cfg, src, dst, st, pubAddr, lang.DefaultPublication)
	if diags.HasErrors() || len(im.Resources) != 1 || im.Resources[0].Address != pubAddr {
		t.Fatalf("publication: %v %+v", errorsOf(diags), im)
	}
	// The stored filter "(id <= 10)" means the configured "id <= 10": the
	// configuration's spelling is recorded, as apply records it.
	pa, err := plans.DecodeAttrs(addrs.Publication, st.Resource(pubAddr).Attributes)
	if err != nil || len(pa.(*plans.PublicationAttrs).Tables) != 3 || st.Resource(pubAddr).Status != state.StatusDone {
		t.Fatalf("recorded publication: %v %+v", err, pa)
	}
	if _, diags = importInto(t, cfg, src, dst, st, slotAddr, slot); diags.HasErrors() {
		t.Fatalf("slot: %v", errorsOf(diags))
	}
	im, diags = importInto(t, cfg, src, dst, st, subAddr, lang.DefaultSubscription)
	if diags.HasErrors() {
		t.Fatalf("subscription: %v", errorsOf(diags))
	}
	// The subscription brings the database it streams into: nothing is
	// dropped, recreated or copied again.
	var got []string
	for _, r := range im.Resources {
		got = append(got, r.Address)
	}
	want := []string{subAddr, `replication.main.database["app"]`, `replication.main.schema["app"]`,
		`replication.main.table["app.public.customers"]`, `replication.main.table["app.public.events"]`, `replication.main.table["app.public.orders"]`,
		`replication.main.post_data["app"]`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("recorded:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ta, _ := plans.DecodeAttrs(addrs.Table, st.Resource(`replication.main.table["app.public.events"]`).Attributes)
	if tt := ta.(*plans.TableAttrs); !tt.CopiedByTableSync || tt.Subscription != lang.DefaultSubscription || tt.Filter != "id <= 10" {
		t.Fatalf("table record: %+v", tt)
	}

	p, diags := Build(Input{Config: cfg, Servers: servers(src, dst), Prior: st})
	if errs := errorsOf(diags); len(errs) > 0 {
		t.Fatalf("plan after import: %v", errs)
	}
	// Only the sequence values are set and the roles the target lacks
	// created (pg_dumpall --globals-only skips existing ones); no drop, no
	// copy, no replace.
	if ch := changes(p); len(ch) != 2 || ch[`replication.main.sequences["app"]`] != plans.Create || ch[`replication.main.globals`] != plans.Create {
		t.Fatalf("plan after import: %v", ch)
	}
	// Importing again is refused: the address is managed.
	_, diags = importInto(t, cfg, src, dst, st, subAddr, lang.DefaultSubscription)
	if !hasCode(diags, diag.Error, CodeImportAlreadyManaged) || !strings.Contains(diags.Errors()[0].Fix, "state rm") {
		t.Fatalf("second import: %v", diags)
	}
}

func TestImportedSubscriptionLeavesUnstreamedTablesToThePlan(t *testing.T) {
	src, dst := predecessorSetup()
	// orders exists on the target but the subscription does not stream it;
	// customers is missing on the target.
	tapp := dst.Database("app")
	tapp.Subscriptions[0].Tables = tapp.Subscriptions[0].Tables[1:2]
	tapp.Tables = tapp.Tables[1:]
	cfg := loadConfig(t, "")
	st := state.New()
	im, diags := importInto(t, cfg, src, dst, st, `replication.main.subscription["app"]`, lang.DefaultSubscription)
	if diags.HasErrors() {
		t.Fatalf("import: %v", errorsOf(diags))
	}
	left := strings.Join(im.Left, "\n")
	if !strings.Contains(left, "app.public.customers is missing on the target") || !strings.Contains(left, "app.public.orders exists on the target but the subscription does not stream it") {
		t.Fatalf("left:\n%s", left)
	}
	if st.Resource(`replication.main.table["app.public.orders"]`) != nil || st.Resource(`replication.main.table["app.public.events"]`) == nil {
		t.Fatalf("tables recorded: %v", st.Addresses())
	}
}

// mismatches returns the details and fixes of the import-mismatch errors.
func mismatches(ds diag.Diagnostics) string {
	var out []string
	for _, d := range ds {
		if d.Code == CodeImportMismatch {
			out = append(out, d.Detail+" | "+d.Fix)
		}
	}
	return strings.Join(out, "\n")
}

func TestImportPublicationMismatches(t *testing.T) {
	src, dst := predecessorSetup()
	pub := src.Database("app").Publications[0]
	pub.Update, pub.Truncate = false, false
	// orders is not published, events has another filter, and a table
	// outside the scope is.
	pub.Tables = []catalog.PublicationTable{{Schema: "public", Name: "customers"}, {Schema: "public", Name: "events", RowFilter: "(id <= 20)"}, {Schema: "public", Name: "audit"}}
	st := state.New()
	_, diags := importInto(t, loadConfig(t, ""), src, dst, st, `replication.main.publication["app"]`, lang.DefaultPublication)
	got := mismatches(diags)
	for _, want := range []string{
		`does not publish truncate, update`, `SET (publish = 'insert, update, delete, truncate')`,
		`does not publish app.public.orders, which the configuration replicates`, `ALTER PUBLICATION "seren_replication_pub" ADD TABLE "public"."orders"`,
		`filters app.public.events by (id <= 20); the configuration says id <= 10`, `table "app.public.events" { where = "(id <= 20)" }`,
		`publishes app.public.audit, which is outside the configuration's scope`, `DROP TABLE "public"."audit"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if len(diags.Errors()) != 4 {
		t.Errorf("want one error per difference, got %d:\n%s", len(diags.Errors()), got)
	}
	if !st.Empty() {
		t.Fatalf("a refused import recorded %v", st.Addresses())
	}
	// A publication of another name is refused with the setting to change.
	src, _ = predecessorSetup()
	src.Database("app").Publications[0].Name = "legacy_pub"
	_, diags = importInto(t, loadConfig(t, ""), src, dst, st, `replication.main.publication["app"]`, "legacy_pub")
	if got := mismatches(diags); !strings.Contains(got, `publication is "seren_replication_pub" (sync.publication), not "legacy_pub"`) || !strings.Contains(got, `sync { publication = "legacy_pub" }`) {
		t.Fatalf("rename: %s", got)
	}
}

func TestImportSlotMismatches(t *testing.T) {
	src, dst := predecessorSetup()
	slot := SlotName(lang.DefaultSubscription, "app")
	src.Slots[0].Plugin, src.Slots[0].Database, src.Slots[0].WALStatus = "test_decoding", "other", "lost"
	_, diags := importInto(t, loadConfig(t, ""), src, dst, state.New(), `replication.main.slot["app"]`, slot)
	got := mismatches(diags)
	for _, want := range []string{`output plugin "test_decoding"`, `decodes database "other", not "app"`, `wal_status = lost`, `pg_drop_replication_slot('seren_replication_sub_app')`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	// The predecessor's slot of another subscription name: the setting
	// that derives the same slot name is named.
	src, _ = predecessorSetup()
	src.Slots[0].Name = "legacy_app"
	_, diags = importInto(t, loadConfig(t, ""), src, dst, state.New(), `replication.main.slot["app"]`, "legacy_app")
	if got := mismatches(diags); !strings.Contains(got, `sync { subscription = "legacy" }`) {
		t.Fatalf("rename: %s", got)
	}
	// A name that no slot has.
	_, diags = importInto(t, loadConfig(t, ""), src, dst, state.New(), `replication.main.slot["app"]`, slot)
	if !hasCode(diags, diag.Error, CodeImportObjectNotFound) || !strings.Contains(diags.Errors()[0].Detail, "legacy_app") {
		t.Fatalf("not found: %v", diags)
	}
}

func TestImportSubscriptionMismatches(t *testing.T) {
	src, dst := predecessorSetup()
	sub := dst.Database("app").Subscriptions[0]
	sub.SlotName, sub.Publications, sub.Enabled = "elsewhere", []string{"a", "b"}, false
	st := state.New()
	_, diags := importInto(t, loadConfig(t, ""), src, dst, st, `replication.main.subscription["app"]`, lang.DefaultSubscription)
	got := mismatches(diags)
	for _, want := range []string{`streams from slot "elsewhere"; the configuration's slot for "app" is "seren_replication_sub_app"`,
		`subscribes to a, b; the configuration's publication is "seren_replication_pub"`, `SET PUBLICATION "seren_replication_pub" WITH (refresh = false)`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if !st.Empty() {
		t.Fatalf("a refused import recorded %v", st.Addresses())
	}
	// Disabled only warns: plan enables it.
	src, dst = predecessorSetup()
	dst.Database("app").Subscriptions[0].Enabled = false
	_, diags = importInto(t, loadConfig(t, ""), src, dst, st, `replication.main.subscription["app"]`, lang.DefaultSubscription)
	if diags.HasErrors() || !hasCode(diags, diag.Warning, CodeImportSubscriptionDisabled) {
		t.Fatalf("disabled: %v", diags)
	}
	p, _ := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: st})
	if c := changes(p)[`replication.main.subscription["app"]`]; c != plans.Update {
		t.Fatalf("plan does not enable it: %v", changes(p))
	}
	// Its slot gone from the source: it cannot stream.
	src, dst = predecessorSetup()
	src.Slots = nil
	_, diags = importInto(t, loadConfig(t, ""), src, dst, state.New(), `replication.main.subscription["app"]`, lang.DefaultSubscription)
	if got := mismatches(diags); !strings.Contains(got, `which source.prod does not have`) {
		t.Fatalf("slot gone: %s", got)
	}
}

func TestImportRefusesWhatTheConfigurationDoesNotPlan(t *testing.T) {
	src, dst := predecessorSetup()
	for _, tt := range []struct{ addr, code, want string }{
		{`replication.main.table["app.public.orders"]`, string(CodeImportKindUnsupported), "recorded when that subscription is imported"},
		{`replication.other.slot["app"]`, string(CodeImportNotInConfiguration), `no replication "other"`},
		{`replication.main.publication["postgres"]`, string(CodeImportNotInConfiguration), `"postgres" is not in the scope of replication "main" (in scope: app)`},
	} {
		_, diags := importInto(t, loadConfig(t, ""), src, dst, state.New(), tt.addr, "x")
		if !hasCode(diags, diag.Error, diag.Code(tt.code)) || !strings.Contains(diags.Errors()[0].Detail, tt.want) {
			t.Errorf("%s: %v", tt.addr, diags)
		}
	}
	_, diags := importInto(t, loadConfig(t, "sync {\n method = \"xmin\"\n}"), src, dst, state.New(), `replication.main.slot["app"]`, "x")
	if !hasCode(diags, diag.Error, CodeImportNotInConfiguration) || !strings.Contains(diags.Errors()[0].Detail, "method xmin") {
		t.Fatalf("xmin: %v", diags)
	}
}

// TestFlagModeAdviceNamesFlags: a configuration built from --source and
// --target has no HCL to edit: the not-managed errors and the import
// refusals name commands and flags.
func TestFlagModeAdviceNamesFlags(t *testing.T) {
	src, dst := predecessorSetup()
	cfg, diags := lang.FlagConfig(lang.FilterFlags{IncludeDatabases: []string{"app"}}, "postgres://u@127.0.0.1:5432/postgres", "postgres://u@127.0.0.1:5433/postgres")
	if diags.HasErrors() || !cfg.FlagMode {
		t.Fatalf("flag config: %v", diags)
	}
	flagServers := map[string]*catalog.Server{"source.source": src, "target.target": dst}
	_, diags = Build(Input{Config: cfg, Servers: flagServers, Prior: state.New()})
	seen := 0
	for _, d := range diags.Errors() {
		text := d.Detail + " " + d.Fix
		if strings.Contains(text, "{") {
			t.Errorf("%s tells a flag user to edit HCL: %s", d.Code, text)
		}
		switch d.Code {
		case CodePublicationNotManaged, CodeSlotNotManaged, CodeSubscriptionNotManaged, CodeTargetDatabaseNotEmpty:
			seen++
			if !strings.Contains(d.Fix, "`database-replicator import 'replication.main.") || !strings.Contains(d.Fix, "--source ... --target ...` (with the same filter flags)") {
				t.Errorf("%s: no flag-mode import command: %s", d.Code, d.Fix)
			}
		}
	}
	if seen != 4 {
		t.Fatalf("want the four refusals, got %v", codesOf(diags, diag.Error))
	}
	// A filter that differs: the fix is a flag.
	_, diags = importInto(t, cfg, src, dst, state.New(), `replication.main.publication["app"]`, lang.DefaultPublication)
	got := mismatches(diags)
	if !strings.Contains(got, "--table-filter 'app.public.events:(id <= 10)'") || strings.Contains(got, "{") {
		t.Fatalf("flag-mode mismatch: %s", got)
	}
	// HCL mode names the block.
	_, diags = Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: state.New()})
	for _, d := range diags.Errors() {
		if d.Code == CodeSlotNotManaged {
			if !strings.Contains(d.Fix, "`database-replicator import 'replication.main.slot[\"app\"]' seren_replication_sub_app`") || !strings.Contains(d.Fix, `sync { subscription = "..." }`) {
				t.Fatalf("HCL fix: %s", d.Fix)
			}
		}
	}
}

func TestCommandNamesTheWayTheConfigurationWasGiven(t *testing.T) {
	a, _ := addrs.Parse(`replication.main.slot["my app"]`)
	for _, tt := range []struct {
		cfg  *lang.Config
		want string
	}{
		{&lang.Config{}, "`database-replicator import 'replication.main.slot[\"my app\"]' 'it is'`"},
		{&lang.Config{FlagMode: true}, "`database-replicator import 'replication.main.slot[\"my app\"]' 'it is' --source ... --target ...` (with the same filter flags)"},
		{&lang.Config{FlagMode: true, Files: []string{"replication.toml"}}, "`database-replicator import 'replication.main.slot[\"my app\"]' 'it is' -c replication.toml` (with the same --source/--target flags)"},
	} {
		if got := ImportCommand(tt.cfg, a, "it is"); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}
