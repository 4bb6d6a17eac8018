package views

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/database-replicator/database-replicator/state"
)

func TestStateEntryIsIndentedJSONWithANewline(t *testing.T) {
	var b bytes.Buffer
	r := &state.Resource{Address: `replication.main.slot["app"]`}
	if err := StateEntry(&b, r); err != nil {
		t.Fatal(err)
	}
	want, _ := json.MarshalIndent(r, "", "  ")
	if b.String() != string(want)+"\n" {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
