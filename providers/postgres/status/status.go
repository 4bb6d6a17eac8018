// Package status reports the replication state of every database of every
// replication: the subscription, its tables' sync states, the slot, the lag
// in bytes and seconds and the WAL it retains (logical), or the cursors of
// the xmin engine (xmin). Unhealthy is the health rule behind
// `status --max-lag`. ReadLag is the light read the sync loop's lag tick
// uses: server-level rows only, one connection per server.
package status

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
	"github.com/database-replicator/database-replicator/providers/postgres/xminsync"
	"github.com/database-replicator/database-replicator/state"
)

// Row is the status of one database of one replication. Its JSON form is
// `status --json`'s.
type Row struct {
	Replication  string         `json:"replication"`
	Database     string         `json:"database"`
	Method       string         `json:"method"`
	Subscription string         `json:"subscription,omitempty"`
	State        string         `json:"state"`
	Enabled      bool           `json:"enabled"`
	Tables       map[string]int `json:"tables,omitempty"`
	// Remapped lists the configured remappings of the database, each
	// "schema.table -> schema.table" (a table block's target) or
	// "schema.* -> schema.*" (a schema block's), as the stream applies them.
	Remapped   []string `json:"remapped,omitempty"`
	Slot       string   `json:"slot,omitempty"`
	SlotActive bool     `json:"slot_active"`
	// WALStatus is the slot's wal_status ("lost": its WAL is gone).
	WALStatus string `json:"wal_status,omitempty"`
	// LagKnown is false when there is no lag to measure (no slot, a lost
	// slot, a disabled or missing subscription): LagBytes and LagSeconds
	// are then 0 and mean nothing.
	LagKnown    bool    `json:"lag_known"`
	LagBytes    int64   `json:"lag_bytes"`
	LagSeconds  float64 `json:"lag_seconds"`
	RetainedWAL int64   `json:"retained_wal_bytes"`
	// The positions of a logical replication's stream (the LSN fields),
	// in PostgreSQL's text form ("16/B374D848"); each is "" when unknown:
	// no slot, no walsender or apply worker running, a view the role may
	// not read.
	//
	// SourceLSN is the source's current WAL position
	// (pg_current_wal_lsn, or pg_last_wal_replay_lsn on a standby).
	SourceLSN string `json:"source_lsn,omitempty"`
	// RestartLSN is the slot's restart_lsn: the oldest WAL it retains.
	RestartLSN string `json:"restart_lsn,omitempty"`
	// ConfirmedFlushLSN is the slot's confirmed_flush_lsn: what the
	// subscriber confirmed it received and flushed.
	ConfirmedFlushLSN string `json:"confirmed_flush_lsn,omitempty"`
	// SentLSN, WriteLSN, FlushLSN and ReplayLSN are the source's
	// pg_stat_replication row of the walsender streaming from the slot:
	// what it sent, and what the subscriber last reported it wrote,
	// flushed and applied.
	SentLSN   string `json:"sent_lsn,omitempty"`
	WriteLSN  string `json:"write_lsn,omitempty"`
	FlushLSN  string `json:"flush_lsn,omitempty"`
	ReplayLSN string `json:"replay_lsn,omitempty"`
	// ReceivedLSN is the target's pg_stat_subscription.received_lsn: the
	// last position the apply worker received.
	ReceivedLSN string `json:"received_lsn,omitempty"`
	// LatestEndLSN is pg_stat_subscription.latest_end_lsn: the WAL end the
	// source last reported to the worker (with its last keepalive).
	LatestEndLSN string `json:"latest_end_lsn,omitempty"`
	// AppliedLSN is the source position of the last transaction the
	// target applied: the remote_lsn of the subscription's replication
	// origin (pg_replication_origin_status), or, when the target role
	// may not read that view, the apply position the worker last
	// reported to the source (ReplayLSN).
	AppliedLSN string `json:"applied_lsn,omitempty"`
	// RowsApplied and RowsPerSecond are the stream engine's: rows applied
	// (since the progress table was created, or by the running sync), and
	// the rate since the previous report of a running sync.
	RowsApplied   int64   `json:"rows_applied,omitempty"`
	RowsPerSecond float64 `json:"rows_per_second,omitempty"`
	XminCursors   int     `json:"xmin_cursors,omitempty"`
	// Xmin lists the xmin engine's cursor of each table.
	Xmin    []XminTable `json:"xmin,omitempty"`
	Problem string      `json:"problem,omitempty"`
}

