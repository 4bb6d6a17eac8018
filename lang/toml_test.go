package lang

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/database-replicator/database-replicator/lang/diag"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// tomlEnv returns a LookupEnv over a fixed map.
func tomlEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestLoadTOMLPredecessor(t *testing.T) {
	opts := LoadOptions{
		Vars:      map[string]string{"source_url": "postgres://u:secret@prod/postgres"},
		LookupEnv: tomlEnv(map[string]string{"REPLICATOR_VAR_target_url": "postgres://admin@replica/postgres"}),
	}
	for _, load := range []struct {
		name string
		fn   func() (*Config, diag.Diagnostics)
	}{
		{"LoadTOML", func() (*Config, diag.Diagnostics) { return LoadTOML("testdata/predecessor.toml", opts) }},
		{"LoadPath", func() (*Config, diag.Diagnostics) { return LoadPath("testdata/predecessor.toml", opts) }},
	} {
		t.Run(load.name, func(t *testing.T) {
			cfg, diags := load.fn()
			if len(diags) > 0 {
				t.Fatalf("diagnostics: %v", diags)
			}
			if want := []string{"testdata/predecessor.toml"}; !reflect.DeepEqual(cfg.Files, want) {
				t.Errorf("Files = %v, want %v", cfg.Files, want)
			}
			for name, url := range map[string]string{"source_url": "postgres://u:secret@prod/postgres", "target_url": "postgres://admin@replica/postgres"} {
				v := cfg.Variables[name]
				if v == nil || !v.Sensitive || v.Default != cty.NilVal || !v.Value.RawEquals(cty.StringVal(url)) {
					t.Errorf("variable %s = %#v", name, v)
				}
			}
			if len(cfg.Variables) != 2 {
				t.Errorf("variables: %v", cfg.Variables)
			}
			if s := cfg.Sources["source"]; s == nil || s.URL != "postgres://u:secret@prod/postgres" || !s.Sensitive || s.Kind != KindSource {
				t.Errorf("source = %#v", s)
			}
			if s := cfg.Targets["target"]; s == nil || s.URL != "postgres://admin@replica/postgres" || !s.Sensitive || s.Kind != KindTarget {
				t.Errorf("target = %#v", s)
			}
			if !reflect.DeepEqual(cfg.State, DefaultState()) {
				t.Errorf("State = %#v", cfg.State)
			}
			if len(cfg.Replications) != 1 {
				t.Fatalf("replications: %d", len(cfg.Replications))
			}
			r := cfg.Replications[0]
			if r.Name != "main" || r.Source != "source" || r.Target != "target" {
				t.Errorf("replication %q %q %q", r.Name, r.Source, r.Target)
			}
			if want := []string{"analytics", "legacy.db", "myapp"}; !reflect.DeepEqual(r.Databases, want) {
				t.Errorf("Databases = %q, want %q", r.Databases, want)
			}
			if r.ExcludeDatabases != nil || r.IncludeTables != nil || r.ExcludeTables != nil {
				t.Errorf("unexpected lists: %v %v %v", r.ExcludeDatabases, r.IncludeTables, r.ExcludeTables)
			}
			wantSO := []TableRef{
				{Database: "legacy.db", Schema: "public", Table: "odd.name"},
				{Database: "myapp", Schema: "public", Table: "audit_logs"},
				{Database: "myapp", Schema: "archive", Table: "old_events"},
			}
			if !reflect.DeepEqual(r.SchemaOnly, wantSO) {
				t.Errorf("SchemaOnly = %v, want %v", r.SchemaOnly, wantSO)
			}
			type tbl struct {
				ref   TableRef
				where string
				tw    *TimeWindow
				line  int
			}
			want := []tbl{
				{TableRef{Database: "analytics", Schema: "Web Stats", Table: "page_views"}, "", &TimeWindow{"Viewed At", Window{90, "days"}}, 23},
				{TableRef{Database: "myapp", Schema: "public", Table: "events"}, "created_at > now() - interval '90 days'", nil, 6},
				{TableRef{Database: "myapp", Schema: "sales", Table: "orders"}, "status <> 'archived' AND placed_at > '2024-01-01 10:00'::timestamp", nil, 11},
				{TableRef{Database: "myapp", Schema: "public", Table: "metrics"}, "", &TimeWindow{"timestamp", Window{6, "months"}}, 15},
			}
			if len(r.Tables) != len(want) {
				t.Fatalf("Tables: %d, want %d", len(r.Tables), len(want))
			}
			for i, w := range want {
				got := r.Tables[i]
				if got.Ref != w.ref || got.Where != w.where || !reflect.DeepEqual(got.TimeWindow, w.tw) || got.ReplicaIdentity != "" {
					t.Errorf("Tables[%d] = %+v %+v, want %+v", i, got, got.TimeWindow, w)
				}
				if got.DeclRange.Start.Line != w.line || got.DeclRange.Filename != "testdata/predecessor.toml" {
					t.Errorf("Tables[%d].DeclRange = %v, want line %d", i, got.DeclRange, w.line)
				}
			}
			if r.Snapshot != DefaultSnapshot() || r.Sync != DefaultSync() || r.Policy != DefaultPolicy() {
				t.Errorf("defaults: %+v %+v %+v", r.Snapshot, r.Sync, r.Policy)
			}
		})
	}
}

