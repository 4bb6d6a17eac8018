package views

import (
	"bytes"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/providers/postgres/status"
	"github.com/database-replicator/database-replicator/providers/postgres/syncloop"
)

func TestSyncText(t *testing.T) {
	var b bytes.Buffer
	v := NewSyncView(&b)
	v.Method(syncloop.Choice{Replication: "main", MethodDecision: planner.MethodDecision{Method: lang.SyncXmin, Why: "Source has wal_level=replica: using xmin-based sync (no source changes required)"}})
	v.XminCycle(syncloop.CycleReport{Replication: "main", Database: "app", Upserted: 3, Deleted: 1, Tables: 2, Took: 1234567 * time.Microsecond, Reconciled: true,
		Notes: []string{"public.logs copied again", "public.t read in full"}})
	v.XminCycle(syncloop.CycleReport{Replication: "main", Database: "crm", Tables: 1, Took: 5 * time.Millisecond})
	v.Lag(status.Row{Replication: "main", Database: "app", State: "streaming", LagKnown: true, LagBytes: 1536, LagSeconds: 0.42})
	v.Lag(status.Row{Replication: "main", Database: "crm", State: "disabled", Problem: "the subscription is disabled: nothing is applied"})
	v.Lag(status.Row{Replication: "s", Database: "app", Method: "stream", State: "streaming", LagKnown: true, LagBytes: 2048, LagSeconds: 1.25, AppliedLSN: "0/1A2B3C8", RowsPerSecond: 1234.4})
	v.Lag(status.Row{Replication: "s", Database: "crm", Method: "stream", State: "not connected", Problem: "the stream applier is reconnecting"})
	v.Stopped(true)
	v.Stopped(false)
	want := `replication.main: xmin sync — Source has wal_level=replica: using xmin-based sync (no source changes required)
xmin cycle replication.main "app": 3 upserted, 1 deleted, 2 table(s) in 1.235s, reconciled (public.logs copied again; public.t read in full)
xmin cycle replication.main "crm": 0 upserted, 0 deleted, 1 table(s) in 5ms
logical replication.main "app": streaming, lag 1536 bytes / 0.4s
PROBLEM: logical replication.main "crm": disabled: the subscription is disabled: nothing is applied
stream replication.s "app": streaming, lag 2048 bytes / 1.2s, applied 0/1A2B3C8, 1234 rows/s
PROBLEM: stream replication.s "crm": not connected: the stream applier is reconnecting
Sync stopped; cursors are saved: the next sync resumes where this one stopped.
Sync stopped.
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
