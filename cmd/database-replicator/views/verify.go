package views

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/database-replicator/database-replicator/providers/postgres/verify"
)

// VerifyView renders verify's verdicts.
type VerifyView interface {
	// Verdicts renders every table's verdict; differ is how many differ.
	Verdicts(vs []verify.Verdict, differ int) error
}

// NewVerifyView returns the JSON or the human view writing to w.
func NewVerifyView(w io.Writer, asJSON bool) VerifyView {
	if asJSON {
		return VerifyJSON{W: w}
	}
	return VerifyText{W: w}
}

// VerifyJSON renders {"tables": [...], "differences": N}.
type VerifyJSON struct{ W io.Writer }

// Verdicts implements VerifyView.
func (v VerifyJSON) Verdicts(vs []verify.Verdict, differ int) error {
	return writeIndentedJSON(v.W, map[string]any{"tables": vs, "differences": differ})
}

// VerifyText renders a table of verdicts, then the differing keys and
// notes of each table.
type VerifyText struct{ W io.Writer }

// Verdicts implements VerifyView.
func (v VerifyText) Verdicts(vs []verify.Verdict, _ int) error {
	w := tabwriter.NewWriter(v.W, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TABLE\tSOURCE ROWS\tTARGET ROWS\tRESULT\tTIME")
	for _, x := range vs {
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%.2fs\n", x.Table, x.Detail.SourceRows, x.Detail.TargetRows, x.Result, x.Seconds)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, x := range vs {
		d := x.Detail
		for _, l := range []struct {
			what string
			keys []string
		}{{"missing on the target", d.Missing}, {"extra on the target", d.Extra}, {"different", d.Different}} {
			if len(l.keys) > 0 {
				fmt.Fprintf(v.W, "%s: %s: %s\n", x.Table, l.what, strings.Join(l.keys, " "))
			}
		}
		if d.Note != "" {
			fmt.Fprintf(v.W, "%s: %s\n", x.Table, d.Note)
		}
	}
	return nil
}
