package plans

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/addrs"
)

func ptr[T any](v T) *T { return &v }

// sampleAttrs has attributes of every kind with every field set.
func sampleAttrs() []Attrs {
	ref := lang.TableRef{Database: "app", Schema: "public", Table: "events"}
	other := lang.TableRef{Database: "app", Schema: "sales", Table: "Orders.2024"}
	return []Attrs{
		&DatabaseAttrs{Name: "app", Encoding: "UTF8", Server: "target.replica", Locale: &Locale{Collate: "C", CType: ""}, Tables: 3},
		&DatabaseAttrs{DropData: true},
		&GlobalsAttrs{From: "source.prod", To: "target.replica", Skipped: "superusers", RolesCreated: ptr(0), RolesSkipped: ptr(2)},
		&SchemaAttrs{Schemas: []string{"public", "sales"}, Tables: 0, Source: "pg_dump"},
		&SchemaAttrs{Drift: &SchemaDrift{MissingTables: []lang.TableRef{other}, MissingColumns: []string{"app.public.events.kind text"},
			AddColumns: map[lang.TableRef][]string{ref: {"kind", "at"}}}},
		&TableAttrs{Filter: "id <= 10", EstimatedRows: -1, Bytes: 8192, Method: lang.SyncLogical, Publication: "pub",
			CopiedByTableSync: true, Subscription: "sub", TimeWindow: &TimeWindow{Column: "at", Last: "90 days"},
			CopiedRows: ptr(int64(0)), CopiedBytes: ptr(int64(12)), Parts: ptr(4), FrozenTimeWindow: `"at" > '2024-01-01'::date`},
		&TableAttrs{SchemaOnly: true, Method: lang.SyncXmin},
		&TableAttrs{Method: lang.SyncStream, Publication: "pub", TargetSchema: "s2", TargetTable: "t2"},
		&TableAttrs{Method: lang.SyncStream, Publication: "pub", NewSnapshot: true, StreamFrom: "0/16B3750"},
		&PostDataAttrs{IndexJobs: 2, Source: "pg_dump", Items: ptr(7), LargeObjects: ptr(0)},
		&SequencesAttrs{Sequences: 3},
		&PublicationAttrs{Name: "pub", Server: "source.prod",
			Tables: []PublishedTable{
				{Table: TableName{"public", "customers"}},
				{Table: TableName{"public", "events"}, Filter: "id <= 10"},
				{Table: TableName{"public", "logs"}, Filter: `"at" > now() - interval '90 days'`, Window: &TimeWindow{Column: "at", Last: "90 days"}, Frozen: `"at" > '2024-01-01'::date`},
				{Table: TableName{"sales", `Or"ders`}, Window: &TimeWindow{Column: "at", Last: "1 day"}, Cutoff: `(at > '2024-01-01'::date)`},
			},
			SetReplicaIdentityFull: []TableName{{"public", "logs"}},
			DropForTableSync:       []lang.TableRef{ref}},
		&SlotAttrs{Name: "sub_app", Plugin: "pgoutput", Server: "source.prod", Database: "app", ConsistentPoint: "0/16B3748", Snapshot: "00000003-00000002-1"},
		&SubscriptionAttrs{Name: "sub", Server: "target.replica", SlotName: "sub_app", Publications: []string{"pub"}, Enabled: true,
			Connection: "postgres://u@h/app", Options: "copy_data = false", TableSync: []lang.TableRef{ref},
			RefreshPublication: []lang.TableRef{other}, StopApplying: []lang.TableRef{ref}},
		&XminAttrs{Interval: "10s", BatchSize: 10000, PrimaryKey: []string{"id"}, XminWatermark: 1<<63 + 5},
		&XminAttrs{Interval: "1h", BatchSize: 5, PrimaryKey: []string{"id"}, XminWatermark: 7, Paused: true},
		&DDLCaptureAttrs{Server: "source.prod", Target: "target.replica", Table: "database_replicator.ddl_log",
			EventTriggers: []string{"a (ddl_command_end)", "b (sql_drop)"}, Replay: "trigger"},
	}
}

// Every kind survives the trip through its wire form and JSON, as state
// and saved plans make it, field for field.
func TestAttrsRoundTrip(t *testing.T) {
	for _, a := range sampleAttrs() {
		b, err := json.Marshal(EncodeAttrs(a))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		got, err := DecodeAttrs(a.Kind(), m)
		if err != nil {
			t.Fatalf("%s: %v", a.Kind(), err)
		}
		if !reflect.DeepEqual(got, a) {
			t.Errorf("%s round trip:\n got %#v\nwant %#v\nwire %s", a.Kind(), got, a, b)
		}
		again, _ := json.Marshal(EncodeAttrs(got))
		if !bytes.Equal(again, b) {
			t.Errorf("%s: wire form changed on the second trip:\n%s\n%s", a.Kind(), b, again)
		}
	}
}

