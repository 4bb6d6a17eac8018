package planner

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

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
	if err := (TextView{}).Render(&out, p); err != nil {
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
