package views

import (
	"fmt"
	"io"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/picker"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
)

// PickerSummary renders what the interactive picker's choices copy,
// before it asks for confirmation: per database the tables copied in
// full (a count), filtered, structure only and left out; the estimated
// size and time; the sync method and why; and what needs attention.
func PickerSummary(w io.Writer, s picker.Summary) error {
	var b strings.Builder
	names := make([]string, len(s.Databases))
	for i, d := range s.Databases {
		names[i] = d.Name
	}
	fmt.Fprintf(&b, "\nSummary\n  Databases: %d (%s)\n", len(names), strings.Join(names, ", "))
	for _, d := range s.Databases {
		fmt.Fprintf(&b, "\n  %s: %s to copy\n", d.Name, lang.FormatBytes(d.Bytes))
		if n := len(d.Copied); n > 0 {
			fmt.Fprintf(&b, "    copy          %d %s with every row\n", n, pluralWord(n, "table", "tables"))
		}
		for _, f := range d.Filtered {
			fmt.Fprintf(&b, "    some rows     %s.%s: %s\n", f.Table.Ref.Schema, f.Table.Ref.Table, f.Filter)
		}
		for _, r := range d.SchemaOnly {
			fmt.Fprintf(&b, "    schema only   %s.%s\n", r.Schema, r.Table)
		}
		for _, r := range d.Excluded {
			fmt.Fprintf(&b, "    left out      %s.%s\n", r.Schema, r.Table)
		}
		if len(d.Copied)+len(d.Filtered)+len(d.SchemaOnly)+len(d.Excluded) == 0 {
			fmt.Fprintf(&b, "    no tables (the schema and sequences are copied)\n")
		}
	}
	fmt.Fprintf(&b, "\n  Estimated size %s, time ~%s (at %s/s)\n", lang.FormatBytes(s.Bytes), s.Time, lang.FormatBytes(planning.CopyRate))
	fmt.Fprintf(&b, "  Sync method: %s — %s\n", s.Method.Method, s.Method.Why)
	if len(s.Attention) > 0 {
		fmt.Fprintf(&b, "\n  Needs attention:\n")
		for _, a := range s.Attention {
			fmt.Fprintf(&b, "    ! %s\n", a)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// pluralWord picks the singular or plural noun for n.
func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
