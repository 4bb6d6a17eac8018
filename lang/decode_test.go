package lang

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/database-replicator/database-replicator/lang/diag"
)

// envMap returns a LookupEnv over a fixed map.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func loadString(t *testing.T, src string, opts LoadOptions) (*Config, diag.Diagnostics) {
	t.Helper()
	return LoadSources(map[string][]byte{"main.hcl": []byte(src)}, opts)
}

// mustLoad loads src and fails on any diagnostic.
func mustLoad(t *testing.T, src string, opts LoadOptions) *Config {
	t.Helper()
	cfg, diags := loadString(t, src, opts)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", diagText(diags))
	}
	if cfg == nil {
		t.Fatal("nil config")
	}
	return cfg
}

func diagText(diags diag.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}

func TestLoadFullExample(t *testing.T) {
	opts := LoadOptions{
		Vars:      map[string]string{"source_url": "postgres://replicator:secret@prod.internal/postgres"},
		LookupEnv: envMap(map[string]string{"TARGET_URL": "postgres://admin@new.internal/postgres"}),
	}
	cfg, diags := LoadPath("testdata/full.hcl", opts)
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", diagText(diags))
	}
	if want := []string{"testdata/full.hcl"}; !reflect.DeepEqual(cfg.Files, want) {
		t.Errorf("Files = %v, want %v", cfg.Files, want)
	}
	v := cfg.Variables["source_url"]
	if v == nil || !v.Sensitive || v.Default != cty.NilVal || v.Value.AsString() != "postgres://replicator:secret@prod.internal/postgres" || v.DeclRange.Start.Line != 1 {
		t.Errorf("variable source_url = %+v", v)
	}
	src := cfg.Sources["prod"]
	if src == nil || src.Kind != KindSource || src.URL != "postgres://replicator:secret@prod.internal/postgres" || !src.Sensitive || src.Address() != "source.prod" || src.DeclRange.Start.Line != 5 {
		t.Errorf("source prod = %+v", src)
	}
	tgt := cfg.Targets["replica"]
	if tgt == nil || tgt.Kind != KindTarget || tgt.URL != "postgres://admin@new.internal/postgres" || tgt.Sensitive || tgt.DeclRange.Start.Line != 9 {
		t.Errorf("target replica = %+v", tgt)
	}
	if len(cfg.Replications) != 1 {
		t.Fatalf("replications = %d", len(cfg.Replications))
	}
	r := cfg.Replications[0]
	if r.Name != "main" || r.Source != "prod" || r.Target != "replica" || r.DeclRange.Start.Line != 13 {
		t.Errorf("replication header = %q %q %q line %d", r.Name, r.Source, r.Target, r.DeclRange.Start.Line)
	}
	if want := []string{"myapp", "analytics"}; !reflect.DeepEqual(r.Databases, want) {
		t.Errorf("Databases = %v", r.Databases)
	}
	if r.ExcludeDatabases != nil || r.IncludeTables != nil {
		t.Errorf("ExcludeDatabases = %v, IncludeTables = %v; want nil", r.ExcludeDatabases, r.IncludeTables)
	}
	if want := []TableRef{{Database: "myapp", Schema: "public", Table: "logs"}, {Database: "myapp", Schema: "public", Table: "cache"}}; !reflect.DeepEqual(r.ExcludeTables, want) {
		t.Errorf("ExcludeTables = %v", r.ExcludeTables)
	}
	if want := []TableRef{{Database: "myapp", Schema: "public", Table: "audit_logs"}}; !reflect.DeepEqual(r.SchemaOnly, want) {
		t.Errorf("SchemaOnly = %v", r.SchemaOnly)
	}
	if len(r.Tables) != 3 {
		t.Fatalf("tables = %d", len(r.Tables))
	}
	t0, t1, t2 := r.Tables[0], r.Tables[1], r.Tables[2]
	if t0.Ref != (TableRef{Database: "myapp", Schema: "public", Table: "events"}) || t0.Where != "created_at > now() - interval '90 days'" || t0.TimeWindow != nil || t0.ReplicaIdentity != "" || t0.DeclRange.Start.Line != 23 {
		t.Errorf("table 0 = %+v", t0)
	}
	if t1.Ref != (TableRef{Database: "analytics", Schema: "public", Table: "metrics"}) || t1.Where != "" || t1.TimeWindow == nil ||
		*t1.TimeWindow != (TimeWindow{Column: "timestamp", Last: Window{6, "months"}}) {
		t.Errorf("table 1 = %+v %+v", t1, t1.TimeWindow)
	}
	if got := t1.Predicate(); got != `"timestamp" > now() - interval '6 months'` {
		t.Errorf("table 1 predicate = %s", got)
	}
	if t2.Ref != (TableRef{Database: "myapp", Schema: "public", Table: "legacy_events"}) || t2.ReplicaIdentity != "full" || t2.Predicate() != "" {
		t.Errorf("table 2 = %+v", t2)
	}
	if want := (Snapshot{Jobs: 8, IndexJobs: 4, Globals: true, DropExisting: false, SplitLargerThan: DefaultSplitLargerThan}); r.Snapshot != want {
		t.Errorf("Snapshot = %+v", r.Snapshot)
	}
	if want := (Sync{Method: SyncAuto, Interval: time.Hour, ReconcileInterval: 24 * time.Hour, BatchSize: 10000,
		Publication: "seren_replication_pub", Subscription: "seren_replication_sub", SubscriptionPassword: SubscriptionPasswordURL}); r.Sync != want {
		t.Errorf("Sync = %+v", r.Sync)
	}
	if want := (Policy{OnSchemaDrift: DriftApply, MaxLag: 30 * time.Second, PreventDestroy: true}); r.Policy != want {
		t.Errorf("Policy = %+v", r.Policy)
	}
	st := cfg.State
	if st.Backend != BackendLocal || st.Path != "replicator.state.json" || st.URL != "" || st.Schema != "" || st.DeclRange.Start.Line != 59 {
		t.Errorf("State = %+v", st)
	}
}

