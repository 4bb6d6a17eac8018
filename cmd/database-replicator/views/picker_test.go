package views

import (
	"bytes"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/picker"
	"github.com/database-replicator/database-replicator/planner"
)

func TestPickerSummary(t *testing.T) {
	ref := func(db, table string) lang.TableRef {
		return lang.TableRef{Database: db, Schema: "public", Table: table}
	}
	var b bytes.Buffer
	err := PickerSummary(&b, picker.Summary{
		Databases: []picker.DatabaseSummary{
			{Name: "alpha", Bytes: 49152,
				Copied:     []picker.Table{{Ref: ref("alpha", "a")}, {Ref: ref("alpha", "b")}},
				Filtered:   []picker.FilteredTable{{Table: picker.Table{Ref: ref("alpha", "items")}, Filter: "where id <= 100"}},
				SchemaOnly: []lang.TableRef{ref("alpha", "logs")},
				Excluded:   []lang.TableRef{ref("alpha", "events")}},
			{Name: "empty"},
		},
		Bytes:     49152,
		Time:      time.Second,
		Method:    planner.MethodDecision{Method: lang.SyncLogical, Why: "Source has wal_level=logical: using logical replication"},
		Attention: []string{"alpha has 2 large objects: copied by the snapshot only."},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `
Summary
  Databases: 2 (alpha, empty)

  alpha: 48 kB to copy
    copy          2 tables with every row
    some rows     public.items: where id <= 100
    schema only   public.logs
    left out      public.events

  empty: 0 bytes to copy
    no tables (the schema and sequences are copied)

  Estimated size 48 kB, time ~1s (at 50 MB/s)
  Sync method: logical — Source has wal_level=logical: using logical replication

  Needs attention:
    ! alpha has 2 large objects: copied by the snapshot only.
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