// XminTable is one table's xmin cursor and last cycle.
type XminTable struct {
	Table            string     `json:"table"`
	Watermark        uint64     `json:"watermark"`
	LastCycleAt      *time.Time `json:"last_cycle_at,omitempty"`
	LastCycleSeconds float64    `json:"last_cycle_seconds"`
	LastCycleRows    int64      `json:"last_cycle_rows"`
	LastReconcileAt  *time.Time `json:"last_reconcile_at,omitempty"`
	RowsApplied      int64      `json:"rows_applied"`
	// Interrupted is true when a cycle stopped part way (it resumes).
	Interrupted bool `json:"interrupted,omitempty"`
}

// Logical states of a database (Row.State).
const (
	StateStreaming      = "streaming"
	StateNotConnected   = "not connected"
	StateDisabled       = "disabled"
	StateNoSubscription = "no subscription"
	StateSlotMissing    = "slot missing"
	StateSlotLost       = "slot lost"
)

// Unhealthy names the first database that is not streaming or lags more
// than maxLag (maxLag 0: lag is not checked), or returns "". An xmin
// database is unhealthy until its first cycle, and when its last cycle
// is older than maxLag; a logical one when its subscription is not
// streaming, or when it lags in seconds while bytes are still pending.
func Unhealthy(rows []Row, maxLag time.Duration) string {
	for _, r := range rows {
		if r.Method == string(lang.SyncXmin) {
			switch {
			case r.Problem != "":
				return fmt.Sprintf("replication.%s database %q: %s", r.Replication, r.Database, r.Problem)
			case len(r.Xmin) == 0 || r.Xmin[0].LastCycleAt == nil:
				return fmt.Sprintf("replication.%s database %q has had no xmin sync cycle yet", r.Replication, r.Database)
			case maxLag > 0 && r.LagSeconds > maxLag.Seconds():
				return fmt.Sprintf("replication.%s database %q: last xmin cycle %.0fs ago (max %s)", r.Replication, r.Database, r.LagSeconds, maxLag)
			}
			continue
		}
		if r.Method != string(lang.SyncLogical) {
			continue
		}
		if r.State != StateStreaming {
			msg := fmt.Sprintf("replication.%s database %q is not streaming (%s)", r.Replication, r.Database, r.State)
			if r.Problem != "" {
				msg += ": " + r.Problem
			}
			return msg
		}
		if maxLag > 0 && r.LagSeconds > maxLag.Seconds() && r.LagBytes > 0 {
			return fmt.Sprintf("replication.%s database %q lags %.1fs (max %s)", r.Replication, r.Database, r.LagSeconds, maxLag)
		}
	}
	return ""
}

// RetainedOver names the first database whose replication slot retains
// more WAL on its source than max bytes (`status --max-retained`), or
// returns "". A slot retains WAL while nothing consumes it (init waiting
// for sync, a stopped target): the source's disk fills.
func RetainedOver(rows []Row, max int64) string {
	if max <= 0 {
		return ""
	}
	for _, r := range rows {
		if r.RetainedWAL > max {
			return fmt.Sprintf("replication.%s database %q: slot %s retains %s of WAL on the source (max %s); start sync, or remove the slot with destroy",
				r.Replication, r.Database, r.Slot, lang.FormatBytes(r.RetainedWAL), lang.FormatBytes(max))
		}
	}
	return ""
}