func TestLoadFanOut(t *testing.T) {
	cfg, diags := LoadPath("testdata/fanout.hcl", LoadOptions{})
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", diagText(diags))
	}
	if len(cfg.Replications) != 2 {
		t.Fatalf("replications = %d", len(cfg.Replications))
	}
	p, w := cfg.Replications[0], cfg.Replications[1]
	if p.Source != "prod" || w.Source != "prod" || p.Target != "primary" || w.Target != "warehouse" {
		t.Errorf("endpoints: %s->%s, %s->%s", p.Source, p.Target, w.Source, w.Target)
	}
	if !cfg.Sources["prod"].Sensitive || cfg.Targets["primary"].URL != "postgres://admin@primary.internal/postgres" {
		t.Errorf("endpoints = %+v %+v", cfg.Sources["prod"], cfg.Targets["primary"])
	}
	if p.Sync.Publication != "replicator_primary_pub" || p.Sync.Method != SyncAuto || p.Sync.BatchSize != DefaultBatchSize ||
		p.Sync.SubscriptionPassword != SubscriptionPasswordNone {
		t.Errorf("primary sync = %+v", p.Sync)
	}
	if want := (Sync{Method: SyncXmin, Interval: 5 * time.Minute, ReconcileInterval: 0, BatchSize: 500,
		Publication: "replicator_warehouse_pub", Subscription: "replicator_warehouse_sub", SubscriptionPassword: SubscriptionPasswordURL}); w.Sync != want {
		t.Errorf("warehouse sync = %+v", w.Sync)
	}
	if want := []TableRef{{Database: "myapp", Schema: "public", Table: "orders"}, {Database: "myapp", Schema: "public", Table: "customers"}}; !reflect.DeepEqual(w.IncludeTables, want) {
		t.Errorf("IncludeTables = %v", w.IncludeTables)
	}
	if w.Tables[0].TimeWindow.Last != (Window{1, "years"}) {
		t.Errorf("window = %+v", w.Tables[0].TimeWindow)
	}
	if st := cfg.State; st.Backend != BackendPostgres || st.URL != "postgres://state.internal/replicator" || st.Schema != DefaultStateSchema || st.Path != "" {
		t.Errorf("State = %+v", st)
	}
}

// TestDefaults checks every default of a minimal configuration.
func TestDefaults(t *testing.T) {
	cfg := mustLoad(t, hdr+`replication "main" {
  source = source.prod
  target = target.replica
}
`, LoadOptions{})
	r := cfg.Replications[0]
	cpus := runtime.NumCPU()
	wantSnap := Snapshot{Jobs: max(1, min(8, 2*cpus)), IndexJobs: max(1, min(4, cpus)), Globals: true, SplitLargerThan: DefaultSplitLargerThan}
	if r.Snapshot != wantSnap {
		t.Errorf("Snapshot = %+v, want %+v", r.Snapshot, wantSnap)
	}
	if r.Sync != DefaultSync() || r.Sync.Method != SyncAuto || r.Sync.Interval != DefaultSyncInterval || r.Sync.ReconcileInterval != DefaultReconcileInterval ||
		r.Sync.BatchSize != DefaultBatchSize || r.Sync.Publication != DefaultPublication || r.Sync.Subscription != DefaultSubscription {
		t.Errorf("Sync = %+v", r.Sync)
	}
	if r.Policy != (Policy{OnSchemaDrift: DriftApply, MaxLag: DefaultMaxLag}) {
		t.Errorf("Policy = %+v", r.Policy)
	}
	if r.Databases != nil || r.ExcludeDatabases != nil || r.IncludeTables != nil || r.ExcludeTables != nil || r.SchemaOnly != nil || r.Tables != nil {
		t.Errorf("filters not nil: %+v", r)
	}
	if st := cfg.State; st.Backend != BackendLocal || st.Path != DefaultStatePath || st.DeclRange != (hcl.Range{}) {
		t.Errorf("State = %+v", st)
	}
}