// The wire form keeps the shapes docs/plan-json.md and existing states
// have: quoted table names, a time window still to be frozen shown with
// its note, copied_by as text.
func TestAttrsWireShape(t *testing.T) {
	pub := EncodeAttrs(&PublicationAttrs{Name: "p", Tables: []PublishedTable{
		{Table: TableName{"public", "b"}, Filter: "x > 1", Window: &TimeWindow{Column: "x", Last: "1 day"}},
		{Table: TableName{"public", "a"}},
	}})
	b, _ := json.Marshal(pub)
	want := `{"name":"p","row_filters":{"\"public\".\"b\"":"x \u003e 1 (frozen to a constant cut-off when the publication is created)"},"server":"","tables":["\"public\".\"a\"","\"public\".\"b\""],"time_windows":{"\"public\".\"b\"":{"column":"x","last":"1 day"}}}`
	if string(b) != want {
		t.Errorf("publication wire form\n got %s\nwant %s", b, want)
	}
	tbl := EncodeAttrs(&TableAttrs{CopiedByTableSync: true})
	if tbl["copied_by"] != "table_sync" {
		t.Errorf("table wire form %v", tbl)
	}
	if _, err := DecodeAttrs(addrs.Table, map[string]any{"bytes": "big"}); err == nil {
		t.Error("a string bytes attribute decoded")
	}
}

// A saved plan gives back the typed attributes it was written with.
func TestPlanFileRoundTrip(t *testing.T) {
	p := &Plan{ConfigDigest: "d", StateLineage: "l", StateSerial: 3, Fingerprints: map[string]string{"source.prod": "f"},
		CreatedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Diagnostics: diag.Diagnostics{{Severity: diag.Warning, Summary: "s"}}}
	for i, a := range sampleAttrs() {
		key := "app"
		if a.Kind() == addrs.Table || a.Kind() == addrs.Xmin {
			key = "app.public.t" + string(rune('a'+i))
		}
		if a.Kind() == addrs.Globals {
			key = ""
		}
		addr := addrs.New("main", a.Kind(), key)
		if i > 0 && a.Kind() == sampleAttrs()[i-1].Kind() {
			addr.Replication = "other"
		}
		p.Changes = append(p.Changes, &Change{Addr: addr, Action: Update, Before: a, After: a, Reason: "r", DependsOn: []addrs.Addr{addrs.New("main", addrs.Database, "app")}})
	}
	path := filepath.Join(t.TempDir(), "saved.plan")
	if err := p.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		for i := range p.Changes {
			if !reflect.DeepEqual(got.Changes[i], p.Changes[i]) {
				t.Errorf("change %s:\n got %#v\nwant %#v", p.Changes[i].Addr, got.Changes[i].After, p.Changes[i].After)
			}
		}
		t.Fatal("saved plan differs after a round trip")
	}
}

// TestPublicationCutoffIsData checks that whether a time window is frozen
// travels as time_window_cutoffs, and that a state written before that
// member (cut-off in row_filters, no note) still decodes to a cut-off.
func TestPublicationCutoffIsData(t *testing.T) {
	frozen := EncodeAttrs(&PublicationAttrs{Name: "p", Tables: []PublishedTable{
		{Table: TableName{"public", "b"}, Window: &TimeWindow{Column: "x", Last: "1 day"}, Cutoff: "(x > '2024-01-01')"},
	}})
	if got := frozen["time_window_cutoffs"].(map[string]any)[`"public"."b"`]; got != "(x > '2024-01-01')" {
		t.Fatalf("time_window_cutoffs = %v", frozen["time_window_cutoffs"])
	}
	legacy := map[string]any{"name": "p", "tables": []any{`"public"."b"`, `"public"."c"`},
		"row_filters":  map[string]any{`"public"."b"`: "(x > '2024-01-01')", `"public"."c"`: "y > 1 " + windowNote},
		"time_windows": map[string]any{`"public"."b"`: map[string]any{"column": "x", "last": "1 day"}, `"public"."c"`: map[string]any{"column": "y", "last": "1 day"}}}
	a, err := DecodeAttrs(addrs.Publication, legacy)
	if err != nil {
		t.Fatal(err)
	}
	tables := a.(*PublicationAttrs).Tables
	if tables[0].Cutoff != "(x > '2024-01-01')" || tables[0].Filter != "" {
		t.Errorf("legacy frozen window decoded as %+v", tables[0])
	}
	if tables[1].Cutoff != "" || tables[1].Filter != "y > 1" {
		t.Errorf("legacy pending window decoded as %+v", tables[1])
	}
	// A predicate that merely ends like the note is not mistaken once
	// cut-offs are recorded as data.
	pending := EncodeAttrs(&PublicationAttrs{Name: "p", Tables: []PublishedTable{
		{Table: TableName{"public", "b"}, Window: &TimeWindow{Column: "x", Last: "1 day"}, Cutoff: "(x > '2024-01-01')"},
		{Table: TableName{"public", "c"}, Filter: "y > 1", Window: &TimeWindow{Column: "y", Last: "1 day"}},
	}})
	b, _ := json.Marshal(pending)
	var wire map[string]any
	_ = json.Unmarshal(b, &wire)
	back, err := DecodeAttrs(addrs.Publication, wire)
	if err != nil {
		t.Fatal(err)
	}
	bt := back.(*PublicationAttrs).Tables
	if bt[0].Cutoff == "" || bt[1].Cutoff != "" || bt[1].Filter != "y > 1" {
		t.Errorf("round trip: %+v", bt)
	}
}
