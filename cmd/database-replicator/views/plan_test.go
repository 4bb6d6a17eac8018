package views

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
)

// Values read back from state (json.Number) equal the planned ones, and
// text is not HTML-escaped.
func TestTextViewValues(t *testing.T) {
	before, err := plans.DecodeAttrs(addrs.Table, map[string]any{"bytes": json.Number("49152"), "estimated_rows": json.Number("10"), "filter": "id <= 100"})
	if err != nil {
		t.Fatal(err)
	}
	p := &plans.Plan{Changes: []*plans.Change{{
		Addr:   addrs.New("main", addrs.Table, "app.public.events"),
		Action: plans.Replace,
		Reason: "filter changed",
		Before: before,
		After:  &plans.TableAttrs{Bytes: 49152, EstimatedRows: 10, Filter: "id <= 200 AND kind <> 'x'"},
	}}}
	var out bytes.Buffer
	if err := (PlanText{W: &out}).Plan(p); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, unwanted := range []string{"bytes", "estimated_rows", `\u003c`} {
		if strings.Contains(text, unwanted) {
			t.Errorf("plan text shows %q:\n%s", unwanted, text)
		}
	}
	if !regexp.MustCompile(`~ filter += "id <= 100" -> "id <= 200 AND kind <> 'x'"`).MatchString(text) {
		t.Errorf("plan text lacks the filter change:\n%s", text)
	}
}

// Every plan view writes to its writer: text says "No changes." for a
// plan of noops, JSON keeps format_version and the noop change, markdown
// lists what changes in a table and warnings apart.
func TestPlanViews(t *testing.T) {
	noop := &plans.Plan{Changes: []*plans.Change{{Addr: addrs.New("main", addrs.Sequences, "app"), Action: plans.NoOp,
		After: &plans.SequencesAttrs{Sequences: 2}}}}
	var out bytes.Buffer
	if err := NewPlanView(&out, false, false, false).Plan(noop); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "No changes.") || !strings.Contains(out.String(), "Plan: 0 to add, 0 to change, 0 to destroy.") {
		t.Errorf("text view of noops:\n%s", out.String())
	}
	out.Reset()
	if err := NewPlanView(&out, true, false, false).Plan(noop); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"format_version": "1"`, `"action": "noop"`, `"sequences": 2`, `"warnings": []`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("JSON view lacks %s:\n%s", want, out.String())
		}
	}
	create := &plans.Plan{Changes: []*plans.Change{{Addr: addrs.New("main", addrs.Table, "app.public.a|b"), Action: plans.Create,
		Reason: "copy | rows", After: &plans.TableAttrs{Bytes: 8192}}},
		Diagnostics: diag.Diagnostics{{Severity: diag.Error, Summary: "Broken", Detail: "line one\nline two"}}}
	out.Reset()
	if err := NewPlanView(&out, false, true, false).Plan(create); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**Plan:** 1 to add, 0 to change, 0 to destroy.", "| `+` create | `replication.main.table[\"app.public.a\\|b\"]` | copy \\| rows |",
		"<details>", "+ bytes", "- ❌ **Broken**: line one line two"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("markdown view lacks %q:\n%s", want, out.String())
		}
	}
}

// mixedDiagnostics interleaves warnings and errors, as the planner finds
// them.
func mixedDiagnostics() diag.Diagnostics {
	var ds diag.Diagnostics
	ds.AddWarning("plan.sync-method", "replication.main", "Sync method: xmin", "wal_level is replica")
	ds.AddError("plan.schema-drift", "replication.main.schema[\"app\"]", "Schema drift", "first error")
	ds.AddWarning("plan.sequences-synced", "", "Sequences are synced, not replicated", "line one\nline two")
	ds.AddError("plan.truncate-cascade", "", "TRUNCATE would cascade outside the scope", "second error")
	return ds
}

// The text view shows every diagnostic, errors first, each error with its
// own "Error:" label, never a warning in an error's place.
func TestPlanTextErrorsBeforeWarnings(t *testing.T) {
	var out bytes.Buffer
	if err := (PlanText{W: &out}).Plan(&plans.Plan{Diagnostics: mixedDiagnostics()}); err != nil {
		t.Fatal(err)
	}
	want := `No changes. The target matches the configuration and the source.

Error: Schema drift
  on replication.main.schema["app"]
  first error
Error: TRUNCATE would cascade outside the scope
  second error
Warning: Sync method: xmin
  on replication.main
  wal_level is replica
Warning: Sequences are synced, not replicated
  line one
  line two

Plan: 0 to add, 0 to change, 0 to destroy.
`
	if out.String() != want {
		t.Errorf("text view:\n%s\nwant:\n%s", out.String(), want)
	}
}

// With warnings only, the text and markdown views keep their bytes.
func TestPlanViewsWarningsOnlyBytes(t *testing.T) {
	p := &plans.Plan{Diagnostics: mixedDiagnostics().Warnings()}
	var out bytes.Buffer
	if err := (PlanText{W: &out}).Plan(p); err != nil {
		t.Fatal(err)
	}
	wantText := `No changes. The target matches the configuration and the source.

Warning: Sync method: xmin
  on replication.main
  wal_level is replica
Warning: Sequences are synced, not replicated
  line one
  line two

Plan: 0 to add, 0 to change, 0 to destroy.
`
	if out.String() != wantText {
		t.Errorf("text view:\n%s\nwant:\n%s", out.String(), wantText)
	}
	out.Reset()
	if err := (PlanMarkdown{W: &out}).Plan(p); err != nil {
		t.Fatal(err)
	}
	wantMD := "### database-replicator plan\n\n**No changes.** The target matches the configuration and the source.\n\n#### Warnings\n\n" +
		"- ⚠️ **Sync method: xmin** (`replication.main`): wal_level is replica\n" +
		"- ⚠️ **Sequences are synced, not replicated**: line one line two\n"
	if out.String() != wantMD {
		t.Errorf("markdown view:\n%s\nwant:\n%s", out.String(), wantMD)
	}
}

// The markdown view lists errors under their own heading, before the
// warnings, and every one of them.
func TestPlanMarkdownErrorsApart(t *testing.T) {
	var out bytes.Buffer
	if err := (PlanMarkdown{W: &out}).Plan(&plans.Plan{Diagnostics: mixedDiagnostics()}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	errs, warns := strings.Index(got, "#### Errors\n"), strings.Index(got, "#### Warnings\n")
	if errs < 0 || warns < errs {
		t.Fatalf("want an Errors heading before the Warnings heading:\n%s", got)
	}
	for _, want := range []string{"- ❌ **Schema drift**", "- ❌ **TRUNCATE would cascade outside the scope**: second error"} {
		if i := strings.Index(got, want); i < errs || i > warns {
			t.Errorf("%q not under Errors:\n%s", want, got)
		}
	}
	for _, want := range []string{"- ⚠️ **Sync method: xmin**", "- ⚠️ **Sequences are synced, not replicated**"} {
		if i := strings.Index(got, want); i < warns {
			t.Errorf("%q not under Warnings:\n%s", want, got)
		}
	}
}