func TestDecodeTOMLDefaults(t *testing.T) {
	cfg, diags := DecodeTOML("empty.toml", []byte("# nothing\n"), LoadOptions{})
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	r := cfg.Replications[0]
	if r.Databases != nil || r.Tables != nil || r.SchemaOnly != nil {
		t.Errorf("empty config: %+v", r)
	}
	if cfg.Sources["source"].URL != "" || cfg.Targets["target"].URL != "" {
		t.Errorf("URLs should be empty without --var or environment")
	}
	if cfg.Variables["source_url"].Value != cty.NilVal {
		t.Errorf("source_url has a value: %#v", cfg.Variables["source_url"].Value)
	}
	// REPLICATOR_VAR_SOURCE_URL (upper case) works too, as for HCL.
	cfg, _ = DecodeTOML("x.toml", nil, LoadOptions{LookupEnv: tomlEnv(map[string]string{"REPLICATOR_VAR_SOURCE_URL": "host=a"})})
	if cfg.Sources["source"].URL != "host=a" {
		t.Errorf("source URL from upper-case env = %q", cfg.Sources["source"].URL)
	}
	// Inline tables are the same TOML.
	cfg, diags = DecodeTOML("inline.toml", []byte(`databases = { myapp = { schema_only = ["a"], table_filters = [{ table = "t", where = "x > 1" }] } }`), LoadOptions{})
	if len(diags) > 0 {
		t.Fatalf("inline: %v", diags)
	}
	if r := cfg.Replications[0]; len(r.Tables) != 1 || r.Tables[0].Where != "x > 1" || r.SchemaOnly[0] != (TableRef{Database: "myapp", Schema: "public", Table: "a"}) {
		t.Errorf("inline: %+v", r)
	}
}

func TestDecodeTOMLErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		vars    map[string]string
		summary string
		detail  string // substring of the detail
		line    int
		col     int // 0: not checked
	}{
		{"syntax", "[databases.myapp]\nschema_only = [\"a\" \"b\"]\n", nil, "Invalid TOML", "", 2, 0},
		{"bad value", "[databases.a]\nschema_only = [\"x\",\n", nil, "Invalid TOML", "", 2, 0},
		{"unknown top-level key", "[databases.a]\n[other]\nx = 1\n", nil, `Unknown key "other"`, "Allowed keys: databases", 2, 1},
		{"unknown database key", "[databases.a]\nschema_onyl = [\"t\"]\n", nil, `Unknown key "schema_onyl"`, "Did you mean schema_only?", 2, 1},
		{"unknown filter key", "[databases.a]\n\n[[databases.a.table_filters]]\ntable = \"t\"\nwhere = \"x\"\n  colour = \"red\"\n", nil, `Unknown key "colour"`, "Allowed keys: table, schema, where", 6, 3},
		{"where in time filter", "[[databases.a.time_filters]]\ntable = \"t\"\ncolumn = \"c\"\nlast = \"1 day\"\nwhere = \"x\"\n", nil, `Unknown key "where"`, "belongs in table_filters", 5, 1},
		{"databases not a table", "databases = 1\n", nil, "Invalid databases", "not an integer", 1, 1},
		{"database not a table", "[databases]\nmyapp = \"x\"\n", nil, "Invalid database section", "databases.myapp must be a table", 2, 1},
		{"schema_only not an array", "[databases.a]\nschema_only = \"t\"\n", nil, "Invalid schema_only", "not a string", 2, 1},
		{"schema_only entry not a string", "[databases.a]\nschema_only = [\"t\", 3]\n", nil, "Invalid schema_only entry", "not an integer", 2, 21},
		{"schema_only too many parts", "[databases.a]\nschema_only = [\n  \"t\",\n  \"a.b.c\",\n]\n", nil, "Invalid table in schema_only", "3 dotted parts", 4, 3},
		{"schema_only empty part", "[databases.a]\nschema_only = [\"s.\"]\n", nil, "Invalid table in schema_only", "empty part", 2, 16},
		{"filter missing table", "[databases.a]\n[[databases.a.table_filters]]\nwhere = \"x > 1\"\n", nil, "Missing table", "needs table", 2, 1},
		{"filter missing where", "[[databases.a.table_filters]]\ntable = \"t\"\n", nil, "Missing where", "needs where", 1, 1},
		{"empty where", "[[databases.a.table_filters]]\ntable = \"t\"\nwhere = \"  \"\n", nil, "Empty where", "", 3, 1},
		{"where injection", "[[databases.a.table_filters]]\ntable = \"t\"\nwhere = \"1=1); commit; drop table y; --\"\n", nil, "Invalid where", "not one SQL expression", 3, 1},
		{"where not a string", "[[databases.a.table_filters]]\ntable = \"t\"\nwhere = true\n", nil, "Invalid where", "not a boolean", 3, 1},
		{"time filter missing column", "[[databases.a.time_filters]]\ntable = \"t\"\nlast = \"1 day\"\n", nil, "Missing column", "needs column", 1, 1},
		{"time filter missing last", "[[databases.a.time_filters]]\ntable = \"t\"\ncolumn = \"c\"\n", nil, "Missing last", "needs last", 1, 1},
		{"bad last", "[databases.a]\n[[databases.a.time_filters]]\ntable = \"t\"\ncolumn = \"c\"\nlast  =  \"6 fortnights\"\n", nil, "Invalid time window", `unknown unit "fortnights"`, 5, 1},
		{"bad last count", "[[databases.a.time_filters]]\ntable = \"t\"\ncolumn = \"c\"\nlast = \"months\"\n", nil, "Invalid time window", "must start with a number", 4, 1},
		{"filters not an array", "[databases.a]\ntable_filters = 3\n", nil, "Invalid table_filters", "array of tables", 2, 1},
		{"filter entry not a table", "[databases.a]\ntable_filters = [1]\n", nil, "Invalid table_filters entry", "must be a table", 2, 18},
		{"duplicate filter", "[[databases.a.table_filters]]\ntable = \"t\"\nwhere = \"x\"\n\n[[databases.a.table_filters]]\ntable = \"t\"\nschema = \"public\"\nwhere = \"y\"\n", nil, "Duplicate filter", "a.public.t already has a filter at line 1", 5, 1},
		{"duplicate across kinds", "[[databases.a.table_filters]]\ntable = \"s.t\"\nwhere = \"x\"\n\n[[databases.a.time_filters]]\ntable = \"t\"\nschema = \"s\"\ncolumn = \"c\"\nlast = \"1d\"\n", nil, "Duplicate filter", "line 1", 5, 1},
		{"filter on schema-only table", "[databases.a]\nschema_only = [\"t\"]\n\n[[databases.a.table_filters]]\ntable = \"t\"\nwhere = \"x\"\n", nil, "Row filter on a schema-only table", "listed in schema_only (line 2)", 4, 1},
		{"time filter on schema-only table", "[databases.a]\nschema_only = [\"s.t\"]\n[[databases.a.time_filters]]\ntable = \"t\"\nschema = \"s\"\ncolumn = \"c\"\nlast = \"1d\"\n", nil, "Row filter on a schema-only table", "", 3, 1},
		{"undeclared var", "", map[string]string{"password": "x"}, `Value for undeclared variable "password"`, "declares only source_url and target_url", 0, 0},
		{"filter table too many parts", "[[databases.a.table_filters]]\ntable = \"a.b.c\"\nwhere = \"x\"\n", nil, "Invalid table", "3 dotted parts", 2, 1},
		{"quoted key section", "[databases.\"my db\"]\nbogus = 1\n", nil, `Unknown key "bogus"`, `[databases."my db"] has no key`, 2, 1},
		{"unicode columns", "[databases.\"ü\"]\n[[databases.\"ü\".time_filters]]\ntable = \"t\"\ncolumn = \"c\"\nlast = \"😀\"\n", nil, "Invalid time window", "must start with a number", 5, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := DecodeTOML("bad.toml", []byte(tt.src), LoadOptions{Vars: tt.vars})
			if !diags.HasErrors() {
				t.Fatalf("no error; diags: %v", diags)
			}
			var found *diag.Diagnostic
			for i, d := range diags {
				if d.Severity == diag.Error && d.Summary == tt.summary {
					found = &diags[i]
					break
				}
			}
			if found == nil {
				t.Fatalf("no %q error in:\n%s", tt.summary, tomlDiagText(diags))
			}
			for _, d := range diags {
				if d.Code == "" {
					t.Errorf("diagnostic without code: %s", d)
				}
			}
			if !strings.Contains(found.Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", found.Detail, tt.detail)
			}
			if tt.line == 0 {
				return
			}
			if found.Range == nil {
				t.Fatalf("no subject: %v", found)
			}
			if found.Range.Filename != "bad.toml" || found.Range.Start.Line != tt.line || (tt.col != 0 && found.Range.Start.Column != tt.col) {
				t.Errorf("subject = %s:%d:%d, want bad.toml:%d:%d", found.Range.Filename, found.Range.Start.Line, found.Range.Start.Column, tt.line, tt.col)
			}
		})
	}
}