func TestSettings(t *testing.T) {
	cfg := mustLoad(t, hdr+`replication "main" {
  source            = source.prod
  target            = target.replica
  exclude_databases = ["test"]
  include_tables    = ["myapp.users", "myapp.sales.orders", "myapp.\"Odd.Name\""]
  schema_only       = ["myapp.sales.orders"]

  snapshot {
    jobs              = 16
    index_jobs        = 2
    globals           = false
    drop_existing     = true
    split_larger_than = "512MB"
  }
  sync {
    method             = "stream"
    reconcile_interval = "1h30m"
  }
  policy {
    on_schema_drift = "fail"
    max_lag         = "2m"
    capture_ddl     = true
  }
}
state {
  backend = "postgres"
  url     = "postgres://state/db"
  schema  = "rep_state"
}
`, LoadOptions{})
	r := cfg.Replications[0]
	if want := []TableRef{{Database: "myapp", Schema: "public", Table: "users"}, {Database: "myapp", Schema: "sales", Table: "orders"}, {Database: "myapp", Schema: "public", Table: "Odd.Name"}}; !reflect.DeepEqual(r.IncludeTables, want) {
		t.Errorf("IncludeTables = %v", r.IncludeTables)
	}
	if want := []string{"test"}; !reflect.DeepEqual(r.ExcludeDatabases, want) || r.Databases != nil {
		t.Errorf("databases = %v / %v", r.Databases, r.ExcludeDatabases)
	}
	if want := (Snapshot{Jobs: 16, IndexJobs: 2, Globals: false, DropExisting: true, SplitLargerThan: 512 << 20}); r.Snapshot != want {
		t.Errorf("Snapshot = %+v", r.Snapshot)
	}
	if r.Sync.Method != SyncStream || r.Sync.ReconcileInterval != 90*time.Minute || r.Sync.Interval != DefaultSyncInterval {
		t.Errorf("Sync = %+v", r.Sync)
	}
	if r.Policy != (Policy{OnSchemaDrift: DriftFail, MaxLag: 2 * time.Minute, CaptureDDL: true}) {
		t.Errorf("Policy = %+v", r.Policy)
	}
	if st := cfg.State; *st != (StateConfig{Backend: BackendPostgres, URL: "postgres://state/db", Schema: "rep_state", DeclRange: st.DeclRange}) {
		t.Errorf("State = %+v", st)
	}

	cfg = mustLoad(t, hdr+`replication "main" {
  source = source.prod
  target = target.replica
  snapshot {
    split_larger_than = 1048576
  }
}
`, LoadOptions{})
	if got := cfg.Replications[0].Snapshot.SplitLargerThan; got != 1<<20 {
		t.Errorf("numeric split_larger_than = %d", got)
	}
	// Never split: the default, and what 0 and "off" say.
	if DefaultSplitLargerThan != 0 {
		t.Errorf("DefaultSplitLargerThan = %d, want 0 (never split)", DefaultSplitLargerThan)
	}
	for _, v := range []string{`0`, `"off"`, `"OFF"`, `"0"`} {
		cfg = mustLoad(t, hdr+`replication "main" {
  source = source.prod
  target = target.replica
  snapshot {
    split_larger_than = `+v+`
  }
}
`, LoadOptions{})
		if got := cfg.Replications[0].Snapshot.SplitLargerThan; got != 0 {
			t.Errorf("split_larger_than = %s: %d, want 0", v, got)
		}
	}
}

// hdr declares one source and one target on lines 1 and 2.
const hdr = `source "prod" { url = "postgres://prod/db" }
target "replica" { url = "postgres://replica/db" }
`

// repl wraps body lines in a replication block that starts on line 3;
// the first body line is line 6.
func repl(body string) string {
	return hdr + `replication "main" {
  source = source.prod
  target = target.replica
` + body + "}\n"
}

