package views

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/status"
)

func TestStatusText(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cycle := now.Add(-12 * time.Second)
	rows := []status.Row{
		{Replication: "main", Database: "app", Method: "logical", State: "streaming", Tables: map[string]int{"ready": 3, "copying": 1},
			Slot: "sub_app", SlotActive: true, LagKnown: true, LagBytes: 2048, LagSeconds: 0.25, RetainedWAL: 3 << 20,
			SourceLSN: "0/3000900", SentLSN: "0/3000900", ReceivedLSN: "0/3000900", AppliedLSN: "0/3000100",
			ConfirmedFlushLSN: "0/3000100", RestartLSN: "0/3000028"},
		// Set up, but its worker is not running: the positions it has.
		{Replication: "main", Database: "hr", Method: "logical", State: "not connected", Slot: "sub_hr", LagKnown: true,
			SourceLSN: "0/3000900", ConfirmedFlushLSN: "0/2FFFF00", RestartLSN: "0/2FFFE00"},
		// Not set up: no positions, no line in the LSN table.
		{Replication: "main", Database: "new", Method: "logical", State: "not set up", SourceLSN: "0/3000900"},
		{Replication: "main", Database: "crm", Method: "xmin", State: "last xmin cycle 12s ago", LagSeconds: 12,
			Xmin: []status.XminTable{{Table: "public.users", LastCycleAt: &cycle, LastCycleRows: 7, LastCycleSeconds: 0.5, RowsApplied: 70}}},
	}
	var b bytes.Buffer
	if err := (StatusText{W: &b, Now: func() time.Time { return now }}).Status(rows); err != nil {
		t.Fatal(err)
	}
	want := `REPLICATION  DATABASE  METHOD   STATE                    TABLES              SLOT               LAG               RETAINED WAL
main         app       logical  streaming                3 ready 1 copying   sub_app (active)   2048 bytes, 0.2s  3072 kB
main         hr        logical  not connected                                sub_hr (inactive)  0 bytes, 0.0s     0 bytes
main         new       logical  not set up                                   -                  -                 0 bytes
main         crm       xmin     last xmin cycle 12s ago                      -                  0 bytes, 12.0s    0 bytes

REPLICATION  DATABASE  SOURCE WAL  SENT       RECEIVED   APPLIED    CONFIRMED FLUSH  RESTART
main         app       0/3000900   0/3000900  0/3000900  0/3000100  0/3000100        0/3000028
main         hr        0/3000900   -          -          -          0/2FFFF00        0/2FFFE00

XMIN TABLE        LAST CYCLE  ROWS  TIME   LAST RECONCILE  ROWS APPLIED
crm.public.users  12s ago     7     0.50s  never           70
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}

	// Broken states: no fake lag, the slot's trouble in its column, and a
	// problem line each.
	b.Reset()
	broken := []status.Row{
		{Replication: "main", Database: "app", Method: "logical", State: status.StateSlotMissing, Slot: "sub_app", Problem: "the replication slot is missing"},
		{Replication: "main", Database: "crm", Method: "logical", State: status.StateSlotLost, Slot: "sub_crm", WALStatus: "lost", Problem: "the replication slot lost its WAL"},
		{Replication: "main", Database: "hr", Method: "logical", State: status.StateDisabled, Slot: "sub_hr", SlotActive: false, Problem: "the subscription is disabled"},
	}
	if err := (StatusText{W: &b, Now: func() time.Time { return now }}).Status(broken); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"sub_app (MISSING)", "sub_crm (WAL LOST)", "sub_hr (inactive)",
		"\nProblem: replication.main database \"app\": the replication slot is missing\n",
		"Problem: replication.main database \"crm\": the replication slot lost its WAL\n",
		"Problem: replication.main database \"hr\": the subscription is disabled\n",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("broken status lacks %q:\n%s", line, b.String())
		}
	}
	if strings.Contains(b.String(), "0.0s") || strings.Contains(b.String(), "0 bytes, ") {
		t.Errorf("broken status shows a lag:\n%s", b.String())
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
	rows := []status.Row{{Replication: "main", Database: "app", Method: "logical", State: "disabled", Slot: "sub_app",
		Problem: "the subscription is disabled"}}
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
      "lag_known": false,
      "lag_bytes": 0,
      "lag_seconds": 0,
      "retained_wal_bytes": 0,
      "problem": "the subscription is disabled"
    }
  ]
}
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestStatusJSONPositions pins the names of the stream positions in
// `status --json` (documented in docs/cli.md): each PostgreSQL column's
// name, and applied_lsn; an unknown position is left out.
func TestStatusJSONPositions(t *testing.T) {
	var b bytes.Buffer
	rows := []status.Row{{Replication: "main", Database: "app", Method: "logical", State: "streaming", Enabled: true,
		Slot: "sub_app", SlotActive: true, LagKnown: true,
		SourceLSN: "0/3000900", RestartLSN: "0/3000028", ConfirmedFlushLSN: "0/3000800",
		SentLSN: "0/3000900", WriteLSN: "0/3000880", FlushLSN: "0/3000800", ReplayLSN: "0/3000800",
		ReceivedLSN: "0/3000900", LatestEndLSN: "0/3000900", AppliedLSN: "0/3000800"},
		{Replication: "main", Database: "crm", Method: "logical", State: "disabled", Slot: "sub_crm", ConfirmedFlushLSN: "0/1"}}
	if err := NewStatusView(&b, true).Status(rows); err != nil {
		t.Fatal(err)
	}
	want := `{
  "databases": [
    {
      "replication": "main",
      "database": "app",
      "method": "logical",
      "state": "streaming",
      "enabled": true,
      "slot": "sub_app",
      "slot_active": true,
      "lag_known": true,
      "lag_bytes": 0,
      "lag_seconds": 0,
      "retained_wal_bytes": 0,
      "source_lsn": "0/3000900",
      "restart_lsn": "0/3000028",
      "confirmed_flush_lsn": "0/3000800",
      "sent_lsn": "0/3000900",
      "write_lsn": "0/3000880",
      "flush_lsn": "0/3000800",
      "replay_lsn": "0/3000800",
      "received_lsn": "0/3000900",
      "latest_end_lsn": "0/3000900",
      "applied_lsn": "0/3000800"
    },
    {
      "replication": "main",
      "database": "crm",
      "method": "logical",
      "state": "disabled",
      "enabled": false,
      "slot": "sub_crm",
      "slot_active": false,
      "lag_known": false,
      "lag_bytes": 0,
      "lag_seconds": 0,
      "retained_wal_bytes": 0,
      "confirmed_flush_lsn": "0/1"
    }
  ]
}
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
