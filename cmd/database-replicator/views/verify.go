package views

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/database-replicator/database-replicator/providers/postgres/schemacompare"
	"github.com/database-replicator/database-replicator/providers/postgres/verify"
)

// VerifyView renders verify's report.
type VerifyView interface {
	// Report renders every table's and every database schema's verdict.
	Report(rep *verify.Report) error
}

// NewVerifyView returns the JSON or the human view writing to w.
func NewVerifyView(w io.Writer, asJSON bool) VerifyView {
	if asJSON {
		return VerifyJSON{W: w}
	}
	return VerifyText{W: w}
}

// VerifyJSON renders {"tables": [...], "schema": [...], "differences": N}:
// "tables" without --schema-only, "schema" without --data-only;
// "differences" counts the differing tables and schema objects.
type VerifyJSON struct{ W io.Writer }

// Report implements VerifyView.
func (v VerifyJSON) Report(rep *verify.Report) error {
	out := map[string]any{"differences": rep.TablesDiffer + rep.ObjectsDiffer}
	if rep.DataCompared {
		out["tables"] = rep.Tables
	}
	if rep.SchemaCompared {
		out["schema"] = rep.Schema
	}
	return writeIndentedJSON(v.W, out)
}

// VerifyText renders a table of table verdicts with the differing keys
// and notes of each table, then a table of schema verdicts per database
// with each differing object.
type VerifyText struct{ W io.Writer }

// Report implements VerifyView.
func (v VerifyText) Report(rep *verify.Report) error {
	if rep.DataCompared {
		if err := v.tables(rep.Tables); err != nil {
			return err
		}
	}
	if !rep.SchemaCompared {
		return nil
	}
	w := tabwriter.NewWriter(v.W, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SCHEMA OF\tOBJECTS\tDIFFERING\tRESULT")
	for _, s := range rep.Schema {
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", s.Database, s.Objects, len(s.Differences), s.Result)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, s := range rep.Schema {
		for _, d := range s.Differences {
			fmt.Fprintf(v.W, "%s: %s %s: %s\n", s.Database, d.Kind, d.Object, describe(d))
		}
	}
	return nil
}

// tables renders the table verdicts (verify's output before it compared
// schemas, byte for byte).
func (v VerifyText) tables(vs []verify.Verdict) error {
	w := tabwriter.NewWriter(v.W, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TABLE\tSOURCE ROWS\tTARGET ROWS\tRESULT\tTIME")
	for _, x := range vs {
		name := x.Table
		if x.Target != "" {
			name += " -> " + x.Target
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%.2fs\n", name, x.Detail.SourceRows, x.Detail.TargetRows, x.Result, x.Seconds)
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

// maxInlineValue is the longest attribute value shown in the human
// output; longer or multi-line values (function bodies) are in --json.
const maxInlineValue = 60

// describe renders what differs about one object on one line.
func describe(d schemacompare.Difference) string {
	if d.Problem != schemacompare.Different {
		return d.Problem
	}
	parts := make([]string, len(d.Attributes))
	for i, a := range d.Attributes {
		if len(a.Source) > maxInlineValue || len(a.Target) > maxInlineValue || strings.ContainsAny(a.Source+a.Target, "\n") {
			parts[i] = a.Name + " differs (see --json)"
			continue
		}
		parts[i] = fmt.Sprintf("%s: source %s, target %s", a.Name, shown(a.Source), shown(a.Target))
	}
	return strings.Join(parts, "; ")
}

// shown renders an attribute value, an empty one as (none).
func shown(v string) string {
	if v == "" {
		return "(none)"
	}
	return fmt.Sprintf("%q", v)
}
