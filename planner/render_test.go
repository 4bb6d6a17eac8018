package planner

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/planner/addrs"
)

// Values read back from state (floats, json.Number) equal the planned
// int64s, and text is not HTML-escaped.
func TestTextViewValues(t *testing.T) {
	p := &Plan{Changes: []*Change{{
		Addr:   addrs.New("main", addrs.Table, "app.public.events"),
		Action: Replace,
		Reason: "filter changed",
		Before: map[string]any{"bytes": float64(49152), "rows": json.Number("10"), "filter": "id <= 100"},
		After:  map[string]any{"bytes": int64(49152), "rows": int64(10), "filter": "id <= 200 AND kind <> 'x'"},
	}}}
	var out bytes.Buffer
	if err := (TextView{}).Render(&out, p); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, unwanted := range []string{"bytes", "rows", `\u003c`} {
		if strings.Contains(text, unwanted) {
			t.Errorf("plan text shows %q:\n%s", unwanted, text)
		}
	}
	if !strings.Contains(text, `~ filter = "id <= 100" -> "id <= 200 AND kind <> 'x'"`) {
		t.Errorf("plan text lacks the filter change:\n%s", text)
	}
}
