package views

import (
	"bytes"
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/compare"
	"github.com/database-replicator/database-replicator/providers/postgres/schemacompare"
	"github.com/database-replicator/database-replicator/providers/postgres/verify"
)

var testVerdicts = []verify.Verdict{
	{Table: "app.public.users", Result: verify.Equal, Seconds: 0.126, Detail: compare.VerifyResult{SourceRows: 10, TargetRows: 10, Equal: true}},
	{Table: "app.public.orders", Result: verify.Different, Seconds: 1.5, Detail: compare.VerifyResult{SourceRows: 5, TargetRows: 4,
		Missing: []string{"(7)", "(8)"}, Different: []string{"(9)"}, Note: "compared without json columns"}},
}

// TestVerifyText: with --data-only the output is verify's before it
// compared schemas, byte for byte.
func TestVerifyText(t *testing.T) {
	var b bytes.Buffer
	if err := NewVerifyView(&b, false).Report(&verify.Report{DataCompared: true, Tables: testVerdicts, TablesDiffer: 1}); err != nil {
		t.Fatal(err)
	}
	want := `TABLE              SOURCE ROWS  TARGET ROWS  RESULT     TIME
app.public.users   10           10           equal      0.13s
app.public.orders  5            4            DIFFERENT  1.50s
app.public.orders: missing on the target: (7) (8)
app.public.orders: different: (9)
app.public.orders: compared without json columns
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestVerifyJSON(t *testing.T) {
	var b bytes.Buffer
	if err := NewVerifyView(&b, true).Report(&verify.Report{DataCompared: true, Tables: testVerdicts[:1]}); err != nil {
		t.Fatal(err)
	}
	want := `{
  "differences": 0,
  "tables": [
    {
      "table": "app.public.users",
      "result": "equal",
      "seconds": 0.126,
      "detail": {
        "source_rows": 10,
        "target_rows": 10,
        "equal": true
      }
    }
  ]
}
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

var testSchema = &verify.Report{DataCompared: true, SchemaCompared: true, Tables: testVerdicts[:1], ObjectsDiffer: 3,
	Schema: []verify.SchemaVerdict{{Database: "app", Result: verify.Different, Objects: 42, Differences: []schemacompare.Difference{
		{Kind: "column", Object: "public.users.email", Problem: schemacompare.Different, Attributes: []schemacompare.AttributeDifference{
			{Name: "not null", Source: "true", Target: "false"}, {Name: "comment", Source: "", Target: "x"}}},
		{Kind: "function", Object: "public.f(integer)", Problem: schemacompare.Different, Attributes: []schemacompare.AttributeDifference{
			{Name: "definition", Source: "CREATE FUNCTION\n...", Target: "CREATE FUNCTION\n..."}}},
		{Kind: "index", Object: "public.users_email_idx", Problem: schemacompare.Missing},
	}}, {Database: "other", Result: verify.Equal, Objects: 7}}}

func TestVerifyTextSchema(t *testing.T) {
	var b bytes.Buffer
	if err := NewVerifyView(&b, false).Report(testSchema); err != nil {
		t.Fatal(err)
	}
	want := `TABLE             SOURCE ROWS  TARGET ROWS  RESULT  TIME
app.public.users  10           10           equal   0.13s
SCHEMA OF  OBJECTS  DIFFERING  RESULT
app        42       3          DIFFERENT
other      7        0          equal
app: column public.users.email: not null: source "true", target "false"; comment: source (none), target "x"
app: function public.f(integer): definition differs (see --json)
app: index public.users_email_idx: missing on the target
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestVerifyJSONSchemaOnly(t *testing.T) {
	var b bytes.Buffer
	rep := &verify.Report{SchemaCompared: true, ObjectsDiffer: 1, Schema: []verify.SchemaVerdict{{Database: "app", Result: verify.Different, Objects: 2,
		Differences: []schemacompare.Difference{{Kind: "index", Object: "public.i", Problem: schemacompare.Extra}}}}}
	if err := NewVerifyView(&b, true).Report(rep); err != nil {
		t.Fatal(err)
	}
	want := `{
  "differences": 1,
  "schema": [
    {
      "database": "app",
      "result": "DIFFERENT",
      "objects": 2,
      "differences": [
        {
          "kind": "index",
          "object": "public.i",
          "problem": "extra on the target"
        }
      ]
    }
  ]
}
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
