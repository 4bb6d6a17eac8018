package status

import (
	"context"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/streamapply"
)

// streamStatus fills the slot, lag and positions of one database of the
// stream engine: the slot on the source, the applied position and rows
// from the progress table on the target (no subscription exists).
func streamStatus(ctx context.Context, r *lang.Replication, db string, src *catalog.Server, target conninfo.Info, terr error, senders map[string]senderLSNs, row *Row) {
	row.Slot = planner.SlotName(r.Sync.Subscription, db)
	row.SourceLSN = src.CurrentWALLSN
	sl := fillSlot(row, src, senders)
	var commitTime *time.Time
	if terr == nil {
		ctx, cancel := context.WithTimeout(ctx, readTimeout)
		defer cancel()
		if conn, err := conninfo.Connect(ctx, target.WithDatabase(db)); err == nil {
			p, ok, err := streamapply.ReadProgress(ctx, conn, r.Name)
			conn.Close(context.Background())
			if err == nil && ok {
				row.AppliedLSN = p.AppliedLSN.String()
				row.RowsApplied = p.RowsApplied
				commitTime = p.SourceCommitTime
			}
		}
	}
	row.Enabled = true
	switch {
	case sl == nil:
		row.State = StateSlotMissing
		row.Problem = "the replication slot is missing on the source: nothing streams, and changes made since it was lost are not on the target; run plan and apply (the slot is replaced and every table copied again)"
	case sl.WALStatus == "lost":
		row.State = StateSlotLost
		row.Problem = "the replication slot lost its WAL (wal_status = lost, max_slot_wal_keep_size): changes were removed before the target got them; run plan and apply (the slot is replaced and every table copied again)"
	case !sl.Active:
		row.State = StateNotConnected
		row.Problem = "no stream applier is connected to the slot: run `database-replicator sync` (or sync --daemon)"
	default:
		row.State = StateStreaming
	}
	row.LagKnown = sl != nil && sl.WALStatus != "lost"
	if !row.LagKnown {
		row.LagBytes = 0
		return
	}
	// Seconds since the last applied transaction committed on the source,
	// counted only while bytes are pending.
	if row.LagBytes > 0 && commitTime != nil {
		row.LagSeconds = max(0, time.Since(*commitTime).Seconds())
	}
}
