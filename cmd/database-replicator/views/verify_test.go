package views

import (
	"bytes"
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/compare"
	"github.com/database-replicator/database-replicator/providers/postgres/verify"
)

var testVerdicts = []verify.Verdict{
	{Table: "app.public.users", Result: verify.Equal, Seconds: 0.126, Detail: compare.VerifyResult{SourceRows: 10, TargetRows: 10, Equal: true}},
	{Table: "app.public.orders", Result: verify.Different, Seconds: 1.5, Detail: compare.VerifyResult{SourceRows: 5, TargetRows: 4,
		Missing: []string{"(7)", "(8)"}, Different: []string{"(9)"}, Note: "compared without json columns"}},
}

func TestVerifyText(t *testing.T) {
	var b bytes.Buffer
	if err := NewVerifyView(&b, false).Verdicts(testVerdicts, 1); err != nil {
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
	if err := NewVerifyView(&b, true).Verdicts(testVerdicts[:1], 0); err != nil {
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
