package views

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
)

// SnapshotSizes renders init's table before it copies: database, size and
// estimated copy time, right-aligned, after a blank line.
func SnapshotSizes(w io.Writer, est []planning.DatabaseEstimate) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\nDATABASE\tSIZE\tESTIMATED TIME\t")
	for _, e := range est {
		fmt.Fprintf(tw, "%s\t%s\t~%s\t\n", e.Database, lang.FormatBytes(e.Bytes), e.Time)
	}
	return tw.Flush()
}
