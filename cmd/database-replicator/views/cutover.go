package views

import (
	"fmt"
	"io"
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/cutover"
)

// CutoverView renders the cutover: its steps before it runs, each phase
// as it ends, and the report.
type CutoverView interface {
	// Steps renders what the cutover will do.
	Steps(steps []cutover.Step, summary string) error
	// Phase renders one phase that ended.
	Phase(p cutover.PhaseResult) error
	// Report renders the outcome.
	Report(rep *cutover.Report) error
}

// NewCutoverView returns the JSON or the human view writing to w.
func NewCutoverView(w io.Writer, asJSON bool) CutoverView {
	if asJSON {
		return &CutoverJSON{W: w}
	}
	return CutoverText{W: w}
}

// CutoverText renders the steps like a plan, one line per phase with its
// duration, and the write-unavailability window.
type CutoverText struct{ W io.Writer }

// Steps implements CutoverView.
func (v CutoverText) Steps(steps []cutover.Step, summary string) error {
	fmt.Fprintln(v.W, "database-replicator will cut over in these steps:")
	for i, s := range steps {
		fmt.Fprintf(v.W, "\n  %d. %s\n", i+1, s.Name)
		for _, a := range s.Actions {
			fmt.Fprintf(v.W, "       %s\n", a)
		}
	}
	_, err := fmt.Fprintf(v.W, "\n%s\n\n", summary)
	return err
}

// Phase implements CutoverView.
func (v CutoverText) Phase(p cutover.PhaseResult) error {
	fmt.Fprintf(v.W, "%-10s %s\n", p.Name, formatSeconds(p.Seconds))
	for _, d := range p.Details {
		fmt.Fprintf(v.W, "           %s\n", d)
	}
	return nil
}

// Report implements CutoverView.
func (v CutoverText) Report(rep *cutover.Report) error {
	for _, w := range rep.Warnings {
		fmt.Fprintf(v.W, "\nWarning: %s\n", w)
	}
	if rep.Rollback {
		switch rep.Outcome {
		case cutover.OutcomeCompleted:
			fmt.Fprintf(v.W, "\nRollback complete. Writes were unavailable for %s (fence of the target → source writable).\n", formatSeconds(rep.WriteUnavailableSeconds))
			var dbs []string
			for _, d := range rep.Databases {
				dbs = append(dbs, fmt.Sprintf("%s (%d sequence(s))", d.Database, d.Sequences))
			}
			fmt.Fprintf(v.W, "The source is the primary again for %s: point the application back at it. The target follows it again (sync, plan and cutover work as before the cutover).\n", strings.Join(dbs, ", "))
		case cutover.OutcomeRolledBack:
			fmt.Fprintln(v.W, "\nRollback undone: the target is still the primary.")
		default:
			fmt.Fprintln(v.W, "\nRollback failed.")
		}
		return nil
	}
	switch rep.Outcome {
	case cutover.OutcomeCompleted:
		fmt.Fprintf(v.W, "\nCutover complete. Writes were unavailable for %s (fence → target ready).\n", formatSeconds(rep.WriteUnavailableSeconds))
		var dbs []string
		for _, d := range rep.Databases {
			dbs = append(dbs, fmt.Sprintf("%s (%d sequence(s))", d.Database, d.Sequences))
		}
		fmt.Fprintf(v.W, "The target is the primary for %s: point the application at it.\n", strings.Join(dbs, ", "))
		for _, d := range rep.Databases {
			if rv := d.Reverse; rv != nil {
				fmt.Fprintf(v.W, "Reverse replication of %s: publication %q and slot %q on the new primary, subscription %q on the old primary; it stays read-only for applications.\n",
					d.Database, rv.Publication, rv.Slot, rv.Subscription)
			}
		}
	case cutover.OutcomeRolledBack:
		fmt.Fprintln(v.W, "\nCutover rolled back.")
	default:
		fmt.Fprintln(v.W, "\nCutover failed.")
	}
	return nil
}

// formatSeconds renders a duration in seconds with millisecond precision.
func formatSeconds(s float64) string { return fmt.Sprintf("%.3fs", s) }

// CutoverJSON renders one document at the end: {"steps", "report"}.
type CutoverJSON struct {
	W     io.Writer
	steps []cutover.Step
}

// Steps implements CutoverView: the steps are part of the final document.
func (v *CutoverJSON) Steps(steps []cutover.Step, _ string) error {
	v.steps = steps
	return nil
}

// Phase implements CutoverView: phases are in the report.
func (v *CutoverJSON) Phase(cutover.PhaseResult) error { return nil }

// Report implements CutoverView.
func (v *CutoverJSON) Report(rep *cutover.Report) error {
	return writeIndentedJSON(v.W, map[string]any{"steps": v.steps, "report": rep})
}