func TestDiagnostics(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		opts    LoadOptions
		warning bool
		code    diag.Code
		summary string
		detail  string
		line    int
		col     int // 0: not checked
	}{
		// Rule 1: mutually exclusive lists.
		{name: "databases and exclude_databases", code: "config.mutually-exclusive", src: repl(`  databases = ["a"]
  exclude_databases = ["b"]
`), summary: "databases and exclude_databases are mutually exclusive", detail: "Keep one of the two", line: 7, col: 3},
		{name: "include and exclude tables", code: "config.mutually-exclusive", src: repl(`  exclude_tables = ["a.t"]
  include_tables = ["a.u"]
`), summary: "include_tables and exclude_tables are mutually exclusive", detail: "exclude_tables is already set at line 6", line: 7, col: 3},

		// Rule 2: table references name a database in scope.
		{name: "table outside databases", code: "config.table-not-in-databases", src: repl(`  databases = ["myapp"]
  exclude_tables = ["myapp.logs", "other.logs"]
`), summary: "Table outside the replicated databases", detail: `Add "other" to databases`, line: 7, col: 35},
		{name: "table in excluded database", code: "config.table-in-excluded-database", src: repl(`  exclude_databases = ["test"]
  schema_only = ["test.t"]
`), summary: "Table in an excluded database", detail: `Remove "test" from exclude_databases`, line: 7, col: 18},
		{name: "table block outside databases", code: "config.table-not-in-databases", src: repl(`  databases = ["myapp"]
  table "other.t" {
    replica_identity = "full"
  }
`), summary: "Table outside the replicated databases", line: 7, col: 9},
		{name: "malformed table reference", code: "config.invalid-table-reference", src: repl(`  include_tables = ["users"]
`), summary: "Invalid table reference", detail: `write "DATABASE.users"`, line: 6, col: 21},
		{name: "malformed table label", code: "config.invalid-table-reference", src: repl(`  table "a.b.c.d" {
    where = "x"
  }
`), summary: "Invalid table reference", detail: "4 dotted parts", line: 6, col: 9},

		// Rule 3: where/time_window, windows, intervals.
		{name: "where injection", code: "config.invalid-filter", src: repl(`  table "inj.t" {
    where = "1=1); commit; drop table y; --"
  }
`), summary: "Invalid where", detail: "closes a parenthesis it did not open", line: 7, col: 13},
		{name: "where and time_window", code: "config.mutually-exclusive", src: repl(`  table "a.t" {
    where = "x > 1"
    time_window {
      column = "ts"
      last   = "7 days"
    }
  }
`), summary: "where and time_window are mutually exclusive", detail: "Keep one row filter", line: 8, col: 5},
		{name: "bad time window", code: "config.invalid-time-window", src: repl(`  table "a.t" {
    time_window {
      column = "ts"
      last   = "6 fortnights"
    }
  }
`), summary: "Invalid time window", detail: `unknown unit "fortnights"`, line: 9, col: 16},
		{name: "time window without column", code: "config.missing-attribute", src: repl(`  table "a.t" {
    time_window {
      last = "6 months"
    }
  }
`), summary: "Missing column in time_window", detail: `column = "created_at"`, line: 7, col: 5},
		{name: "bad interval", code: "config.invalid-interval", src: repl(`  sync {
    interval = "5 parsecs"
  }
`), summary: "Invalid interval for interval", detail: `unknown unit "parsecs"`, line: 7, col: 16},
		{name: "bad reconcile interval", code: "config.invalid-interval", src: repl(`  sync {
    reconcile_interval = "never"
  }
`), summary: "Invalid interval for reconcile_interval", detail: `Write "off" to disable it`, line: 7},
		{name: "bad max_lag", code: "config.invalid-interval", src: repl(`  policy {
    max_lag = "30 sec"
  }
`), summary: "Invalid interval for max_lag", detail: "unknown unit", line: 7},

		// Rule 4: settings for tables that copy no rows.
		{name: "where on schema-only table", code: "config.filter-on-schema-only", src: repl(`  schema_only = ["a.t"]
  table "a.public.t" {
    where = "x > 1"
  }
`), summary: "Row filter on a schema-only table", detail: "Remove where", line: 8, col: 5},
		{name: "time_window on schema-only table", code: "config.filter-on-schema-only", src: repl(`  schema_only = ["a.t"]
  table "a.t" {
    time_window {
      column = "ts"
      last   = "1 day"
    }
  }
`), summary: "Row filter on a schema-only table", detail: "Remove time_window", line: 8, col: 5},
		{name: "schema-only table excluded", code: "config.schema-only-excluded", src: repl(`  exclude_tables = ["a.t"]
  schema_only = ["a.u", "a.t"]
`), summary: "Schema-only table is excluded", detail: "Remove it from exclude_tables", line: 7, col: 25},
		{name: "schema-only table not included", code: "config.schema-only-not-included", src: repl(`  include_tables = ["a.t"]
  schema_only = ["a.u"]
`), summary: "Schema-only table is not included", detail: `Add "a.public.u" to include_tables`, line: 7, col: 18},
		{name: "table block for excluded table", code: "config.settings-excluded-table", src: repl(`  exclude_tables = ["a.t"]
  table "a.t" {
    replica_identity = "full"
  }
`), summary: "Settings for an excluded table", line: 7, col: 9},

		// Rule 5: overlapping replications on one target.
		{name: "overlap on one target", code: "config.overlapping-targets", src: hdr + `replication "one" {
  source    = source.prod
  target    = target.replica
  databases = ["a", "b"]
}
replication "two" {
  source    = source.prod
  target    = target.replica
  databases = ["b", "c"]
}
`, warning: true, summary: "Replications overlap on one target", detail: `both write database "b" to target.replica`, line: 10, col: 15},
		{name: "overlap with every database", code: "config.overlapping-targets", src: hdr + `replication "one" {
  source = source.prod
  target = target.replica
}
replication "two" {
  source            = source.prod
  target            = target.replica
  exclude_databases = ["x"]
}
`, warning: true, summary: "Replications overlap on one target", line: 9},

		{name: "fan-out with shared object names", code: "config.shared-replication-objects", src: `source "prod" { url = "postgres://prod/db" }
target "a" { url = "postgres://a/db" }
target "b" { url = "postgres://b/db" }
replication "one" {
  source = source.prod
  target = target.a
}
replication "two" {
  source = source.prod
  target = target.b
}
`, warning: true, summary: "Replications share replication object names", detail: `publication = "replicator_two_pub"`, line: 8, col: 1},

		// Endpoint references.
		{name: "source refers to target", code: "config.invalid-endpoint-reference", src: hdr + `replication "main" {
  source = target.replica
  target = target.replica
}
`, summary: "Invalid source reference", detail: "write source = source.prod", line: 4, col: 12},
		{name: "source undeclared", code: "config.undeclared-endpoint", src: hdr + `replication "main" {
  source = source.prd
  target = target.replica
}
`, summary: "Reference to undeclared source", detail: "Did you mean source = source.prod?", line: 4, col: 12},
		{name: "source string literal", code: "config.invalid-endpoint-reference", src: hdr + `replication "main" {
  source = "prod"
  target = target.replica
}
`, summary: "Invalid source reference", detail: "not a string: write source = source.prod", line: 4, col: 12},
		{name: "missing target", code: "config.missing-endpoint", src: hdr + `replication "main" {
  source = source.prod
}
`, summary: "Missing target", detail: "write target = target.replica", line: 3, col: 1},
		{name: "target with extra step", code: "config.invalid-endpoint-reference", src: hdr + `replication "main" {
  source = source.prod
  target = target.replica.url
}
`, summary: "Invalid target reference", detail: "target.NAME", line: 5, col: 12},

		// Enums and numbers.
		{name: "bad replica_identity", code: "config.invalid-choice", src: repl(`  table "a.t" {
    replica_identity = "nothing"
  }
`), summary: "Invalid value for replica_identity", detail: `must be one of "default", "full"`, line: 7, col: 24},
		{name: "bad sync method", code: "config.invalid-choice", src: repl(`  sync {
    method = "logic"
  }
`), summary: "Invalid value for method", detail: `"auto", "logical", "xmin", "stream", "none", not "logic". Did you mean method = "logical"?`, line: 7, col: 14},
		{name: "bad on_schema_drift", code: "config.invalid-choice", src: repl(`  policy {
    on_schema_drift = "abort"
  }
`), summary: "Invalid value for on_schema_drift", detail: `"apply", "plan", "fail", "ignore"`, line: 7},
		{name: "jobs zero", code: "config.invalid-number", src: repl(`  snapshot {
    jobs = 0
  }
`), summary: "Invalid value for jobs", detail: "between 1 and 1024", line: 7, col: 12},
		{name: "jobs too many", code: "config.invalid-number", src: repl(`  snapshot {
    index_jobs = 5000
  }
`), summary: "Invalid value for index_jobs", detail: "between 1 and 1024, not 5000", line: 7},
		{name: "jobs fractional", code: "config.invalid-number", src: repl(`  snapshot {
    jobs = 1.5
  }
`), summary: "Invalid value for jobs", detail: "whole number", line: 7},
		{name: "jobs wrong type", code: "config.wrong-type", src: repl(`  snapshot {
    jobs = "many"
  }
`), summary: "Invalid value for jobs", detail: "must be a number", line: 7},
		{name: "batch too large", code: "config.invalid-number", src: repl(`  sync {
    batch_size = 2000000
  }
`), summary: "Invalid value for batch_size", detail: "between 1 and 1000000", line: 7},
		{name: "bad split size", code: "config.invalid-size", src: repl(`  snapshot {
    split_larger_than = "1 parsec"
  }
`), summary: "Invalid size for split_larger_than", detail: "unknown unit", line: 7},
		{name: "globals not bool", code: "config.wrong-type", src: repl(`  snapshot {
    globals = "yes please"
  }
`), summary: "Invalid value for globals", detail: "globals = true or globals = false", line: 7},
		{name: "databases not a list", code: "config.wrong-type", src: repl(`  databases = "myapp"
`), summary: "Invalid value for databases", detail: `databases = ["myapp", "analytics"]`, line: 6, col: 15},
		{name: "empty databases", code: "config.empty-list", src: repl(`  databases = []
`), summary: "Empty databases list", line: 6},
		{name: "long publication", code: "config.name-too-long", src: repl(`  sync {
    publication = "` + strings.Repeat("p", 64) + `"
  }
`), summary: "publication name too long", line: 7},

		// Duplicates.
		{name: "duplicate snapshot", code: "config.duplicate-block", src: repl(`  snapshot {}
  snapshot {}
`), summary: "Duplicate snapshot block", detail: "main.hcl:6:3", line: 7, col: 3},
		{name: "duplicate sync", code: "config.duplicate-block", src: repl(`  sync {}
  sync {}
`), summary: "Duplicate sync block", line: 7},
		{name: "duplicate policy", code: "config.duplicate-block", src: repl(`  policy {}
  policy {}
`), summary: "Duplicate policy block", line: 7},
		{name: "duplicate table", code: "config.duplicate-block", src: repl(`  table "a.t" {
    where = "x > 1"
  }
  table "a.public.t" {
    replica_identity = "full"
  }
`), summary: "Duplicate table block", detail: "Merge the two", line: 9, col: 3},
		{name: "duplicate replication", code: "config.duplicate-block", src: repl("") + `replication "main" {
  source = source.prod
  target = target.replica
}
`, summary: "Duplicate replication", detail: "main.hcl:3:1", line: 7, col: 1},
		{name: "duplicate source", code: "config.duplicate-block", src: hdr + `source "prod" { url = "x" }
` + `replication "main" {
  source = source.prod
  target = target.replica
}
`, summary: "Duplicate source", detail: "main.hcl:1:1", line: 3},
		{name: "duplicate variable", code: "config.duplicate-block", src: `variable "x" { default = 1 }
variable "x" { default = 2 }
` + repl(""), summary: "Duplicate variable", line: 2},
		{name: "duplicate state", code: "config.duplicate-block", src: repl("") + `state {}
state {}
`, summary: "Duplicate state block", line: 8},

		// State.
		{name: "postgres state without url", code: "config.missing-attribute", src: repl("") + `state {
  backend = "postgres"
}
`, summary: "Missing url for the postgres state backend", line: 7},
		{name: "postgres state with path", code: "config.state-backend-attribute", src: repl("") + `state {
  backend = "postgres"
  url     = "postgres://s/db"
  path    = "x.json"
}
`, summary: "path is not allowed with the postgres backend", line: 10, col: 3},
		{name: "local state with url", code: "config.state-backend-attribute", src: repl("") + `state {
  url = "postgres://s/db"
}
`, summary: "url is not allowed with the local backend", detail: `backend = "postgres"`, line: 8, col: 3},
		{name: "bad backend", code: "config.invalid-choice", src: repl("") + `state {
  backend = "s3"
}
`, summary: "Invalid value for backend", detail: `"local", "postgres"`, line: 8, col: 13},

		// Variables.
		{name: "required variable", code: "config.variable-no-value", src: `variable "pw" {
  sensitive = true
}
` + repl(""), summary: `No value for required variable "pw"`, detail: "--var pw=VALUE, export REPLICATOR_VAR_pw=VALUE", line: 1, col: 1},
		{name: "undeclared --var", code: "config.undeclared-variable-value", src: `variable "source_url" { default = "x" }
` + repl(""), opts: LoadOptions{Vars: map[string]string{"source_ur": "y"}},
			summary: `Value for undeclared variable "source_ur"`, detail: `Declared variables: source_url. Did you mean "source_url"?`},
		{name: "undeclared variable reference", code: "config.undeclared-variable", src: `source "prod" { url = var.nope }
target "replica" { url = "postgres://replica/db" }
replication "main" {
  source = source.prod
  target = target.replica
}
`, summary: "Reference to undeclared variable", detail: `variable "nope" {}`, line: 1, col: 23},
		{name: "bad number from --var", code: "config.invalid-variable-value", src: `variable "n" { default = 3 }
` + repl(""), opts: LoadOptions{Vars: map[string]string{"n": "three"}},
			summary: `Invalid value for variable "n"`, detail: "must be a number", line: 1},

		// Endpoints.
		{name: "missing url", code: "config.missing-attribute", src: `source "prod" {}
target "replica" { url = "postgres://replica/db" }
replication "main" {
  source = source.prod
  target = target.replica
}
`, summary: "Missing url", line: 1, col: 1},
		{name: "empty url", code: "config.empty-value", src: `source "prod" { url = "" }
target "replica" { url = "postgres://replica/db" }
replication "main" {
  source = source.prod
  target = target.replica
}
`, summary: "Empty url", line: 1, col: 23},
		{name: "url wrong type", code: "config.wrong-type", src: `source "prod" { url = ["a"] }
target "replica" { url = "postgres://replica/db" }
replication "main" {
  source = source.prod
  target = target.replica
}
`, summary: "Invalid value for url", detail: "must be a string", line: 1, col: 23},

		// Functions.
		{name: "missing env var", code: "config.function-error", src: `source "prod" { url = env("PROD_URL") }
target "replica" { url = "postgres://replica/db" }
replication "main" {
  source = source.prod
  target = target.replica
}
`, summary: "Error in function call", detail: `export PROD_URL=VALUE, or give a fallback with env("PROD_URL", "default")`, line: 1},
		{name: "missing file", code: "config.function-error", src: `source "prod" { url = file("nope/url.txt") }
target "replica" { url = "postgres://replica/db" }
replication "main" {
  source = source.prod
  target = target.replica
}
`, summary: "Invalid function argument", detail: "cannot read file " + filepath.Join("nope", "url.txt"), line: 1, col: 29},
		{name: "unknown function", code: "config.invalid-expression", src: `source "prod" { url = getenv("X") }
target "replica" { url = "postgres://replica/db" }
replication "main" {
  source = source.prod
  target = target.replica
}
`, summary: "Call to unknown function", line: 1, col: 23},

		// Schema errors from HCL, with suggestions.
		{name: "unknown attribute", code: "config.unsupported-argument", src: repl(`  databse = ["a"]
`), summary: "Unsupported argument", detail: `Did you mean "databases"?`, line: 6, col: 3},
		{name: "unknown block", code: "config.unsupported-block", src: repl(`  snapshots {}
`), summary: "Unsupported block type", detail: `Did you mean "snapshot"?`, line: 6, col: 3},
		{name: "unknown top-level block", code: "config.unsupported-block", src: hdr + `replications "main" {}
`, summary: "Unsupported block type", detail: `Did you mean "replication"?`, line: 3},

		// Whole configuration.
		{name: "no replication", code: "config.no-replication", src: hdr, summary: "No replication block", detail: "add a replication block", line: 1, col: 1},
		{name: "syntax error", code: "config.syntax", src: "source \"prod\" {\n  url = \n}\n", summary: "Invalid expression", line: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := loadString(t, tt.src, tt.opts)
			var found *diag.Diagnostic
			for i, d := range diags {
				if strings.Contains(d.Summary, tt.summary) {
					found = &diags[i]
					break
				}
			}
			if found == nil {
				t.Fatalf("no diagnostic with summary %q; got:\n%s", tt.summary, diagText(diags))
			}
			if found.Code != tt.code {
				t.Errorf("code = %q, want %q", found.Code, tt.code)
			}
			for _, d := range diags {
				if d.Code == "" {
					t.Errorf("diagnostic without code: %s", d)
				}
			}
			wantSev := diag.Error
			if tt.warning {
				wantSev = diag.Warning
				if diags.HasErrors() {
					t.Errorf("want only warnings, got errors:\n%s", diagText(diags))
				}
			}
			if found.Severity != wantSev {
				t.Errorf("severity = %v, want %v", found.Severity, wantSev)
			}
			if !strings.Contains(found.Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", found.Detail, tt.detail)
			}
			if tt.line == 0 {
				return
			}
			if found.Range == nil {
				t.Fatalf("no subject, want line %d", tt.line)
			}
			if found.Range.Filename != "main.hcl" {
				t.Errorf("subject file = %q", found.Range.Filename)
			}
			if found.Range.Start.Line != tt.line || (tt.col != 0 && found.Range.Start.Column != tt.col) {
				t.Errorf("subject at %d:%d, want %d:%d (%s)", found.Range.Start.Line, found.Range.Start.Column, tt.line, tt.col, found.String())
			}
		})
	}
}

