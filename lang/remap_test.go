package lang

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang/diag"
)

const streamSync = `  sync {
    method = "stream"
  }
`

func TestRemapDecode(t *testing.T) {
	cfg := mustLoad(t, repl(streamSync+`  table "app.s1.t" {
    target = "s2.t2"
  }
  table "app.s1.u" {
    target = "u2"
  }
  schema "app.sales" {
    target = "sales_copy"
  }
`), LoadOptions{})
	r := cfg.Replications[0]
	if !r.Remaps() {
		t.Fatal("Remaps() = false")
	}
	cases := map[TableRef]TableRef{
		{Database: "app", Schema: "s1", Table: "t"}:      {Database: "app", Schema: "s2", Table: "t2"},
		{Database: "app", Schema: "s1", Table: "u"}:      {Database: "app", Schema: "s1", Table: "u2"},
		{Database: "app", Schema: "sales", Table: "x"}:   {Database: "app", Schema: "sales_copy", Table: "x"},
		{Database: "app", Schema: "s1", Table: "other"}:  {Database: "app", Schema: "s1", Table: "other"},
		{Database: "other", Schema: "sales", Table: "x"}: {Database: "other", Schema: "sales", Table: "x"},
	}
	for from, want := range cases {
		if got := r.TargetOf(from); got != want {
			t.Errorf("TargetOf(%s) = %s, want %s", from, got, want)
		}
	}
	plain := mustLoad(t, repl(""), LoadOptions{})
	if plain.Replications[0].Remaps() {
		t.Error("Remaps() = true without target attributes")
	}
}

// TestRemapTableBlockWinsOverSchema: a table block's target is more
// specific than its schema block's.
func TestRemapTableBlockWinsOverSchema(t *testing.T) {
	cfg := mustLoad(t, repl(streamSync+`  schema "app.s1" {
    target = "s2"
  }
  table "app.s1.t" {
    target = "s3.t"
  }
`), LoadOptions{})
	r := cfg.Replications[0]
	if got := r.TargetOf(TableRef{Database: "app", Schema: "s1", Table: "t"}); got.Schema != "s3" {
		t.Errorf("TargetOf(app.s1.t) = %s, want schema s3", got)
	}
	if got := r.TargetOf(TableRef{Database: "app", Schema: "s1", Table: "u"}); got.Schema != "s2" {
		t.Errorf("TargetOf(app.s1.u) = %s, want schema s2", got)
	}
}

func TestRemapDiagnostics(t *testing.T) {
	tests := []struct {
		name, src string
		code      diag.Code
		summary   string
		detail    string
		line      int
	}{
		{name: "logical refused", code: CodeRemapNeedsStream, src: repl(`  sync {
    method = "logical"
  }
  table "a.s1.t" {
    target = "s2.t"
  }
`), summary: "Remapping needs the stream engine", detail: `cannot remap. Set method = "stream"`, line: 10},
		{name: "xmin refused", code: CodeRemapNeedsStream, src: repl(`  sync {
    method = "xmin"
  }
  schema "a.s1" {
    target = "s2"
  }
`), summary: "Remapping needs the stream engine", detail: "xmin engine does not remap", line: 10},
		{name: "auto refused", code: CodeRemapNeedsStream, src: repl(`  table "a.s1.t" {
    target = "s2.t"
  }
`), summary: "Remapping needs the stream engine", detail: `"auto"`, line: 7},
		{name: "two tables onto one", code: CodeRemapCollision, src: repl(streamSync + `  table "a.s1.t" {
    target = "s2.t"
  }
  table "a.s3.t" {
    target = "s2.t"
  }
`), summary: "Two sources remapped onto one target", detail: "Give each its own target", line: 13},
		{name: "two schemas onto one", code: CodeRemapCollision, src: repl(streamSync + `  schema "a.s1" {
    target = "s2"
  }
  schema "a.s3" {
    target = "s2"
  }
`), summary: "Two sources remapped onto one target", detail: "table blocks", line: 13},
		{name: "table onto itself", code: CodeInvalidRemapTarget, src: repl(streamSync + `  table "a.s1.t" {
    target = "s1.t"
  }
`), summary: "Table remapped onto itself", line: 10},
		{name: "table across databases", code: CodeInvalidRemapTarget, src: repl(streamSync + `  table "a.s1.t" {
    target = "b.s2.t"
  }
`), summary: "Invalid table target", detail: "within its database", line: 10},
		{name: "schema target with dot", code: CodeInvalidRemapTarget, src: repl(streamSync + `  schema "a.s1" {
    target = "x.y"
  }
`), summary: "Invalid schema target", line: 10},
		{name: "schema onto itself", code: CodeInvalidRemapTarget, src: repl(streamSync + `  schema "a.s1" {
    target = "s1"
  }
`), summary: "Schema remapped onto itself", line: 10},
		{name: "schema label", code: CodeInvalidTableReference, src: repl(streamSync + `  schema "a.s1.t" {
    target = "s2"
  }
`), summary: "Invalid schema reference", line: 9},
		{name: "duplicate schema", code: CodeDuplicateBlock, src: repl(streamSync + `  schema "a.s1" {
    target = "s2"
  }
  schema "a.s1" {
    target = "s3"
  }
`), summary: "Duplicate schema block", line: 12},
		{name: "schema missing target", code: CodeMissingAttribute, src: repl(streamSync + `  schema "a.s1" {
  }
`), summary: "Missing required argument", line: 0},
		{name: "schema outside databases", code: CodeTableNotInDatabases, src: repl(`  databases = ["b"]
` + streamSync + `  schema "a.s1" {
    target = "s2"
  }
`), summary: "Table outside the replicated databases", line: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := loadString(t, tt.src, LoadOptions{})
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
			if found.Severity != diag.Error {
				t.Errorf("severity = %v, want error", found.Severity)
			}
			if !strings.Contains(found.Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", found.Detail, tt.detail)
			}
			if tt.line != 0 && (found.Range == nil || found.Range.Start.Line != tt.line) {
				t.Errorf("subject %v, want line %d", found.Range, tt.line)
			}
		})
	}
}
