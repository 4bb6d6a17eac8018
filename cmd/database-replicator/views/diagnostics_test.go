package views

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang/diag"
)

const snippetSource = "source \"prod\" {\n  url = \n}\nreplication \"main\" {\n\tsource = source.pr\u00f6d\n  databases = [\"a\", \"a\"]\n}\n"

func at(file string, line, col, endLine, endCol int) *diag.Range {
	return &diag.Range{Filename: file, Start: diag.Pos{Line: line, Column: col}, End: diag.Pos{Line: endLine, Column: endCol}}
}

// sampleDiagnostics are errors with and without a range, a range into a
// file that cannot be read, and a multi-line detail.
func sampleDiagnostics() diag.Diagnostics {
	return diag.Diagnostics{
		{Severity: diag.Error, Code: "config.syntax", Summary: "Invalid expression", Detail: "Expected the start of an expression, but found an invalid expression token.", Range: at("main.hcl", 2, 9, 3, 1)},
		{Severity: diag.Error, Code: "config.undeclared-endpoint", Summary: "Reference to undeclared source", Detail: "No source \"pr\u00f6d\" is declared.\nDid you mean source = source.prod?", Range: at("main.hcl", 5, 11, 5, 22)},
		{Severity: diag.Error, Code: "config.undeclared-variable-value", Summary: "Value for undeclared variable \"x\"", Detail: "--var x=... sets a variable that the configuration does not declare."},
		{Severity: diag.Error, Code: "config.unreadable", Summary: "Missing file", Detail: "beyond", Range: at("other.hcl", 1, 1, 1, 1)},
	}
}

func noFile(string) ([]byte, error) { return nil, errors.New("no such file") }

// TestHumanDiagnosticsBytes pins the bytes that lang.WriteDiagnostics
// printed before the renderer moved here (the testscripts and users see
// them), without and with color.
func TestHumanDiagnosticsBytes(t *testing.T) {
	want := map[bool]string{
		false: "Error: Invalid expression\n" +
			"  --> main.hcl:2:9\n" +
			"    |\n" +
			"  2 |   url = \n" +
			"    |         ^\n" +
			"  Expected the start of an expression, but found an invalid expression token.\n" +
			"\n" +
			"Error: Reference to undeclared source\n" +
			"  --> main.hcl:5:11\n" +
			"    |\n" +
			"  5 |  source = source.pröd\n" +
			"    |           ^^^^^^^^^^^\n" +
			"  No source \"pröd\" is declared.\n" +
			"  Did you mean source = source.prod?\n" +
			"\n" +
			"Error: Value for undeclared variable \"x\"\n" +
			"  --var x=... sets a variable that the configuration does not declare.\n" +
			"\n" +
			"Error: Missing file\n" +
			"  --> other.hcl:1:1\n" +
			"  beyond\n",
		true: "\x1b[1;31mError\x1b[0m: \x1b[1mInvalid expression\x1b[0m\n" +
			"  --> main.hcl:2:9\n" +
			"    |\n" +
			"  2 |   url = \n" +
			"    |         ^\n" +
			"  Expected the start of an expression, but found an invalid expression token.\n" +
			"\n" +
			"\x1b[1;31mError\x1b[0m: \x1b[1mReference to undeclared source\x1b[0m\n" +
			"  --> main.hcl:5:11\n" +
			"    |\n" +
			"  5 |  source = source.pröd\n" +
			"    |           ^^^^^^^^^^^\n" +
			"  No source \"pröd\" is declared.\n" +
			"  Did you mean source = source.prod?\n" +
			"\n" +
			"\x1b[1;31mError\x1b[0m: \x1b[1mValue for undeclared variable \"x\"\x1b[0m\n" +
			"  --var x=... sets a variable that the configuration does not declare.\n" +
			"\n" +
			"\x1b[1;31mError\x1b[0m: \x1b[1mMissing file\x1b[0m\n" +
			"  --> other.hcl:1:1\n" +
			"  beyond\n",
	}
	for _, color := range []bool{false, true} {
		var b bytes.Buffer
		v := HumanDiagnostics{W: &b, Color: color, Sources: map[string][]byte{"main.hcl": []byte(snippetSource)}, ReadFile: noFile}
		if err := v.Render(sampleDiagnostics()); err != nil {
			t.Fatal(err)
		}
		if b.String() != want[color] {
			t.Errorf("color=%v:\n got %q\nwant %q", color, b.String(), want[color])
		}
	}
}

// TestHumanDiagnosticsErrorsFirst checks that every diagnostic is shown,
// errors before warnings, with address and fix.
func TestHumanDiagnosticsErrorsFirst(t *testing.T) {
	ds := diag.Diagnostics{
		{Severity: diag.Warning, Summary: "Sync method: xmin", Detail: "wal_level is replica", Address: "replication.main"},
		{Severity: diag.Error, Summary: "First error", Detail: "one"},
		{Severity: diag.Warning, Summary: "Second warning"},
		{Severity: diag.Error, Summary: "Second error", Detail: "two", Fix: "Do this.\nThen that."},
	}
	var b bytes.Buffer
	if err := (HumanDiagnostics{W: &b, ReadFile: noFile}).Render(ds); err != nil {
		t.Fatal(err)
	}
	want := "Error: First error\n  one\n\n" +
		"Error: Second error\n  two\n  Do this.\n  Then that.\n\n" +
		"Warning: Sync method: xmin\n  on replication.main\n  wal_level is replica\n\n" +
		"Warning: Second warning\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := (HumanDiagnostics{W: &b}).Render(nil); err != nil || b.Len() != 0 {
		t.Errorf("empty list wrote %q, %v", b.String(), err)
	}
}

func TestJSONDiagnostics(t *testing.T) {
	ds := diag.Diagnostics{
		{Severity: diag.Warning, Code: "config.duplicate-entry", Summary: "Duplicate database", Range: at("main.hcl", 3, 4, 3, 9)},
		{Severity: diag.Error, Code: "config.mutually-exclusive", Summary: "x and y", Detail: "Keep one.", Range: at("main.hcl", 7, 3, 7, 20)},
	}
	var b bytes.Buffer
	if err := (JSONDiagnostics{W: &b}).Render(ds); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ErrorCount   int              `json:"error_count"`
		WarningCount int              `json:"warning_count"`
		Diagnostics  diag.Diagnostics `json:"diagnostics"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v in %s", err, b.String())
	}
	if doc.ErrorCount != 1 || doc.WarningCount != 1 || len(doc.Diagnostics) != 2 ||
		doc.Diagnostics[0].Code != "config.mutually-exclusive" || doc.Diagnostics[1].Range.Start.Column != 4 {
		t.Errorf("doc = %+v", doc)
	}
	if !strings.Contains(b.String(), `"code": "config.mutually-exclusive",`) {
		t.Errorf("JSON lacks code: %s", b.String())
	}
	b.Reset()
	if err := (JSONDiagnostics{W: &b}).Render(nil); err != nil || !strings.Contains(b.String(), `"diagnostics": []`) {
		t.Errorf("empty: %s, %v", b.String(), err)
	}
}