// TestNoPanicOnPartialConfig checks that a config with errors still comes
// back (partial) and that parse errors give nil.
func TestPartialConfig(t *testing.T) {
	cfg, diags := loadString(t, repl(`  sync {
    method = "bogus"
  }
`), LoadOptions{})
	if !diags.HasErrors() || cfg == nil || cfg.State == nil || len(cfg.Replications) != 1 {
		t.Fatalf("cfg = %+v, diags = %v", cfg, diags)
	}
	if cfg.Replications[0].Sync.Method != SyncAuto {
		t.Errorf("invalid method should leave the default, got %q", cfg.Replications[0].Sync.Method)
	}
	cfg, diags = loadString(t, "replication {", LoadOptions{})
	if cfg != nil || !diags.HasErrors() {
		t.Errorf("syntax error: cfg = %v, diags = %v", cfg, diags)
	}
}

func TestVariablePrecedence(t *testing.T) {
	src := `variable "url" {
  default     = "from-default"
  description = "Source URL"
}
variable "jobs" { default = 2 }
variable "globals" { default = true }
variable "dbs" { default = ["a"] }
source "prod" { url = var.url }
target "replica" { url = "postgres://replica/db" }
replication "main" {
  source    = source.prod
  target    = target.replica
  databases = var.dbs
  snapshot {
    jobs    = var.jobs
    globals = var.globals
  }
}
`
	tests := []struct {
		name    string
		opts    LoadOptions
		url     string
		jobs    int
		globals bool
		dbs     []string
	}{
		{name: "defaults", url: "from-default", jobs: 2, globals: true, dbs: []string{"a"}},
		{name: "env", opts: LoadOptions{LookupEnv: envMap(map[string]string{
			"REPLICATOR_VAR_url": "from-env", "REPLICATOR_VAR_JOBS": "5", "REPLICATOR_VAR_globals": "false", "REPLICATOR_VAR_dbs": `["x", "y"]`,
		})}, url: "from-env", jobs: 5, globals: false, dbs: []string{"x", "y"}},
		{name: "exact name before upper-case", opts: LoadOptions{LookupEnv: envMap(map[string]string{
			"REPLICATOR_VAR_url": "exact", "REPLICATOR_VAR_URL": "upper",
		})}, url: "exact", jobs: 2, globals: true, dbs: []string{"a"}},
		{name: "upper-case env", opts: LoadOptions{LookupEnv: envMap(map[string]string{"REPLICATOR_VAR_URL": "upper"})},
			url: "upper", jobs: 2, globals: true, dbs: []string{"a"}},
		{name: "--var beats env", opts: LoadOptions{
			Vars:      map[string]string{"url": "from-flag", "jobs": "7"},
			LookupEnv: envMap(map[string]string{"REPLICATOR_VAR_url": "from-env", "REPLICATOR_VAR_jobs": "5"}),
		}, url: "from-flag", jobs: 7, globals: true, dbs: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustLoad(t, src, tt.opts)
			r := cfg.Replications[0]
			if got := cfg.Sources["prod"].URL; got != tt.url {
				t.Errorf("url = %q, want %q", got, tt.url)
			}
			if r.Snapshot.Jobs != tt.jobs || r.Snapshot.Globals != tt.globals || !reflect.DeepEqual(r.Databases, tt.dbs) {
				t.Errorf("jobs=%d globals=%v dbs=%v, want %d %v %v", r.Snapshot.Jobs, r.Snapshot.Globals, r.Databases, tt.jobs, tt.globals, tt.dbs)
			}
			v := cfg.Variables["url"]
			if v.Description != "Source URL" || v.Default.AsString() != "from-default" || v.Value.AsString() != tt.url || v.Sensitive {
				t.Errorf("variable = %+v", v)
			}
			if cfg.Sources["prod"].Sensitive {
				t.Error("non-sensitive variable made the source sensitive")
			}
		})
	}
}

