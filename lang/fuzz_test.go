package lang

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic.
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob("testdata/*.hcl")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		"",
		"{",
		`variable "x" {}`,
		`variable "x" { default = [1, "a", null] }` + "\n" + `source "a" { url = var.x }`,
		hdr + `replication "r" { source = source.prod target = target.replica }`,
		repl(`  databases = [null]
  include_tables = ["a.\"b", "x..y"]
  table "a.t" {
    where = null
    time_window {}
    time_window { last = 5 }
  }
  snapshot { jobs = 1e400 split_larger_than = -1 }
  sync { reconcile_interval = "off" batch_size = -0.5 }
`),
		`source "p" { url = env("A", "b", "c") }`,
		`source "p" { url = file("") }`,
		`source "p" { url = source.p.url }` + "\n" + `target "t" { url = target.t }`,
		repl("") + `replication "x" { source = source["prod"] target = target[0] }`,
		`state { backend = "postgres" path = "x" url = null schema = "" }`,
	} {
		f.Add([]byte(s))
	}
	env := envMap(map[string]string{"A": "postgres://a/db", "REPLICATOR_VAR_x": "[1]"})
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := LoadSources(map[string][]byte{"fuzz.hcl": src}, LoadOptions{
			Vars:      map[string]string{"x": "1"},
			LookupEnv: env,
		})
		if cfg == nil && !diags.HasErrors() {
			t.Fatal("nil config without errors")
		}
		if cfg != nil && cfg.State == nil {
			t.Fatal("nil state")
		}
		for _, d := range diags {
			if d.Code == "" {
				t.Fatalf("diagnostic without code: %s", d)
			}
		}
	})
}
