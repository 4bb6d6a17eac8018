package lang

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/database-replicator/database-replicator/lang/diag"
)

// sameConfig compares two configurations by their typed values, ignoring
// source ranges and file names.
func sameConfig(t *testing.T, got, want *Config) {
	t.Helper()
	if len(got.Variables) != len(want.Variables) {
		t.Errorf("variables: got %d, want %d", len(got.Variables), len(want.Variables))
	}
	for name, w := range want.Variables {
		g := got.Variables[name]
		if g == nil {
			t.Errorf("variable %q missing", name)
			continue
		}
		if g.Sensitive != w.Sensitive || g.Description != w.Description || !sameValue(g.Value, w.Value) {
			t.Errorf("variable %q: got %+v, want %+v", name, g, w)
		}
		if !w.Sensitive && !sameValue(g.Default, w.Default) {
			t.Errorf("variable %q default: got %#v, want %#v", name, g.Default, w.Default)
		}
	}
	for _, set := range []struct{ got, want map[string]*Endpoint }{{got.Sources, want.Sources}, {got.Targets, want.Targets}} {
		if len(set.got) != len(set.want) {
			t.Errorf("endpoints: got %d, want %d", len(set.got), len(set.want))
		}
		for name, w := range set.want {
			g := set.got[name]
			if g == nil || g.Kind != w.Kind || g.URL != w.URL || g.Sensitive != w.Sensitive {
				t.Errorf("endpoint %q: got %+v, want %+v", name, g, w)
			}
		}
	}
	if g, w := *got.State, *want.State; g.Backend != w.Backend || g.Path != w.Path || g.URL != w.URL || g.Schema != w.Schema {
		t.Errorf("state: got %+v, want %+v", g, w)
	}
	if len(got.Replications) != len(want.Replications) {
		t.Fatalf("replications: got %d, want %d", len(got.Replications), len(want.Replications))
	}
	for i, w := range want.Replications {
		g := got.Replications[i]
		checks := []struct {
			name      string
			got, want any
		}{
			{"Name", g.Name, w.Name}, {"Source", g.Source, w.Source}, {"Target", g.Target, w.Target},
			{"Databases", g.Databases, w.Databases}, {"ExcludeDatabases", g.ExcludeDatabases, w.ExcludeDatabases},
			{"IncludeTables", g.IncludeTables, w.IncludeTables}, {"ExcludeTables", g.ExcludeTables, w.ExcludeTables},
			{"SchemaOnly", g.SchemaOnly, w.SchemaOnly},
			{"Snapshot", g.Snapshot, w.Snapshot}, {"Sync", g.Sync, w.Sync}, {"Policy", g.Policy, w.Policy},
		}
		for _, c := range checks {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("replication %q %s: got %v, want %v", w.Name, c.name, c.got, c.want)
			}
		}
		if len(g.Tables) != len(w.Tables) {
			t.Errorf("replication %q tables: got %d, want %d", w.Name, len(g.Tables), len(w.Tables))
			continue
		}
		for j, wt := range w.Tables {
			gt := g.Tables[j]
			if gt.Ref != wt.Ref || gt.Where != wt.Where || gt.ReplicaIdentity != wt.ReplicaIdentity || !reflect.DeepEqual(gt.TimeWindow, wt.TimeWindow) ||
				gt.TargetSchema != wt.TargetSchema || gt.TargetTable != wt.TargetTable {
				t.Errorf("replication %q table %d: got %+v %+v, want %+v %+v", w.Name, j, gt, gt.TimeWindow, wt, wt.TimeWindow)
			}
		}
		if len(g.Schemas) != len(w.Schemas) {
			t.Errorf("replication %q schemas: got %d, want %d", w.Name, len(g.Schemas), len(w.Schemas))
			continue
		}
		for j, ws := range w.Schemas {
			if gs := g.Schemas[j]; gs.Database != ws.Database || gs.Schema != ws.Schema || gs.Target != ws.Target {
				t.Errorf("replication %q schema %d: got %+v, want %+v", w.Name, j, gs, ws)
			}
		}
	}
}

