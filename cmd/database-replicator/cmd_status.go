package main

import (
	"context"
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/providers/postgres"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
	"github.com/database-replicator/database-replicator/providers/postgres/xminsync"
	"github.com/database-replicator/database-replicator/state"
)

// statusCmd reports replication state and lag.
type statusCmd struct {
	JSON   bool          `name:"json" help:"Print the status as JSON."`
	Watch  time.Duration `help:"Redraw every DURATION until interrupted (e.g. 5s)." placeholder:"DURATION"`
	MaxLag time.Duration `help:"Exit 2 when lag exceeds DURATION or replication is not streaming." placeholder:"DURATION"`
}

// dbStatus is the status of one database of one replication.
type dbStatus struct {
	Replication  string         `json:"replication"`
	Database     string         `json:"database"`
	Method       string         `json:"method"`
	Subscription string         `json:"subscription,omitempty"`
	State        string         `json:"state"`
	Enabled      bool           `json:"enabled"`
	Tables       map[string]int `json:"tables,omitempty"`
	Slot         string         `json:"slot,omitempty"`
	SlotActive   bool           `json:"slot_active"`
	LagBytes     int64          `json:"lag_bytes"`
	LagSeconds   float64        `json:"lag_seconds"`
	RetainedWAL  int64          `json:"retained_wal_bytes"`
	XminCursors  int            `json:"xmin_cursors,omitempty"`
	// Xmin lists the xmin engine's cursor of each table.
	Xmin    []xminTableStatus `json:"xmin,omitempty"`
	Problem string            `json:"problem,omitempty"`
}

// xminTableStatus is one table's xmin cursor and last cycle.
type xminTableStatus struct {
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

// Run implements the command.
func (c *statusCmd) Run(a *app) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	for {
		rows, err := a.collectStatus(cfg)
		if err != nil {
			return err
		}
		if c.Watch > 0 && a.io.stdoutTTY {
			fmt.Fprint(a.io.stdout, "\x1b[H\x1b[2J")
		}
		if c.JSON {
			if err := writeJSON(a.io.stdout, map[string]any{"databases": rows}); err != nil {
				return err
			}
		} else if err := printStatus(a, rows); err != nil {
			return err
		}
		bad := unhealthy(rows, c.MaxLag)
		if c.Watch <= 0 {
			if c.MaxLag > 0 && bad != "" {
				return &exitError{code: 2, err: fmt.Errorf("status: %s", bad)}
			}
			return nil
		}
		select {
		case <-a.ctx.Done():
			return nil
		case <-time.After(c.Watch):
		}
	}
}