func TestSensitiveInterpolation(t *testing.T) {
	src := `variable "pw" { sensitive = true }
source "prod" { url = "postgres://u:${var.pw}@h/db" }
target "replica" { url = trimspace(upper(var.pw)) }
replication "main" {
  source = source.prod
  target = target.replica
}
`
	cfg := mustLoad(t, src, LoadOptions{Vars: map[string]string{"pw": " s3cret "}})
	if ep := cfg.Sources["prod"]; ep.URL != "postgres://u: s3cret @h/db" || !ep.Sensitive {
		t.Errorf("source = %+v", ep)
	}
	if ep := cfg.Targets["replica"]; ep.URL != "S3CRET" || !ep.Sensitive {
		t.Errorf("target = %+v", ep)
	}
	if v := cfg.Variables["pw"]; !v.Sensitive || v.Value.IsMarked() || v.Value.AsString() != " s3cret " {
		t.Errorf("variable = %#v", v)
	}
}

func TestEnvFunction(t *testing.T) {
	src := `source "prod" { url = env("PROD_URL") }
target "replica" { url = env("REPLICA_URL", "postgres://fallback/db") }
replication "main" {
  source = source.prod
  target = target.replica
}
`
	cfg := mustLoad(t, src, LoadOptions{LookupEnv: envMap(map[string]string{"PROD_URL": "postgres://prod/db"})})
	if cfg.Sources["prod"].URL != "postgres://prod/db" || cfg.Targets["replica"].URL != "postgres://fallback/db" {
		t.Errorf("urls = %q %q", cfg.Sources["prod"].URL, cfg.Targets["replica"].URL)
	}
	cfg = mustLoad(t, src, LoadOptions{LookupEnv: envMap(map[string]string{"PROD_URL": "a", "REPLICA_URL": "b"})})
	if cfg.Targets["replica"].URL != "b" {
		t.Errorf("env should beat the fallback, got %q", cfg.Targets["replica"].URL)
	}
	// A nil LookupEnv is an empty environment.
	_, diags := loadString(t, src, LoadOptions{})
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, "PROD_URL is not set") {
		t.Errorf("diags = %v", diags)
	}
}