// Input is what Collect reads from.
type Input struct {
	// Config is the loaded configuration.
	Config *lang.Config
	// Endpoints are Config's endpoints, resolved once.
	Endpoints *endpoints.Set
	// State lists the databases each replication has created.
	State *state.State
	// Log receives debug lines; nil discards them.
	Log hclog.Logger
}

// Collect introspects both sides of every replication and reports each
// database the state records. A database whose details cannot be read
// gets a Problem instead of failing the whole report; the error is for
// an endpoint that cannot be introspected.
func Collect(ctx context.Context, in Input) ([]Row, error) {
	servers, err := planning.IntrospectAll(ctx, in.Endpoints, planning.DatabasesInScope(in.Config, in.State), in.Log)
	if err != nil {
		return nil, err
	}
	var rows []Row
	for _, r := range in.Config.Replications {
		src, dst := servers["source."+r.Source], servers["target."+r.Target]
		method := planner.DecideMethod(r, src).Method
		target, terr := in.Endpoints.Target(r)
		recorded := map[string]bool{}
		for _, db := range StateDatabases(in.State, r.Name) {
			recorded[db] = true
		}
		var senders map[string]senderLSNs
		if method == lang.SyncLogical || method == lang.SyncStream {
			senders = readSendersOf(ctx, in, r, recorded)
		}
		for _, db := range databasesToReport(r, src, recorded) {
			row := Row{Replication: r.Name, Database: db, Method: string(method), Tables: map[string]int{}, Remapped: remapped(r, db)}
			if !recorded[db] {
				// In scope, but apply/init has not created it yet.
				row.State = StateNotSetUp
				row.Problem = "not replicated yet: run `database-replicator apply` (or init, then sync)"
				rows = append(rows, row)
				continue
			}
			switch method {
			case lang.SyncStream:
				streamStatus(ctx, r, db, src, target, terr, senders, &row)
			case lang.SyncLogical:
				logicalStatus(ctx, r, db, src, dst, target, terr, senders, &row)
			case lang.SyncXmin:
				for _, ad := range in.State.Addresses() {
					if p, err := addrs.Parse(ad); err == nil && p.Kind == addrs.Xmin && p.Replication == r.Name && planner.DatabaseOf(p) == db {
						row.XminCursors++
					}
				}
				xminStatus(ctx, r, db, target, terr, &row)
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// readTimeout bounds each per-database read.
const readTimeout = 10 * time.Second

// xminStatus reads the xmin cursors of one database from the target.
func xminStatus(ctx context.Context, r *lang.Replication, db string, target conninfo.Info, terr error, row *Row) {
	if terr != nil {
		row.State, row.Problem = "unknown", terr.Error()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	conn, err := conninfo.Connect(ctx, target.WithDatabase(db))
	if err != nil {
		row.State, row.Problem = "unknown", err.Error()
		return
	}
	defer conn.Close(context.Background())
	cursors, err := xminsync.ReadCursors(ctx, conn, r.Name)
	if err != nil {
		row.State, row.Problem = "unknown", err.Error()
		return
	}
	if len(cursors) == 0 {
		row.State = "waiting for the first sync cycle (run `database-replicator sync`)"
		return
	}
	var last time.Time
	for _, c := range cursors {
		row.Xmin = append(row.Xmin, XminTable{Table: c.Table, Watermark: c.Watermark, LastCycleAt: c.LastCycleAt,
			LastCycleSeconds: c.LastCycleSeconds, LastCycleRows: c.LastCycleRows, LastReconcileAt: c.LastReconcileAt,
			RowsApplied: c.RowsApplied, Interrupted: c.CycleTarget != nil})
		if c.LastCycleAt != nil && c.LastCycleAt.After(last) {
			last = *c.LastCycleAt
		}
	}
	row.State = "waiting for the first sync cycle"
	if !last.IsZero() {
		row.State = fmt.Sprintf("last xmin cycle %s ago", time.Since(last).Round(time.Second))
		row.LagSeconds = time.Since(last).Seconds()
	}
}

// readSendersOf reads the walsenders of the slots of a logical
// replication's recorded databases. A failure is logged and leaves the
// walsender positions unknown: it does not hide the rest of the status.
func readSendersOf(ctx context.Context, in Input, r *lang.Replication, recorded map[string]bool) map[string]senderLSNs {
	if len(recorded) == 0 {
		return nil
	}
	source, err := in.Endpoints.Source(r)
	if err != nil {
		return nil
	}
	var slots []string
	for db := range recorded {
		slots = append(slots, planner.SlotName(r.Sync.Subscription, db))
	}
	senders, err := readSenders(ctx, source, slots)
	if err != nil && in.Log != nil {
		in.Log.Debug("status: walsender positions unknown", "replication", r.Name, "error", err)
	}
	return senders
}

// logicalStatus fills the subscription, slot, lag and stream positions of
// one database; senders are the walsenders of the replication's slots.
func logicalStatus(ctx context.Context, r *lang.Replication, db string, src, dst *catalog.Server, target conninfo.Info, terr error, senders map[string]senderLSNs, row *Row) {
	row.Subscription = r.Sync.Subscription
	row.Slot = planner.SlotName(r.Sync.Subscription, db)
	row.SourceLSN = src.CurrentWALLSN
	slotFound := fillSlot(row, src, senders) != nil
	tdb := dst.Database(db)
	var sub *catalog.Subscription
	if tdb != nil {
		sub = tdb.Subscription(r.Sync.Subscription)
	}
	var secs float64
	if sub != nil {
		for _, t := range sub.Tables {
			row.Tables[tableStateWord(t.State)]++
		}
		if terr == nil {
			ctx, cancel := context.WithTimeout(ctx, readTimeout)
			w, ok, err := readWorker(ctx, target.WithDatabase(db), r.Sync.Subscription)
			cancel()
			if err == nil && ok {
				row.ReceivedLSN, row.LatestEndLSN, row.AppliedLSN = w.received, w.latestEnd, w.applied
				if sub.Enabled {
					secs = w.lagSeconds
				}
			}
		}
	}
	if row.AppliedLSN == "" {
		row.AppliedLSN = row.ReplayLSN
	}
	finishLogical(row, slotFound, sub != nil, sub != nil && sub.Enabled, secs)
}

// finishLogical sets a logical row's state, problem and lag from what was
// read (the slot's fields and LagBytes are already set when slotFound);
// Collect and ReadLag share it so both tell the same truth. Every state
// but streaming carries a Problem saying what is wrong and what to do, and
// the lag is known only while a slot with its WAL feeds an enabled
// subscription.
func finishLogical(row *Row, slotFound, subExists, subEnabled bool, reportedSeconds float64) {
	row.Enabled = subExists && subEnabled
	switch {
	case !slotFound:
		row.State = StateSlotMissing
		row.Problem = "the replication slot is missing on the source: nothing streams, and changes made since it was lost are not on the target; run plan and apply, or init and sync with --source/--target (the slot is replaced and every table copied again)"
	case row.WALStatus == "lost":
		row.State = StateSlotLost
		row.Problem = "the replication slot lost its WAL (wal_status = lost, max_slot_wal_keep_size): changes were removed before the target got them; run plan and apply, or init and sync with --source/--target (the slot is replaced and every table copied again)"
	case !subExists:
		row.State = StateNoSubscription
		row.Problem = "the subscription is missing on the target: nothing is applied; run plan and apply, or sync with --source/--target"
	case !subEnabled:
		row.State = StateDisabled
		row.Problem = "the subscription is disabled (paused, or by hand): nothing is applied; apply with sync { enabled = true } (or resume) enables it"
	case !row.SlotActive:
		row.State = StateNotConnected
		row.Problem = "the subscription's apply worker is not connected to the slot: see the target's server log"
	default:
		row.State = StateStreaming
	}
	row.LagKnown = slotFound && row.WALStatus != "lost" && subExists && subEnabled
	if !row.LagKnown {
		row.LagBytes, row.LagSeconds = 0, 0
		return
	}
	row.LagSeconds = lagSeconds(reportedSeconds, row.LagBytes)
}

// lagSeconds is the subscription's reported lag, counted only while bytes
// are pending: an idle source confirms nothing new, and its worker's last
// confirmation grows old without any lag.
func lagSeconds(reported float64, lagBytes int64) float64 {
	if lagBytes > 0 {
		return reported
	}
	return 0
}

// tableStateWord names pg_subscription_rel.srsubstate.
func tableStateWord(s string) string {
	switch s {
	case catalog.SubStateReady:
		return "ready"
	case catalog.SubStateSyncDone:
		return "synced"
	case catalog.SubStateDataSync:
		return "copying"
	case catalog.SubStateInit:
		return "init"
	case catalog.SubStateFinished:
		return "finished"
	}
	return s
}

// StateNotSetUp is the state of a database in scope that the state does
// not record: apply (or init) has not created its replication yet.
const StateNotSetUp = "not set up"

// databasesToReport lists the databases recorded in state and those in the
// replication's scope on the source, sorted: status shows a database that
// was never set up as well as one that left the scope.
func databasesToReport(r *lang.Replication, src *catalog.Server, recorded map[string]bool) []string {
	seen := map[string]bool{}
	var out []string
	for db := range recorded {
		seen[db] = true
		out = append(out, db)
	}
	if src != nil {
		scope, _ := planner.ResolveScope(r, src, "source."+r.Source)
		for _, ds := range scope.Databases {
			if !seen[ds.Name] {
				seen[ds.Name] = true
				out = append(out, ds.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// StateDatabases lists, sorted, the databases a replication's state records.
func StateDatabases(st *state.State, replication string) []string {
	var out []string
	for _, ad := range st.Addresses() {
		if p, err := addrs.Parse(ad); err == nil && p.Kind == addrs.Database && p.Replication == replication {
			out = append(out, p.Key)
		}
	}
	sort.Strings(out)
	return out
}

// remapped lists the configured remappings of one database of r.
func remapped(r *lang.Replication, db string) []string {
	var out []string
	for _, t := range r.Tables {
		if t.TargetTable != "" && t.Ref.Database == db {
			to := lang.TableRef{Schema: t.TargetSchema, Table: t.TargetTable}
			from := lang.TableRef{Schema: t.Ref.Schema, Table: t.Ref.Table}
			out = append(out, from.String()+" -> "+to.String())
		}
	}
	for _, sc := range r.Schemas {
		if sc.Database == db {
			out = append(out, sc.Schema+".* -> "+sc.Target+".*")
		}
	}
	return out
}

// fillSlot fills row's slot and WAL-sender columns from the source's slot
// named row.Slot and its sender, and returns the slot (nil when missing).
func fillSlot(row *Row, src *catalog.Server, senders map[string]senderLSNs) *catalog.Slot {
	sl := src.Slot(row.Slot)
	if sl != nil {
		row.SlotActive, row.WALStatus = sl.Active, sl.WALStatus
		row.RetainedWAL = sl.RetainedBytes
		row.LagBytes = catalog.LSNDiff(src.CurrentWALLSN, sl.ConfirmedFlushLSN)
		row.RestartLSN, row.ConfirmedFlushLSN = sl.RestartLSN, sl.ConfirmedFlushLSN
	}
	if s, ok := senders[row.Slot]; ok {
		row.SentLSN, row.WriteLSN, row.FlushLSN, row.ReplayLSN = s.sent, s.write, s.flush, s.replay
	}
	return sl
}
