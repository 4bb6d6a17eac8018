package lang

import (
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestParseTableFilterFlag(t *testing.T) {
	good := []struct {
		in    string
		ref   TableRef
		where string
	}{
		{"events:created_at > now() - interval '90 days'", TableRef{Database: "", Schema: "public", Table: "events"}, "created_at > now() - interval '90 days'"},
		{"myapp.events:id > 5", TableRef{Database: "myapp", Schema: "public", Table: "events"}, "id > 5"},
		{"myapp.sales.orders: status = 'open' ", TableRef{Database: "myapp", Schema: "sales", Table: "orders"}, "status = 'open'"},
		{"myapp.events:ts > '10:00'::time", TableRef{Database: "myapp", Schema: "public", Table: "events"}, "ts > '10:00'::time"},
		{`myapp."odd:name".t:a::text = 'x:y'`, TableRef{Database: "myapp", Schema: "odd:name", Table: "t"}, "a::text = 'x:y'"},
		{`"my.db"."we""ird".t:true`, TableRef{Database: "my.db", Schema: `we"ird`, Table: "t"}, "true"},
		{" myapp.events :x", TableRef{Database: "myapp", Schema: "public", Table: "events"}, "x"},
		{"données.événements:créé > now()", TableRef{Database: "données", Schema: "public", Table: "événements"}, "créé > now()"},
		{"日本.表:列 = '値'", TableRef{Database: "日本", Schema: "public", Table: "表"}, "列 = '値'"},
	}
	for _, tt := range good {
		tc, err := ParseTableFilterFlag(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if tc.Ref != tt.ref || tc.Where != tt.where || tc.TimeWindow != nil {
			t.Errorf("%q = %+v, want %+v %q", tt.in, tc, tt.ref, tt.where)
		}
	}
	bad := []struct{ in, want string }{
		{"events", `--table-filter "events": no colon between the table and the predicate; expected "[db.]table:PREDICATE", e.g. "myapp.events:created_at > now() - interval '90 days'"`},
		{"events:", "the predicate after the colon is empty"},
		{"events:   ", "the predicate after the colon is empty"},
		{":x > 1", "the table before the colon is empty"},
		{"a.b.c.d:x", "4 dotted parts"},
		{"a..b:x", "empty part"},
		{`"unterminated:x`, "no colon"},
		{`"a:b:x`, "no colon"},
		{`a."".t:x`, "the schema name is empty"},
		{"a\x00b:x", "NUL"},
		{"a:x\x00", "NUL"},
		{"\xff:x", "UTF-8"},
		{`a"b":x`, "quote inside a part"},
		{"inj.t:1=1); drop table if exists y; --", "not one SQL expression"},
		{"inj.t:1=1) OR (true", "closes a parenthesis it did not open"},
		{"inj.t:true; select 1", "statement separator"},
	}
	for _, tt := range bad {
		_, err := ParseTableFilterFlag(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want it to contain %q", tt.in, err, tt.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), "--table-filter ") || !strings.Contains(err.Error(), `expected "[db.]table:PREDICATE"`) {
			t.Errorf("%q: error %q does not name the flag and form", tt.in, err)
		}
	}
}

func TestParseTimeFilterFlag(t *testing.T) {
	good := []struct {
		in  string
		ref TableRef
		tw  TimeWindow
	}{
		{"metrics:timestamp:6 months", TableRef{Database: "", Schema: "public", Table: "metrics"}, TimeWindow{"timestamp", Window{6, "months"}}},
		{"analytics.metrics:ts:90d", TableRef{Database: "analytics", Schema: "public", Table: "metrics"}, TimeWindow{"ts", Window{90, "days"}}},
		{"a.s.t: created_at : 1 year ", TableRef{Database: "a", Schema: "s", Table: "t"}, TimeWindow{"created_at", Window{1, "years"}}},
		{`a.t:"Created:At":2w`, TableRef{Database: "a", Schema: "public", Table: "t"}, TimeWindow{"Created:At", Window{2, "weeks"}}},
		{`a.t:"col.with.dots":1 day`, TableRef{Database: "a", Schema: "public", Table: "t"}, TimeWindow{"col.with.dots", Window{1, "days"}}},
		{`a.t:"say ""hi""":3 hours`, TableRef{Database: "a", Schema: "public", Table: "t"}, TimeWindow{`say "hi"`, Window{3, "hours"}}},
		{"数据.表:时间:7 days", TableRef{Database: "数据", Schema: "public", Table: "表"}, TimeWindow{"时间", Window{7, "days"}}},
	}
	for _, tt := range good {
		tc, err := ParseTimeFilterFlag(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if tc.Ref != tt.ref || tc.Where != "" || tc.TimeWindow == nil || *tc.TimeWindow != tt.tw {
			t.Errorf("%q = %+v %+v, want %+v %+v", tt.in, tc, tc.TimeWindow, tt.ref, tt.tw)
		}
	}
	bad := []struct{ in, want string }{
		{"metrics", "no colon after the table"},
		{"metrics:ts", "no colon between the column and the window"},
		{"metrics::6 months", "the column is empty"},
		{"metrics:ts:", "must start with a number"},
		{"metrics:ts:6 fortnights", `unknown unit "fortnights"`},
		{"metrics:ts:0 days", "between 1 and 1000000"},
		{"metrics:a.b:1d", "2 dotted parts"},
		{`metrics:"":1d`, "the column name is empty"},
		{":ts:1d", "the table before the colon is empty"},
		{"metrics:ts:6 months:extra", "unknown unit"},
	}
	for _, tt := range bad {
		_, err := ParseTimeFilterFlag(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want it to contain %q", tt.in, err, tt.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), "--time-filter ") || !strings.Contains(err.Error(), `e.g. "myapp.metrics:timestamp:6 months"`) {
			t.Errorf("%q: error %q does not name the flag and an example", tt.in, err)
		}
	}
}

func TestParseTableList(t *testing.T) {
	refs, err := ParseTableList("include-tables", []string{"myapp.users, myapp.sales.orders", `"my.db".t,myapp.users`, "日本.表"})
	if err != nil {
		t.Fatal(err)
	}
	want := []TableRef{{Database: "myapp", Schema: "public", Table: "users"}, {Database: "myapp", Schema: "sales", Table: "orders"}, {Database: "my.db", Schema: "public", Table: "t"}, {Database: "日本", Schema: "public", Table: "表"}}
	if !reflect.DeepEqual(refs, want) {
		t.Errorf("refs = %v, want %v", refs, want)
	}
	// A bare table names no database: the planner resolves it.
	refs, err = ParseTableList("--exclude-tables", []string{"users"})
	if err != nil || len(refs) != 1 || refs[0] != (TableRef{Schema: "public", Table: "users"}) {
		t.Errorf("bare table: %v %v", refs, err)
	}
	refs, err = ParseTableList("--exclude-tables", []string{`db."a,b"`})
	if err != nil || len(refs) != 1 || refs[0].Table != "a,b" {
		t.Errorf("quoted comma: %v %v", refs, err)
	}
	for _, tt := range []struct {
		values []string
		want   string
	}{
		{[]string{"a.b,,c.d"}, "empty entry"},
		{[]string{""}, "empty entry"},
		{[]string{"a.b.c.d"}, "4 dotted parts"},
		{[]string{`a."".t`}, "schema name is empty"},
	} {
		_, err := ParseTableList("schema-only-tables", tt.values)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.values, err, tt.want)
		}
	}
}

func TestFlagConfig(t *testing.T) {
	f := FilterFlags{
		IncludeDatabases: []string{"myapp,analytics"},
		ExcludeTables:    []string{"myapp.logs", "analytics.events"},
		SchemaOnlyTables: []string{"myapp.audit_logs"},
		TableFilters:     []string{"events:created_at > now() - interval '90 days'", "analytics.sales.orders:id > 10"},
		TimeFilters:      []string{"myapp.metrics:ts:6 months"},
	}
	cfg, diags := FlagConfig(f, "postgres://u:pw@src/postgres", "postgres://u@dst/postgres")
	if len(diags) > 0 {
		t.Fatalf("diags: %v", diags)
	}
	if cfg.Sources["source"].URL != "postgres://u:pw@src/postgres" || cfg.Targets["target"].URL != "postgres://u@dst/postgres" {
		t.Errorf("endpoints: %+v %+v", cfg.Sources["source"], cfg.Targets["target"])
	}
	if v := cfg.Variables["source_url"]; v == nil || !v.Sensitive || !v.Value.RawEquals(cty.StringVal("postgres://u:pw@src/postgres")) {
		t.Errorf("source_url: %+v", v)
	}
	if !reflect.DeepEqual(cfg.State, DefaultState()) {
		t.Errorf("state: %+v", cfg.State)
	}
	r := cfg.Replications[0]
	if r.Name != "main" || r.Source != "source" || r.Target != "target" {
		t.Errorf("replication: %+v", r)
	}
	if !reflect.DeepEqual(r.Databases, []string{"myapp", "analytics"}) || r.ExcludeDatabases != nil {
		t.Errorf("databases: %v %v", r.Databases, r.ExcludeDatabases)
	}
	if !reflect.DeepEqual(r.ExcludeTables, []TableRef{{Database: "myapp", Schema: "public", Table: "logs"}, {Database: "analytics", Schema: "public", Table: "events"}}) {
		t.Errorf("ExcludeTables = %v", r.ExcludeTables)
	}
	if !reflect.DeepEqual(r.SchemaOnly, []TableRef{{Database: "myapp", Schema: "public", Table: "audit_logs"}}) {
		t.Errorf("SchemaOnly = %v", r.SchemaOnly)
	}
	var got []string
	for _, tc := range r.Tables {
		got = append(got, tc.Ref.String()+" "+tc.Predicate())
	}
	// Explicit references first, then wildcards expanded; analytics.events
	// is excluded, so the wildcard skips it.
	want := []string{
		`analytics.sales.orders id > 10`,
		`myapp.public.metrics "ts" > now() - interval '6 months'`,
		`myapp.public.events created_at > now() - interval '90 days'`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tables:\n%q\nwant\n%q", got, want)
	}
	if r.Snapshot != DefaultSnapshot() || r.Sync != DefaultSync() || r.Policy != DefaultPolicy() {
		t.Errorf("defaults: %+v %+v %+v", r.Snapshot, r.Sync, r.Policy)
	}

	// Without --include-databases a wildcard filter stays "every database".
	cfg, diags = FlagConfig(FilterFlags{TableFilters: []string{"events:x > 1"}, ExcludeDatabases: []string{"test"}}, "a", "b")
	if len(diags) > 0 {
		t.Fatalf("diags: %v", diags)
	}
	if r := cfg.Replications[0]; len(r.Tables) != 1 || r.Tables[0].Ref != (TableRef{Database: "", Schema: "public", Table: "events"}) || !reflect.DeepEqual(r.ExcludeDatabases, []string{"test"}) || r.Databases != nil {
		t.Errorf("wildcard: %+v", r)
	}

	// No filters at all: every database, every table.
	cfg, diags = FlagConfig(FilterFlags{}, "a", "b")
	if len(diags) > 0 || cfg.Replications[0].Databases != nil || cfg.Replications[0].Tables != nil {
		t.Errorf("empty flags: %v %+v", diags, cfg)
	}
}

func TestFlagConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		f       FilterFlags
		src     string
		summary string
		detail  string
	}{
		{"missing source", FilterFlags{}, "", "Missing --source", "--source \"postgres://"},
		{"include and exclude databases", FilterFlags{IncludeDatabases: []string{"a"}, ExcludeDatabases: []string{"b"}}, "s", "--include-databases and --exclude-databases are mutually exclusive", "Keep one"},
		{"include and exclude tables", FilterFlags{IncludeTables: []string{"a.t"}, ExcludeTables: []string{"a.u"}}, "s", "--include-tables and --exclude-tables are mutually exclusive", "Keep one"},
		{"empty database entry", FilterFlags{IncludeDatabases: []string{"a,,b"}}, "s", "Invalid --include-databases", "empty entry"},
		{"table outside databases", FilterFlags{IncludeDatabases: []string{"a"}, IncludeTables: []string{"b.t"}}, "s", "Table outside the replicated databases", `--include-tables names b.public.t in database "b"`},
		{"table in excluded database", FilterFlags{ExcludeDatabases: []string{"b"}, SchemaOnlyTables: []string{"b.t"}}, "s", "Table in an excluded database", "Remove \"b\" from --exclude-databases"},
		{"filter outside databases", FilterFlags{IncludeDatabases: []string{"a"}, TableFilters: []string{"b.t:x"}}, "s", "Table outside the replicated databases", "--table-filter"},
		{"bad table list", FilterFlags{IncludeTables: []string{"a.b.c.d"}}, "s", "Invalid --include-tables", "4 dotted parts"},
		{"bad table filter", FilterFlags{TableFilters: []string{"events"}}, "s", "Invalid --table-filter", `expected "[db.]table:PREDICATE"`},
		{"bad time filter", FilterFlags{TimeFilters: []string{"a.t:c:forever"}}, "s", "Invalid --time-filter", "must start with a number"},
		{"schema-only excluded", FilterFlags{ExcludeTables: []string{"a.t"}, SchemaOnlyTables: []string{"a.t"}}, "s", "Schema-only table is excluded", "a.public.t"},
		{"schema-only not included", FilterFlags{IncludeTables: []string{"a.t"}, SchemaOnlyTables: []string{"a.u"}}, "s", "Schema-only table is not included", `Add "a.public.u" to --include-tables`},
		{"filter on schema-only", FilterFlags{SchemaOnlyTables: []string{"a.t"}, TableFilters: []string{"a.t:x"}}, "s", "Row filter on a schema-only table", "--schema-only-tables"},
		{"wildcard filter on schema-only", FilterFlags{IncludeDatabases: []string{"a"}, SchemaOnlyTables: []string{"a.t"}, TimeFilters: []string{"t:c:1d"}}, "s", "Row filter on a schema-only table", "--time-filter"},
		{"filter on excluded", FilterFlags{ExcludeTables: []string{"a.t"}, TableFilters: []string{"a.t:x"}}, "s", "Filter on an excluded table", "--exclude-tables"},
		{"filter not included", FilterFlags{IncludeTables: []string{"a.t"}, TableFilters: []string{"a.u:x"}}, "s", "Filter on a table that is not included", "--include-tables"},
		{"two filters", FilterFlags{TableFilters: []string{"a.t:x"}, TimeFilters: []string{"a.public.t:c:1d"}}, "s", "Two filters for one table", `--time-filter "a.public.t:c:1d" and --table-filter "a.t:x" both filter a.public.t`},
		{"two wildcard filters", FilterFlags{TableFilters: []string{"t:x", "t:y"}}, "s", "Two filters for one table", "in every database"},
		{"wildcard and explicit", FilterFlags{TableFilters: []string{"t:x", "a.t:y"}}, "s", "Two filters for one table", `filters it in database "a"`},
		{"expanded duplicates", FilterFlags{IncludeDatabases: []string{"a"}, TableFilters: []string{"t:x", "a.t:y"}}, "s", "Two filters for one table", "a.public.t"},
		{"wildcard applies nowhere", FilterFlags{IncludeDatabases: []string{"a", "b"}, ExcludeTables: []string{"a.t", "b.t"}, TableFilters: []string{"t:x"}}, "s", "Filter applies to no table", "excluded or not included"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := FlagConfig(tt.f, tt.src, "t")
			if !diags.HasErrors() || cfg != nil {
				t.Fatalf("no error: %v", diags)
			}
			for _, d := range diags {
				if d.Code == "" || d.Range != nil {
					t.Errorf("flag diagnostic without code or with a range: %+v", d)
				}
			}
			for _, d := range diags {
				if d.Summary == tt.summary {
					if !strings.Contains(d.Detail, tt.detail) {
						t.Errorf("detail %q does not contain %q", d.Detail, tt.detail)
					}
					return
				}
			}
			t.Errorf("no %q in %v", tt.summary, diags)
		})
	}
}