func TestFileFunctionRelative(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "conf")
	if err := os.MkdirAll(filepath.Join(sub, "secrets"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(sub, "secrets", "url.txt"), "postgres://from-file/db\n")
	write(t, filepath.Join(sub, "replication.hcl"), `source "prod" { url = trimspace(file("secrets/url.txt")) }
target "replica" { url = "postgres://replica/db" }
replication "main" {
  source = source.prod
  target = target.replica
}
`)
	// Load from another working directory: the path is relative to the file.
	cfg, diags := LoadPath(filepath.Join(sub, "replication.hcl"), LoadOptions{})
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", diagText(diags))
	}
	if got := cfg.Sources["prod"].URL; got != "postgres://from-file/db" {
		t.Errorf("url = %q", got)
	}

	write(t, filepath.Join(sub, "replication.hcl"), `source "prod" { url = file("missing.txt") }
target "replica" { url = "postgres://replica/db" }
replication "main" {
  source = source.prod
  target = target.replica
}
`)
	_, diags = LoadPath(filepath.Join(sub, "replication.hcl"), LoadOptions{})
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, filepath.Join(sub, "missing.txt")) {
		t.Errorf("diags = %v", diags)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "endpoints.hcl"), `variable "pw" { sensitive = true }
source "prod" { url = "postgres://u:${var.pw}@prod/db" }
target "replica" { url = "postgres://replica/db" }
`)
	write(t, filepath.Join(dir, "replication.hcl"), `replication "main" {
  source = source.prod
  target = target.replica
}
`)
	write(t, filepath.Join(dir, "state.hcl"), `state {
  path = "custom.json"
}
`)
	write(t, filepath.Join(dir, "notes.txt"), "not hcl {")
	if err := os.Mkdir(filepath.Join(dir, "sub.hcl"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, diags := LoadPath(dir, LoadOptions{Vars: map[string]string{"pw": "x"}})
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", diagText(diags))
	}
	want := []string{filepath.Join(dir, "endpoints.hcl"), filepath.Join(dir, "replication.hcl"), filepath.Join(dir, "state.hcl")}
	if !reflect.DeepEqual(cfg.Files, want) {
		t.Errorf("Files = %v", cfg.Files)
	}
	if !cfg.Sources["prod"].Sensitive || cfg.Replications[0].Source != "prod" || cfg.State.Path != "custom.json" {
		t.Errorf("cfg = %+v", cfg)
	}

	// A second state block in another file is a duplicate.
	write(t, filepath.Join(dir, "zz.hcl"), "state {}\n")
	_, diags = LoadPath(dir, LoadOptions{Vars: map[string]string{"pw": "x"}})
	if !diags.HasErrors() || diags[0].Summary != "Duplicate state block" || diags[0].Range.Filename != filepath.Join(dir, "zz.hcl") ||
		!strings.Contains(diags[0].Detail, filepath.Join(dir, "state.hcl")+":1:1") {
		t.Errorf("diags = %v", diags)
	}
}

