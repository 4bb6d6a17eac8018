package views

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/status"
	"github.com/database-replicator/database-replicator/providers/postgres/syncloop"
)

// SyncView renders the sync loop's lines: the method of each replication,
// then one line per xmin cycle and per lag report. It is the loop's
// syncloop.Reporter.
type SyncView interface {
	syncloop.Reporter
	// Method reports the sync method chosen for a replication.
	Method(c syncloop.Choice)
}

// NewSyncView returns the human view writing to w (sync has no JSON
// output).
func NewSyncView(w io.Writer) SyncView { return SyncText{W: w} }

// SyncText renders the sync loop as lines of text.
type SyncText struct{ W io.Writer }

var _ SyncView = SyncText{}

// Method implements SyncView.
func (v SyncText) Method(c syncloop.Choice) {
	fmt.Fprintf(v.W, "replication.%s: %s sync — %s\n", c.Replication, c.Method, c.Why)
}

// XminCycle implements syncloop.Reporter.
func (v SyncText) XminCycle(r syncloop.CycleReport) {
	reconciled := ""
	if r.Reconciled {
		reconciled = ", reconciled"
	}
	line := fmt.Sprintf("xmin cycle replication.%s %q: %d upserted, %d deleted, %d table(s) in %s%s",
		r.Replication, r.Database, r.Upserted, r.Deleted, r.Tables, r.Took.Round(time.Millisecond), reconciled)
	if len(r.Notes) > 0 {
		line += " (" + strings.Join(r.Notes, "; ") + ")"
	}
	fmt.Fprintln(v.W, line)
}

// Lag implements syncloop.Reporter.
func (v SyncText) Lag(r status.Row) {
	if r.Problem != "" {
		fmt.Fprintf(v.W, "PROBLEM: %s replication.%s %q: %s: %s\n", map[bool]string{true: "stream", false: "logical"}[r.Method == string(lang.SyncStream)], r.Replication, r.Database, r.State, r.Problem)
		return
	}
	if r.Method == string(lang.SyncStream) {
		fmt.Fprintf(v.W, "stream replication.%s %q: %s, lag %s / %.1fs, applied %s, %.0f rows/s\n", r.Replication, r.Database, r.State,
			lang.FormatBytes(r.LagBytes), r.LagSeconds, r.AppliedLSN, r.RowsPerSecond)
		return
	}
	fmt.Fprintf(v.W, "logical replication.%s %q: %s, lag %s / %.1fs\n", r.Replication, r.Database, r.State, lang.FormatBytes(r.LagBytes), r.LagSeconds)
}

// Stopped implements syncloop.Reporter.
func (v SyncText) Stopped(cursorsSaved bool) {
	if cursorsSaved {
		fmt.Fprintln(v.W, "Sync stopped; cursors are saved: the next sync resumes where this one stopped.")
		return
	}
	fmt.Fprintln(v.W, "Sync stopped.")
}