func TestFlagConfigReplicaIdentityFull(t *testing.T) {
	cfg, diags := FlagConfig(FilterFlags{
		TableFilters:        []string{"app.events:id > 10"},
		ReplicaIdentityFull: []string{"app.events,app.book_backup"},
	}, "postgres://s/postgres", "postgres://t/postgres")
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	got := map[string]string{}
	for _, tc := range cfg.Replications[0].Tables {
		got[tc.Ref.String()] = tc.Where + "|" + tc.ReplicaIdentity
	}
	want := map[string]string{"app.public.events": "id > 10|full", "app.public.book_backup": "|full"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tables %v, want %v", got, want)
	}
	if _, diags := FlagConfig(FilterFlags{ExcludeTables: []string{"app.t"}, ReplicaIdentityFull: []string{"app.t"}}, "postgres://s/postgres", "postgres://t/postgres"); !diags.HasErrors() {
		t.Error("an excluded table with --replica-identity-full is accepted")
	}
}

// TestSetReplicaIdentityFull: the flag next to a TOML file adds
// replica_identity = "full" to the file's table settings (keeping their
// filters) and new ones for the other tables.
func TestSetReplicaIdentityFull(t *testing.T) {
	cfg := &Config{Replications: []*Replication{{Name: "main", Tables: []*TableConfig{
		{Ref: TableRef{Database: "app", Schema: "public", Table: "events"}, Where: "status = 'x'"}}}}}
	if err := SetReplicaIdentityFull(cfg, []string{"app.events,app.logs"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tc := range cfg.Replications[0].Tables {
		got[tc.Ref.String()] = tc.Where + "|" + tc.ReplicaIdentity
	}
	want := map[string]string{"app.public.events": "status = 'x'|full", "app.public.logs": "|full"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tables %v, want %v", got, want)
	}
	if err := SetReplicaIdentityFull(cfg, []string{"a.b.c.d"}); err == nil || !strings.Contains(err.Error(), "--replica-identity-full") {
		t.Errorf("a bad reference: %v", err)
	}
}