func TestLoadDirectoryWithoutHCL(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "replication.toml"), "")
	cfg, diags := LoadPath(dir, LoadOptions{})
	if cfg != nil || !diags.HasErrors() || diags[0].Summary != "No configuration files" || !strings.Contains(diags[0].Detail, "no *.hcl files") {
		t.Errorf("cfg = %v, diags = %v", cfg, diags)
	}
	_, diags = LoadPath(filepath.Join(dir, "missing.hcl"), LoadOptions{})
	if !diags.HasErrors() || diags[0].Summary != "Cannot read configuration" {
		t.Errorf("diags = %v", diags)
	}
}

func TestFanOutSharedSourceNoDiagnostics(t *testing.T) {
	cfg := mustLoad(t, `source "prod" { url = "postgres://prod/db" }
target "a" { url = "postgres://a/db" }
target "b" { url = "postgres://b/db" }
replication "one" {
  source    = source.prod
  target    = target.a
  databases = ["p"]
}
replication "two" {
  source    = source.prod
  target    = target.b
  databases = ["p"]
  sync {
    publication  = "two_pub"
    subscription = "two_sub"
  }
}
replication "three" {
  source    = source.prod
  target    = target.a
  databases = ["x"]
}
replication "four" {
  source            = source.prod
  target            = target.b
  exclude_databases = ["p"]
  sync {
    publication  = "four_pub"
    subscription = "four_sub"
  }
}
`, LoadOptions{})
	if len(cfg.Replications) != 4 {
		t.Fatalf("replications = %d", len(cfg.Replications))
	}
	for _, r := range cfg.Replications {
		if r.Source != "prod" {
			t.Errorf("%s: source = %q", r.Name, r.Source)
		}
	}
}

// TestExamples loads the shipped HCL examples, which must stay valid.
func TestExamples(t *testing.T) {
	files, _ := filepath.Glob("../examples/*/*.hcl")
	if len(files) == 0 {
		t.Skip("no examples")
	}
	env := envMap(map[string]string{
		"REPLICATOR_VAR_source_url": "postgres://replicator@prod/postgres",
		"TARGET_URL":                "postgres://t/postgres",
		"PRIMARY_URL":               "postgres://p/postgres",
		"WAREHOUSE_URL":             "postgres://w/postgres",
		"STATE_URL":                 "postgres://s/postgres",
	})
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			cfg, diags := LoadPath(name, LoadOptions{LookupEnv: env})
			if diags.HasErrors() || cfg == nil || len(cfg.Replications) == 0 {
				t.Fatalf("diagnostics:\n%s", diagText(diags))
			}
			// Every example takes its source URL from a sensitive variable.
			for name, src := range cfg.Sources {
				if !src.Sensitive {
					t.Errorf("source %s should be sensitive", name)
				}
			}
		})
	}
}

func TestListVariableKinds(t *testing.T) {
	src := `variable "dbs" { default = ["a"] }
` + repl(`  databases = var.dbs
`)
	_, diags := loadString(t, src, LoadOptions{Vars: map[string]string{"dbs": `{ a = 1 }`}})
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, "must be a list, like the default, not a map or object") {
		t.Errorf("diags = %v", diags)
	}
	_, diags = loadString(t, src, LoadOptions{Vars: map[string]string{"dbs": `["a"`}})
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, "not a valid HCL expression") {
		t.Errorf("diags = %v", diags)
	}
}
