package streamapply

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// Row filters in the applier (sources before PostgreSQL 15, whose
// publications carry none): the source sends every change of the table,
// and the target keeps exactly the source rows that pass the filter the
// table was copied with. The filter is evaluated by PostgreSQL on the
// target, inside the statement that applies the change, over the change's
// values cast to the target columns' types and named like the source
// table and its columns, as the copy's WHERE names them:
//
//   - INSERT: only the rows that pass are inserted.
//   - UPDATE: when the new row does not pass, the old row is deleted (it
//     is on the target only if it passed: the row moved out); when it
//     passes, the old row is updated or, when the target does not have
//     it (it moved in), the new row is inserted. The new row's unchanged
//     TOASTed values come from the old row, which the source sends whole
//     with REPLICA IDENTITY FULL. With a key identity the filter may use
//     only key columns (plan refuses others); a row whose key moves it
//     into the filter while its unchanged TOASTed values were not sent
//     cannot be inserted: the applier stops and says so.
//   - DELETE: as without a filter (a row that did not pass is not there).

// filteredStmt is one statement of a filtered table's change.
type filteredStmt struct {
	sql  string
	vals [][]byte
	kind stmtKind
}

// insertHead is "INSERT INTO target (columns idx)", with OVERRIDING
// SYSTEM VALUE where the target needs it.
func (r *relation) insertHead(idx []int) string {
	s := "INSERT INTO " + r.target + " (" + r.columnList(idx) + ")"
	if r.overriding {
		s += " OVERRIDING SYSTEM VALUE"
	}
	return s
}

// columnList is the quoted names of the columns idx.
func (r *relation) columnList(idx []int) string {
	names := make([]string, len(idx))
	for i, c := range idx {
		names[i] = r.cols[c].quoted
	}
	return strings.Join(names, ", ")
}

// valuesRow is one VALUES row of parameters for the columns idx, cast to
// the target columns' types, numbered from *n on.
func (r *relation) valuesRow(idx []int, n *int) string {
	var b strings.Builder
	b.WriteString("(")
	for i, c := range idx {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(*n))
		*n++
		if t := r.cols[c].typ; t != "" {
			b.WriteString("::" + t)
		}
	}
	b.WriteString(")")
	return b.String()
}

// filterAlias names VALUES rows of the columns idx like the source table
// and its columns, so that the filter reads them as the copy's WHERE read
// the table.
func (r *relation) filterAlias(idx []int) string {
	return pgx.Identifier{r.srcName}.Sanitize() + "(" + r.columnList(idx) + ")"
}

// filteredUpdate is the UPDATE of a filtered table as two statements: the
// delete of a row moving out, then the update of a row staying in or the
// insert of a row moving in.
func (r *relation) filteredUpdate(m *pglogrepl.UpdateMessage) ([]filteredStmt, error) {
	if m.NewTuple == nil || len(m.NewTuple.Columns) != len(r.cols) {
		return nil, fmt.Errorf("update of %s: the tuple does not match the relation's %d columns", r.sourceName(), len(r.cols))
	}
	var old *pglogrepl.TupleData
	if m.OldTupleType == pglogrepl.UpdateMessageTupleTypeKey || m.OldTupleType == pglogrepl.UpdateMessageTupleTypeOld {
		old = m.OldTuple
	}
	fullOld := m.OldTupleType == pglogrepl.UpdateMessageTupleTypeOld && old != nil && len(old.Columns) == len(r.cols)
	// The new row: what the source sent, unchanged TOASTed values from
	// the whole old row.
	row := make([]*pglogrepl.TupleDataColumn, len(r.cols))
	var known, write []int
	var unsent []string
	for i, c := range r.cols {
		if c.missing {
			continue
		}
		tc := m.NewTuple.Columns[i]
		if tc.DataType == pglogrepl.TupleDataTypeToast && fullOld && old.Columns[i].DataType != pglogrepl.TupleDataTypeToast {
			tc = old.Columns[i]
		}
		if tc.DataType == pglogrepl.TupleDataTypeToast {
			if c.write {
				unsent = append(unsent, c.name)
			}
			continue
		}
		row[i] = tc
		known = append(known, i)
		if c.write {
			write = append(write, i)
		}
	}
	rowVals := func() [][]byte {
		vals := make([][]byte, len(known))
		for i, c := range known {
			vals[i] = value(row[c])
		}
		return vals
	}
	passes := func(n *int) string {
		return "SELECT * FROM (VALUES " + r.valuesRow(known, n) + ") AS " + r.filterAlias(known) + " WHERE (\n" + r.filter + "\n)"
	}

	// 1. The new row does not pass: delete the old one.
	where, wvals, err := r.whereClause(old, m.NewTuple, 1)
	if err != nil {
		return nil, err
	}
	n := 1 + len(wvals)
	del := filteredStmt{
		sql:  "DELETE FROM " + r.from() + " WHERE " + where + " AND NOT EXISTS (" + passes(&n) + ")",
		vals: append(wvals, rowVals()...), kind: stmtOther,
	}

	// 2. It passes: update the old row, or insert the new one.
	n = 1
	newRow := passes(&n)
	vals := rowVals()
	var sets []string
	for i, c := range r.cols {
		if !c.write || c.identityAlways || c.missing || m.NewTuple.Columns[i].DataType == pglogrepl.TupleDataTypeToast {
			continue
		}
		vals = append(vals, value(m.NewTuple.Columns[i]))
		sets = append(sets, c.quoted+" = $"+strconv.Itoa(n))
		n++
	}
	where, wvals, err = r.whereClause(old, m.NewTuple, n)
	if err != nil {
		return nil, err
	}
	vals = append(vals, wvals...)
	found := "SELECT 1 FROM " + r.from() + " WHERE " + where + " AND EXISTS (SELECT FROM n)"
	if len(sets) > 0 {
		found = "UPDATE " + r.from() + " SET " + strings.Join(sets, ", ") + " WHERE " + where + " AND EXISTS (SELECT FROM n) RETURNING 1"
	}
	with := "WITH n AS (" + newRow + "), u AS (" + found + ") "
	upsert := filteredStmt{vals: vals, kind: stmtOther}
	if len(unsent) == 0 {
		upsert.sql = with + r.insertHead(write) + " SELECT " + r.columnList(write) + " FROM n WHERE NOT EXISTS (SELECT FROM u)"
	} else {
		// The insert would lack values: a row returned here moved in.
		upsert.sql = with + "SELECT 1 FROM n WHERE NOT EXISTS (SELECT FROM u)"
		upsert.kind = stmtNoRows
	}
	return []filteredStmt{del, upsert}, nil
}

// movedInError is the error of a row that moved into a filtered table's
// filter without the values of its unchanged TOASTed columns.
func movedInError(r *relation) error {
	return fmt.Errorf("an UPDATE moved a row of %s into its row filter, but the source did not send the row's unchanged TOASTed values (replica identity is the key), so the row cannot be inserted on the target: set REPLICA IDENTITY FULL on %s (replica_identity = \"full\" in its table block), then copy the table again",
		r.sourceName(), r.sourceName())
}
