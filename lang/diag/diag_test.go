package diag

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func rng(file string, line, col int) *Range {
	return &Range{Filename: file, Start: Pos{Line: line, Column: col}, End: Pos{Line: line, Column: col + 1}}
}

func TestHelpersAndPartition(t *testing.T) {
	var ds Diagnostics
	ds.AddWarning("plan.sync-method", "replication.main", "Sync method: xmin", "wal_level is %s", "replica")
	ds.AddError("plan.table-not-found", "table.a.public.t", "Missing table", "%s does not exist", "a.public.t")
	ds.AddWarning("plan.w", "", "W2", "detail %d", 2)
	ds.AddError("plan.e", "replication.main", "E2", "detail %d", 2)

	if !ds.HasErrors() {
		t.Fatal("HasErrors = false")
	}
	if got := summaries(ds.Errors()); !reflect.DeepEqual(got, []string{"Missing table", "E2"}) {
		t.Errorf("Errors = %v", got)
	}
	if got := summaries(ds.Warnings()); !reflect.DeepEqual(got, []string{"Sync method: xmin", "W2"}) {
		t.Errorf("Warnings = %v", got)
	}
	if got := summaries(ds.ErrorsFirst()); !reflect.DeepEqual(got, []string{"Missing table", "E2", "Sync method: xmin", "W2"}) {
		t.Errorf("ErrorsFirst = %v", got)
	}
	if ds[0].Detail != "wal_level is replica" || ds[0].Address != "replication.main" || ds[0].Code != "plan.sync-method" || ds[0].Severity != Warning {
		t.Errorf("AddWarning = %+v", ds[0])
	}
	if ds[3].Code != "plan.e" || ds[3].Severity != Error || ds[3].Detail != "detail 2" {
		t.Errorf("AddError = %+v", ds[3])
	}
	var none Diagnostics
	if none.HasErrors() || none.Err() != nil || none.Errors() != nil || none.ErrorsFirst() != nil {
		t.Error("empty list reports errors")
	}
	warnOnly := ds.Warnings()
	if warnOnly.HasErrors() || warnOnly.Err() != nil {
		t.Error("warnings alone must not be an error")
	}
}

// TestErrCarriesEveryErrorAndNoWarning is the bug of issue 11: callers kept
// only the first diagnostic, which could be a warning.
func TestErrCarriesEveryErrorAndNoWarning(t *testing.T) {
	var ds Diagnostics
	ds.AddWarning("w", "replication.main", "Sync method: xmin", "just so you know")
	ds.AddError("e1", "", "First problem", "fix one")
	ds.Append(Diagnostic{Severity: Error, Code: "e2", Summary: "Second problem", Detail: "fix two", Range: rng("main.hcl", 3, 5)})

	err := fmt.Errorf("plan: %w", ds.Err())
	msg := err.Error()
	for _, want := range []string{"2 errors:", "First problem: fix one", "main.hcl:3:5: Second problem: fix two"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "Sync method") || strings.Contains(msg, "just so you know") {
		t.Errorf("error %q shows a warning", msg)
	}
	var list *ErrorList
	if !errors.As(err, &list) || len(list.Diagnostics) != 2 || list.Diagnostics[1].Code != "e2" {
		t.Fatalf("errors.As: %+v", list)
	}

	one := Diagnostics{{Severity: Error, Summary: "Only", Detail: "this", Address: "replication.x"}}
	if got := one.Err().Error(); got != "replication.x: Only: this" {
		t.Errorf("one error = %q", got)
	}
}

func TestSortByRange(t *testing.T) {
	ds := Diagnostics{
		{Summary: "b:2:1", Range: rng("b.hcl", 2, 1)},
		{Summary: "none1"},
		{Summary: "a:3:7", Range: rng("a.hcl", 3, 7)},
		{Summary: "a:3:2", Range: rng("a.hcl", 3, 2)},
		{Summary: "none2"},
		{Summary: "a:1:9", Range: rng("a.hcl", 1, 9)},
	}
	ds.Sort()
	want := []string{"none1", "none2", "a:1:9", "a:3:2", "a:3:7", "b:2:1"}
	if got := summaries(ds); !reflect.DeepEqual(got, want) {
		t.Errorf("Sort = %v, want %v", got, want)
	}
}

func TestJSONStable(t *testing.T) {
	d := Diagnostic{
		Severity: Error, Code: "config.mutually-exclusive", Summary: "S", Detail: "D", Address: "replication.main",
		Range: &Range{Filename: "main.hcl", Start: Pos{Line: 7, Column: 3, Byte: 90}, End: Pos{Line: 7, Column: 20, Byte: 107}},
		Fix:   "Keep one.",
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"severity":"error","code":"config.mutually-exclusive","summary":"S","detail":"D","address":"replication.main",` +
		`"range":{"filename":"main.hcl","start":{"line":7,"column":3,"byte":90},"end":{"line":7,"column":20,"byte":107}},"fix":"Keep one."}`
	if string(b) != want {
		t.Errorf("JSON\n got %s\nwant %s", b, want)
	}
	// The shape of the planner's former Diagnostic is unchanged for
	// diagnostics without code, range and fix (plan JSON format_version 1).
	b, _ = json.Marshal(Diagnostic{Severity: Warning, Summary: "S", Address: "replication.main"})
	if string(b) != `{"severity":"warning","summary":"S","address":"replication.main"}` {
		t.Errorf("minimal JSON = %s", b)
	}
	var back Diagnostic
	if err := json.Unmarshal([]byte(want), &back); err != nil || !reflect.DeepEqual(back, d) {
		t.Errorf("round trip = %+v, %v", back, err)
	}
}

func TestFromHCL(t *testing.T) {
	subj := &hcl.Range{Filename: "main.hcl", Start: hcl.Pos{Line: 2, Column: 3, Byte: 10}, End: hcl.Pos{Line: 2, Column: 8, Byte: 15}}
	hds := hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Coded", Detail: "d1", Subject: subj, Extra: WithCode("config.x")},
		{Severity: hcl.DiagWarning, Summary: "Native", Detail: "d2"},
	}
	ds := FromHCL(hds, func(d *hcl.Diagnostic) Code { return Code("fallback." + strings.ToLower(d.Summary)) })
	if len(ds) != 2 {
		t.Fatalf("len = %d", len(ds))
	}
	want0 := Diagnostic{Severity: Error, Code: "config.x", Summary: "Coded", Detail: "d1",
		Range: &Range{Filename: "main.hcl", Start: Pos{Line: 2, Column: 3, Byte: 10}, End: Pos{Line: 2, Column: 8, Byte: 15}}}
	if !reflect.DeepEqual(ds[0], want0) {
		t.Errorf("coded = %+v", ds[0])
	}
	if ds[1].Severity != Warning || ds[1].Code != "fallback.native" || ds[1].Range != nil {
		t.Errorf("native = %+v", ds[1])
	}
	if FromHCL(nil, nil) != nil {
		t.Error("FromHCL(nil) != nil")
	}
	if got := FromHCL(hds[1:], nil)[0].Code; got != "" {
		t.Errorf("no fallback: code %q", got)
	}
}

func summaries(ds Diagnostics) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Summary)
	}
	return out
}