func sameValue(a, b cty.Value) bool {
	if a == cty.NilVal || b == cty.NilVal {
		return a == cty.NilVal && b == cty.NilVal
	}
	return a.RawEquals(b)
}

// roundTrip writes cfg as HCL, loads it back with opts and compares.
func roundTrip(t *testing.T, cfg *Config, opts LoadOptions) []byte {
	t.Helper()
	out := WriteHCL(cfg)
	back, diags := LoadSources(map[string][]byte{"written.hcl": out}, opts)
	if len(diags) > 0 {
		t.Fatalf("written HCL does not load back:\n%s\n%s", out, writeDiagText(diags))
	}
	sameConfig(t, back, cfg)
	if formatted, diags := Format("written.hcl", out); diags.HasErrors() || !bytes.Equal(formatted, out) {
		t.Errorf("written HCL is not canonical:\n%s", out)
	}
	return out
}

func writeDiagText(diags diag.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}

func TestWriteHCLRoundTripFlags(t *testing.T) {
	cfg, diags := FlagConfig(FilterFlags{
		IncludeDatabases: []string{"myapp", "analytics"},
		ExcludeTables:    []string{"myapp.logs"},
		SchemaOnlyTables: []string{`myapp."audit.logs"`},
		TableFilters:     []string{"events:ts > '10:00'::time AND note <> '${x}' AND y <> '%{z}'"},
		TimeFilters:      []string{`analytics.s.m:"Viewed At":2 weeks`},
	}, "postgres://u:pw@src/postgres", "postgres://dst/postgres")
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", writeDiagText(diags))
	}
	opts := LoadOptions{Vars: map[string]string{"source_url": "postgres://u:pw@src/postgres", "target_url": "postgres://dst/postgres"}}
	out := roundTrip(t, cfg, opts)
	if bytes.Contains(out, []byte("pw@")) {
		t.Errorf("password written:\n%s", out)
	}
}

func TestWriteHCLRoundTripHCL(t *testing.T) {
	opts := LoadOptions{
		Vars: map[string]string{"source_url": "postgres://replicator:secret@prod.internal/postgres"},
		LookupEnv: func(k string) (string, bool) {
			if k == "TARGET_URL" {
				return "postgres://admin@new.internal/postgres", true
			}
			return "", false
		},
	}
	cfg, diags := LoadPath("testdata/full.hcl", opts)
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", writeDiagText(diags))
	}
	roundTrip(t, cfg, opts)

	// Every setting away from its default, several replications, a
	// postgres state backend and plain variables.
	src := `
variable "source_url" {
  sensitive = true
}
variable "region" {
  description = "where"
  default     = "eu"
}
variable "state_url" {
  sensitive = true
  default   = "postgres://state:pw@s/db"
}
source "prod" {
  url = var.source_url
}
target "a" {
  url = "postgres://a/postgres"
}
target "b" {
  url = "host=b user=x"
}
replication "one" {
  source            = source.prod
  target            = target.a
  exclude_databases = ["test", "my.db"]
  include_tables    = ["app.users", "app.\"s.x\".t", "app.events"]
  table "app.events" {
    replica_identity = "full"
    time_window {
      column = "ts"
      last   = "1 year"
    }
  }
  table "app.users" {
    replica_identity = "default"
  }
  snapshot {
    jobs              = 17
    index_jobs        = 9
    globals           = false
    drop_existing     = true
    split_larger_than = "512MiB"
  }
  sync {
    method             = "xmin"
    interval           = "90s"
    reconcile_interval = "off"
    batch_size         = 5
    publication        = "p1"
    subscription       = "s1"
    enabled            = false
  }
  policy {
    on_schema_drift = "fail"
    max_lag         = "1h30m"
    prevent_destroy = true
    capture_ddl     = true
  }
}
replication "two" {
  source = source.prod
  target = target.b
  table "app.s1.t" {
    target = "s2.\"t.x\""
  }
  schema "app.sales" {
    target = "sales2"
  }
  sync {
    method             = "stream"
    reconcile_interval = "7d"
    publication        = "p2"
    subscription       = "s2"
  }
  snapshot {
    split_larger_than = 1000
  }
}
state {
  backend = "postgres"
  url     = var.state_url
  schema  = "rep"
}
`
	opts = LoadOptions{Vars: map[string]string{"source_url": "postgres://u:pw@prod/postgres"}}
	cfg, diags = LoadSources(map[string][]byte{"in.hcl": []byte(src)}, opts)
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", writeDiagText(diags))
	}
	// The sensitive default is not written; give it as --var on the way back.
	back := LoadOptions{Vars: map[string]string{"source_url": "postgres://u:pw@prod/postgres", "state_url": "postgres://state:pw@s/db"}}
	if !cfg.Replications[0].Sync.Paused || cfg.Replications[1].Sync.Paused {
		t.Fatalf("sync paused decoded as %v, %v; want true (enabled = false), false (the default)", cfg.Replications[0].Sync.Paused, cfg.Replications[1].Sync.Paused)
	}
	out := roundTrip(t, cfg, back)
	if bytes.Contains(out, []byte("pw@")) {
		t.Errorf("password written:\n%s", out)
	}
	if !bytes.Contains(out, []byte("enabled            = false")) || bytes.Count(out, []byte("enabled")) != 1 {
		t.Errorf("sync.enabled: want only the paused replication's written:\n%s", out)
	}
}

