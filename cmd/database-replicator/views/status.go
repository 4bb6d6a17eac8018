package views

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/status"
)

// StatusView renders `status`: one call per redraw.
type StatusView interface {
	// Status renders the rows of every database.
	Status(rows []status.Row) error
}

// NewStatusView returns the JSON or the human view writing to w.
func NewStatusView(w io.Writer, asJSON bool) StatusView {
	if asJSON {
		return StatusJSON{W: w}
	}
	return StatusText{W: w, Now: time.Now}
}

// StatusJSON renders status as {"databases": [...]}.
type StatusJSON struct{ W io.Writer }

// Status implements StatusView.
func (v StatusJSON) Status(rows []status.Row) error {
	return writeIndentedJSON(v.W, map[string]any{"databases": rows})
}

// StatusText renders status as tables: one line per database, then one
// per xmin table when any database has xmin cursors.
type StatusText struct {
	W io.Writer
	// Now is the clock "12s ago" is measured against.
	Now func() time.Time
}

// Status implements StatusView.
func (v StatusText) Status(rows []status.Row) error {
	if len(rows) == 0 {
		fmt.Fprintln(v.W, "Nothing replicated yet: run `database-replicator apply`.")
		return nil
	}
	w := tabwriter.NewWriter(v.W, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REPLICATION\tDATABASE\tMETHOD\tSTATE\tTABLES\tSLOT\tLAG\tRETAINED WAL")
	for _, r := range rows {
		tables := ""
		for _, k := range []string{"ready", "synced", "copying", "init"} {
			if n := r.Tables[k]; n > 0 {
				tables += fmt.Sprintf("%d %s ", n, k)
			}
		}
		if r.Method == string(lang.SyncStream) && r.RowsApplied > 0 {
			tables = fmt.Sprintf("%d rows applied", r.RowsApplied)
		}
		slot := "-"
		if r.Slot != "" {
			switch {
			case r.State == status.StateSlotMissing:
				slot = r.Slot + " (MISSING)"
			case r.WALStatus == "lost":
				slot = r.Slot + " (WAL LOST)"
			default:
				slot = r.Slot + map[bool]string{true: " (active)", false: " (inactive)"}[r.SlotActive]
			}
		}
		lag := "-"
		if r.LagKnown || r.Method == string(lang.SyncXmin) {
			lag = fmt.Sprintf("%s, %.1fs", lang.FormatBytes(r.LagBytes), r.LagSeconds)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Replication, r.Database, r.Method, r.State, tables, slot,
			lag, lang.FormatBytes(r.RetainedWAL))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := v.positions(rows); err != nil {
		return err
	}
	for _, r := range rows {
		if len(r.Remapped) > 0 {
			fmt.Fprintf(v.W, "\nRemapped in replication.%s database %q (source -> target): %s\n", r.Replication, r.Database, strings.Join(r.Remapped, ", "))
		}
	}
	for _, r := range rows {
		if r.Problem != "" {
			fmt.Fprintf(v.W, "\nProblem: replication.%s database %q: %s\n", r.Replication, r.Database, r.Problem)
		}
	}
	var any bool
	for _, r := range rows {
		any = any || len(r.Xmin) > 0
	}
	if !any {
		return nil
	}
	w = tabwriter.NewWriter(v.W, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nXMIN TABLE\tLAST CYCLE\tROWS\tTIME\tLAST RECONCILE\tROWS APPLIED")
	for _, r := range rows {
		for _, x := range r.Xmin {
			fmt.Fprintf(w, "%s.%s\t%s\t%d\t%.2fs\t%s\t%d\n", r.Database, x.Table, v.ago(x.LastCycleAt), x.LastCycleRows, x.LastCycleSeconds, v.ago(x.LastReconcileAt), x.RowsApplied)
		}
	}
	return w.Flush()
}

// positions renders the stream positions (LSNs) of every logical
// database that has any: the source's current WAL position, what its
// walsender sent, what the subscription received and applied, and the
// slot's confirmed flush and restart positions; "-" for one unknown.
func (v StatusText) positions(rows []status.Row) error {
	var any bool
	for _, r := range rows {
		any = any || hasPositions(r)
	}
	if !any {
		return nil
	}
	fmt.Fprintln(v.W)
	w := tabwriter.NewWriter(v.W, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REPLICATION\tDATABASE\tSOURCE WAL\tSENT\tRECEIVED\tAPPLIED\tCONFIRMED FLUSH\tRESTART")
	for _, r := range rows {
		if !hasPositions(r) {
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Replication, r.Database, orDash(r.SourceLSN), orDash(r.SentLSN),
			orDash(r.ReceivedLSN), orDash(r.AppliedLSN), orDash(r.ConfirmedFlushLSN), orDash(r.RestartLSN))
	}
	return w.Flush()
}

// hasPositions reports whether a logical row knows any position of its
// stream besides the source's own WAL position (a database not set up has
// none).
func hasPositions(r status.Row) bool {
	return r.SentLSN != "" || r.ReceivedLSN != "" || r.AppliedLSN != "" || r.ConfirmedFlushLSN != "" || r.RestartLSN != ""
}

// orDash renders an unknown value as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ago renders a time as "12s ago", or "never".
func (v StatusText) ago(t *time.Time) string {
	if t == nil {
		return "never"
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	return now().Sub(*t).Round(time.Second).String() + " ago"
}

// ClearScreen moves a terminal's cursor home and clears it, before a
// status --watch redraw.
func ClearScreen(w io.Writer) { fmt.Fprint(w, "\x1b[H\x1b[2J") }