// unhealthy names the first database that is not streaming or lags more
// than maxLag, or returns "".
func unhealthy(rows []dbStatus, maxLag time.Duration) string {
	for _, r := range rows {
		if r.Method == string(lang.SyncXmin) {
			switch {
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
		if r.State != "streaming" {
			return fmt.Sprintf("replication.%s database %q is not streaming (%s)", r.Replication, r.Database, r.State)
		}
		if maxLag > 0 && r.LagSeconds > maxLag.Seconds() && r.LagBytes > 0 {
			return fmt.Sprintf("replication.%s database %q lags %.1fs (max %s)", r.Replication, r.Database, r.LagSeconds, maxLag)
		}
	}
	return ""
}

// collectStatus introspects both sides and reads the state.
func (a *app) collectStatus(cfg *lang.Config) ([]dbStatus, error) {
	backend, err := a.stateBackend(cfg)
	if err != nil {
		return nil, err
	}
	st, servers, err := a.stateAndServers(cfg, backend)
	if err != nil {
		return nil, err
	}
	var rows []dbStatus
	for _, r := range cfg.Replications {
		src, dst := servers["source."+r.Source], servers["target."+r.Target]
		method, _ := planner.ResolveMethod(r, src)
		for _, db := range stateDatabases(st, r.Name) {
			row := dbStatus{Replication: r.Name, Database: db, Method: string(method), Tables: map[string]int{}}
			switch method {
			case lang.SyncLogical, lang.SyncStream:
				a.logicalStatus(cfg, r, db, src, dst, &row)
			case lang.SyncXmin:
				for _, ad := range st.Addresses() {
					if p, err := addrs.Parse(ad); err == nil && p.Kind == addrs.Xmin && p.Replication == r.Name && planner.DatabaseOf(p) == db {
						row.XminCursors++
					}
				}
				a.xminStatus(cfg, r, db, &row)
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// stateAndServers reads the state and introspects every server.
func (a *app) stateAndServers(cfg *lang.Config, backend state.Backend) (*state.State, map[string]*postgres.Server, error) {
	st, err := backend.Read(a.ctx)
	if err != nil {
		return nil, nil, err
	}
	servers, err := a.introspectAll(cfg)
	if err != nil {
		return nil, nil, err
	}
	return st, servers, nil
}

// collectStatusCtx is collectStatus with another context (the sync loop's
// I/O context, which outlives an interrupt until the batch is done).
func (a *app) collectStatusCtx(ctx context.Context, cfg *lang.Config) ([]dbStatus, error) {
	b := *a
	b.ctx = ctx
	return b.collectStatus(cfg)
}

// xminStatus reads the xmin cursors of one database from the target.
func (a *app) xminStatus(cfg *lang.Config, r *lang.Replication, db string, row *dbStatus) {
	info, err := postgres.ParseURL(cfg.Targets[r.Target].URL)
	if err != nil {
		row.State, row.Problem = "unknown", err.Error()
		return
	}
	ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
	defer cancel()
	conn, err := postgres.Connect(ctx, info.WithDatabase(db))
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
		row.Xmin = append(row.Xmin, xminTableStatus{Table: c.Table, Watermark: c.Watermark, LastCycleAt: c.LastCycleAt,
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

// logicalStatus fills the subscription, slot and lag of one database.
func (a *app) logicalStatus(cfg *lang.Config, r *lang.Replication, db string, src, dst *postgres.Server, row *dbStatus) {
	row.Subscription = r.Sync.Subscription
	row.Slot = planner.SlotName(r.Sync.Subscription, db)
	if sl := src.Slot(row.Slot); sl != nil {
		row.SlotActive = sl.Active
		row.RetainedWAL = sl.RetainedBytes
		row.LagBytes = postgres.LSNDiff(src.CurrentWALLSN, sl.ConfirmedFlushLSN)
	} else {
		row.Problem = "slot missing on the source"
	}
	tdb := dst.Database(db)
	var sub *postgres.Subscription
	if tdb != nil {
		sub = tdb.Subscription(r.Sync.Subscription)
	}
	switch {
	case sub == nil:
		row.State = "no subscription"
	case !sub.Enabled:
		row.State, row.Enabled = "disabled", false
	default:
		row.Enabled = true
		row.State = "streaming"
		if !row.SlotActive {
			row.State = "not connected"
		}
	}
	if sub != nil {
		for _, t := range sub.Tables {
			row.Tables[tableStateWord(t.State)]++
		}
		if info, err := postgres.ParseURL(cfg.Targets[r.Target].URL); err == nil {
			ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
			secs, ok, err := postgres.SubscriptionLagSeconds(ctx, info.WithDatabase(db), r.Sync.Subscription)
			cancel()
			if err == nil && ok && row.LagBytes > 0 {
				row.LagSeconds = secs
			}
		}
	}
}

// tableStateWord names pg_subscription_rel.srsubstate.
func tableStateWord(s string) string {
	switch s {
	case postgres.SubStateReady:
		return "ready"
	case postgres.SubStateSyncDone:
		return "synced"
	case postgres.SubStateDataSync:
		return "copying"
	case postgres.SubStateInit:
		return "init"
	case postgres.SubStateFinished:
		return "finished"
	}
	return s
}

// stateDatabases lists the databases a replication's state records.
func stateDatabases(st *state.State, replication string) []string {
	var out []string
	for _, ad := range st.Addresses() {
		if p, err := addrs.Parse(ad); err == nil && p.Kind == addrs.Database && p.Replication == replication {
			out = append(out, p.Key)
		}
	}
	sort.Strings(out)
	return out
}

// printStatus writes the status table.
func printStatus(a *app, rows []dbStatus) error {
	if len(rows) == 0 {
		fmt.Fprintln(a.io.stdout, "Nothing replicated yet: run `database-replicator apply`.")
		return nil
	}
	w := tabwriter.NewWriter(a.io.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REPLICATION\tDATABASE\tMETHOD\tSTATE\tTABLES\tSLOT\tLAG\tRETAINED WAL")
	for _, r := range rows {
		tables := ""
		for _, k := range []string{"ready", "synced", "copying", "init"} {
			if n := r.Tables[k]; n > 0 {
				tables += fmt.Sprintf("%d %s ", n, k)
			}
		}
		slot := "-"
		if r.Slot != "" {
			slot = r.Slot + map[bool]string{true: " (active)", false: " (inactive)"}[r.SlotActive]
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s, %.1fs\t%s\n", r.Replication, r.Database, r.Method, r.State, tables, slot,
			humanSize(r.LagBytes), r.LagSeconds, humanSize(r.RetainedWAL))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	var any bool
	for _, r := range rows {
		any = any || len(r.Xmin) > 0
	}
	if !any {
		return nil
	}
	w = tabwriter.NewWriter(a.io.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nXMIN TABLE\tLAST CYCLE\tROWS\tTIME\tLAST RECONCILE\tROWS APPLIED")
	for _, r := range rows {
		for _, x := range r.Xmin {
			fmt.Fprintf(w, "%s.%s\t%s\t%d\t%.2fs\t%s\t%d\n", r.Database, x.Table, ago(x.LastCycleAt), x.LastCycleRows, x.LastCycleSeconds, ago(x.LastReconcileAt), x.RowsApplied)
		}
	}
	return w.Flush()
}

// ago renders a time as "12s ago", or "never".
func ago(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return time.Since(*t).Round(time.Second).String() + " ago"
}

// introspectAll resolves the endpoints and introspects every server.
func (a *app) introspectAll(cfg *lang.Config) (map[string]*postgres.Server, error) {
	eps, err := endpoints.Resolve(cfg)
	if err != nil {
		return nil, err
	}
	return planning.IntrospectAll(a.ctx, eps, a.log)
}