func TestWriteHCLSecrets(t *testing.T) {
	cfg, diags := FlagConfig(FilterFlags{}, "postgres://u:pw@src/postgres", "host=dst password=pw2")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	// A literal URL with a password that no variable holds.
	cfg.Variables = map[string]*Variable{}
	cfg.State = &StateConfig{Backend: BackendPostgres, URL: "postgres://st:pw3@h/db", Schema: DefaultStateSchema}
	out := string(WriteHCL(cfg))
	for _, secret := range []string{"pw@", "pw2", "pw3"} {
		if strings.Contains(out, secret) {
			t.Errorf("secret %q written:\n%s", secret, out)
		}
	}
	for _, want := range []string{`url = var.source_url`, `url = var.target_url`, `url     = var.state_url`, `variable "state_url" {`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	back, diags := LoadSources(map[string][]byte{"x.hcl": []byte(out)}, LoadOptions{Vars: map[string]string{
		"source_url": "postgres://u:pw@src/postgres", "target_url": "host=dst password=pw2", "state_url": "postgres://st:pw3@h/db",
	}})
	if len(diags) > 0 {
		t.Fatalf("written HCL does not load:\n%s\n%s", out, writeDiagText(diags))
	}
	if back.State.URL != "postgres://st:pw3@h/db" || back.Sources["source"].URL != "postgres://u:pw@src/postgres" {
		t.Errorf("loaded back: %+v %+v", back.State, back.Sources["source"])
	}
}

func TestWriteHCLWildcardFilter(t *testing.T) {
	cfg, diags := FlagConfig(FilterFlags{TableFilters: []string{"events:x > 1"}}, "a", "b")
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	out := string(WriteHCL(cfg))
	if !strings.Contains(out, `# Filter for public.events in every database (where x > 1): write one table "DB.public.events" block per database.`) {
		t.Errorf("no wildcard comment:\n%s", out)
	}
	if _, diags := LoadSources(map[string][]byte{"x.hcl": []byte(out)}, LoadOptions{Vars: map[string]string{"source_url": "a", "target_url": "b"}}); len(diags) > 0 {
		t.Errorf("does not load: %v", diags)
	}
	if got := WriteHCL(nil); len(got) != 0 {
		t.Errorf("WriteHCL(nil) = %q", got)
	}
}
