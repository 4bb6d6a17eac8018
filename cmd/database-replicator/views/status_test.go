package views

import (
	"bytes"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/status"
)

func TestStatusText(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cycle := now.Add(-12 * time.Second)
	rows := []status.Row{
		{Replication: "main", Database: "app", Method: "logical", State: "streaming", Tables: map[string]int{"ready": 3, "copying": 1},
			Slot: "sub_app", SlotActive: true, LagBytes: 2048, LagSeconds: 0.25, RetainedWAL: 3 << 20},
		{Replication: "main", Database: "crm", Method: "xmin", State: "last xmin cycle 12s ago", LagSeconds: 12,
			Xmin: []status.XminTable{{Table: "public.users", LastCycleAt: &cycle, LastCycleRows: 7, LastCycleSeconds: 0.5, RowsApplied: 70}}},
	}
	var b bytes.Buffer
	if err := (StatusText{W: &b, Now: func() time.Time { return now }}).Status(rows); err != nil {
		t.Fatal(err)
	}
	want := `REPLICATION  DATABASE  METHOD   STATE                    TABLES              SLOT              LAG               RETAINED WAL
main         app       logical  streaming                3 ready 1 copying   sub_app (active)  2048 bytes, 0.2s  3072 kB
main         crm       xmin     last xmin cycle 12s ago                      -                 0 bytes, 12.0s    0 bytes

XMIN TABLE        LAST CYCLE  ROWS  TIME   LAST RECONCILE  ROWS APPLIED
crm.public.users  12s ago     7     0.50s  never           70
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	if err := NewStatusView(&b, false).Status(nil); err != nil {
		t.Fatal(err)
	}
	if b.String() != "Nothing replicated yet: run `database-replicator apply`.\n" {
		t.Fatalf("empty: %q", b.String())
	}
}

func TestStatusJSON(t *testing.T) {
	var b bytes.Buffer
	rows := []status.Row{{Replication: "main", Database: "app", Method: "logical", State: "disabled", Slot: "sub_app", LagBytes: 5}}
	if err := NewStatusView(&b, true).Status(rows); err != nil {
		t.Fatal(err)
	}
	want := `{
  "databases": [
    {
      "replication": "main",
      "database": "app",
      "method": "logical",
      "state": "disabled",
      "enabled": false,
      "slot": "sub_app",
      "slot_active": false,
      "lag_bytes": 5,
      "lag_seconds": 0,
      "retained_wal_bytes": 0
    }
  ]
}
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