func TestDecodeTOMLWarnings(t *testing.T) {
	cfg, diags := DecodeTOML("w.toml", []byte("[databases.a]\nschema_only = [\"t\", \"public.t\"]\n"), LoadOptions{})
	if diags.HasErrors() || len(diags) != 1 || diags[0].Summary != "Duplicate table" || diags[0].Range.Start.Column != 21 {
		t.Fatalf("diags: %s", tomlDiagText(diags))
	}
	if len(cfg.Replications[0].SchemaOnly) != 1 {
		t.Errorf("SchemaOnly = %v", cfg.Replications[0].SchemaOnly)
	}
}

func TestLoadTOMLMissingFile(t *testing.T) {
	cfg, diags := LoadTOML("testdata/does-not-exist.toml", LoadOptions{})
	if cfg != nil || !diags.HasErrors() || !strings.Contains(diags[0].Detail, "does-not-exist.toml") {
		t.Fatalf("cfg %v diags %v", cfg, diags)
	}
}

// TestLocateTOMLNoPanic feeds the locator truncated and odd documents: it
// must neither panic nor loop.
func TestLocateTOMLNoPanic(t *testing.T) {
	src := []byte(`a = """x""""` + "\n" + `b = '''y'''` + "\n[t]\nc = [1, [2, {d = 'e'}], \"f\\\"\"]\n[[u]]\n\"q.k\" = { x = 1 }\n")
	for i := 0; i <= len(src); i++ {
		locateTOML(src[:i])
	}
	locs := locateTOML(src)
	if _, ok := locs[tomlPath("u", tomlIndex(0), "q.k", "x")]; !ok {
		t.Errorf("inline key not located: %v", locs)
	}
}

func tomlDiagText(diags diag.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}

func TestConvertTOMLGolden(t *testing.T) {
	out, diags := ConvertTOML("testdata/predecessor.toml")
	if diags.HasErrors() {
		t.Fatalf("diagnostics:\n%s", writeDiagText(diags))
	}
	if !bytes.HasPrefix(out, []byte("# Converted from predecessor.toml by database-replicator config convert.\n")) {
		t.Errorf("missing header:\n%s", out)
	}
	const golden = "testdata/predecessor.hcl"
	if *updateGolden {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./lang/ -run TestConvertTOMLGolden -update)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("ConvertTOML output differs from %s (rerun with -update if intended):\n%s", golden, out)
	}
	if bytes.Contains(out, []byte("password")) || bytes.Contains(out, []byte("://")) {
		t.Errorf("converted file holds a connection string:\n%s", out)
	}
}

func TestConvertTOMLErrors(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/bad.toml"
	if err := os.WriteFile(path, []byte("[databases.a]\nbogus = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, diags := ConvertTOML(path)
	if out != nil || !diags.HasErrors() {
		t.Fatalf("out %q diags %v", out, diags)
	}
}

func TestWriteHCLRoundTripTOML(t *testing.T) {
	opts := LoadOptions{Vars: map[string]string{"source_url": "postgres://u:secret@src/postgres", "target_url": "host=dst user=admin"}}
	cfg, diags := LoadTOML("testdata/predecessor.toml", opts)
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", writeDiagText(diags))
	}
	out := roundTrip(t, cfg, opts)
	if bytes.Contains(out, []byte("secret")) {
		t.Errorf("password written:\n%s", out)
	}
}

// FuzzDecodeTOML asserts that no document makes the TOML decoder or the key
// locator panic, and that every error carries a position in the file.
func FuzzDecodeTOML(f *testing.F) {
	if src, err := os.ReadFile("testdata/predecessor.toml"); err == nil {
		f.Add(string(src))
	}
	f.Add("[databases.a]\nschema_only = [\"t\", 3]\n")
	f.Add(`databases = { myapp = { table_filters = [{ table = "t", where = "x" }] } }`)
	f.Add("[[databases.a.time_filters]]\ntable = \"t\"\ncolumn = \"c\"\nlast = '''6\nmonths'''\n")
	f.Fuzz(func(t *testing.T, src string) {
		_, diags := DecodeTOML("f.toml", []byte(src), LoadOptions{})
		for _, d := range diags {
			if d.Range == nil || d.Range.Filename != "f.toml" || d.Range.Start.Line < 1 {
				t.Fatalf("diagnostic without position: %v", d)
			}
		}
	})
}
