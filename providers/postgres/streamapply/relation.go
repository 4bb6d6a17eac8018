package streamapply

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// relation is a source table as its last relation message described it,
// matched to its target table.
type relation struct {
	id                 uint32
	srcSchema, srcName string
	dstSchema, dstName string
	target             string // quoted target name
	partitioned        bool   // the target is a partitioned table
	identity           byte   // replica identity: 'd', 'n', 'f', 'i'
	cols               []column
	overriding         bool // the target has a GENERATED ALWAYS identity column
	// filter is the row filter the table was copied with, when the
	// applier filters its changes itself (sources before PostgreSQL 15);
	// "" applies every change.
	filter string
	// standalone is true when no change to another table can see or be
	// seen by this table's rows on the target (see standaloneTable): its
	// pending multi-row INSERT may stay pending across another standalone
	// table's updates and deletes.
	standalone bool
}

// column is one column of a relation message.
type column struct {
	name   string
	quoted string
	key    bool // part of the replica identity
	// write is false for columns the target does not take: generated
	// on the target. (A source column missing on the target is an error.)
	write bool
	// identityAlways columns are inserted (OVERRIDING SYSTEM VALUE) but
	// never SET by an UPDATE, which PostgreSQL refuses for them.
	identityAlways bool
	// missing columns are not on the target (their values are left out).
	missing bool
	// textCompare columns have no equality operator (json, xml, geometric
	// types): a FULL identity matches them by their text.
	textCompare bool
	// typ is the target column's type (format_type), for the casts of a
	// filtered table's values.
	typ string
}

// targetColumn is one column of the target table.
type targetColumn struct {
	generated      bool
	identityAlways bool
	textCompare    bool
	typ            string
}

// describeRelation matches a relation message to its target table.
func describeRelation(ctx context.Context, dst *pgx.Conn, m *pglogrepl.RelationMessage, remap func(string, string) (string, string), newColumns NewColumnPolicy, filters map[TableName]string) (*relation, error) {
	r := &relation{
		id: m.RelationID, srcSchema: m.Namespace, srcName: m.RelationName,
		dstSchema: m.Namespace, dstName: m.RelationName, identity: m.ReplicaIdentity,
		filter: filters[TableName{m.Namespace, m.RelationName}],
	}
	if remap != nil {
		r.dstSchema, r.dstName = remap(m.Namespace, m.RelationName)
	}
	r.target = pgx.Identifier{r.dstSchema, r.dstName}.Sanitize()
	tcols, partitioned, err := targetColumns(ctx, dst, r.dstSchema, r.dstName)
	if err != nil {
		return nil, err
	}
	r.partitioned = partitioned
	if r.standalone, err = standaloneTable(ctx, dst, r.dstSchema, r.dstName); err != nil {
		return nil, err
	}
	if newColumns == NewColumnsAdd {
		if missing, absent := renameShaped(m, tcols); len(missing) > 0 && len(absent) > 0 {
			return nil, fmt.Errorf("source table %s has column(s) %s that target table %s lacks, and rows without its column(s) %s: a rename (or a drop and an add) on the source, which adding the column would get wrong; sync repairs the schema drift (policy.on_schema_drift = \"apply\") and starts the applier again",
				pgx.Identifier{r.srcSchema, r.srcName}.Sanitize(), strings.Join(missing, ", "), r.target, strings.Join(absent, ", "))
		}
	}
	for _, c := range m.Columns {
		tc, ok := tcols[c.Name]
		if !ok && newColumns == NewColumnsAdd {
			typ, err := addColumn(ctx, dst, r.target, c)
			if err != nil {
				return nil, err
			}
			tc, ok = targetColumn{typ: typ}, true
		}
		if !ok && newColumns == NewColumnsIgnore && (c.Flags&1 == 0 || m.ReplicaIdentity == 'f') {
			r.cols = append(r.cols, column{name: c.Name, quoted: pgx.Identifier{c.Name}.Sanitize(), missing: true})
			continue
		}
		if !ok {
			return nil, fmt.Errorf("source table %s has column %q that target table %s lacks: add the column on the target (or let apply repair the schema drift, policy.on_schema_drift = \"apply\") and restart the sync",
				pgx.Identifier{r.srcSchema, r.srcName}.Sanitize(), c.Name, r.target)
		}
		col := column{
			name: c.Name, quoted: pgx.Identifier{c.Name}.Sanitize(), key: c.Flags&1 != 0,
			write: !tc.generated, identityAlways: tc.identityAlways, textCompare: tc.textCompare, typ: tc.typ,
		}
		if col.write && col.identityAlways {
			r.overriding = true
		}
		r.cols = append(r.cols, col)
	}
	return r, nil
}

// renameShaped returns the columns of a relation message that the target
// table lacks and the target's writable columns the message lacks, by
// name (sorted): both at once is what a rename on the source looks like.
func renameShaped(m *pglogrepl.RelationMessage, tcols map[string]targetColumn) (missing, absent []string) {
	sent := map[string]bool{}
	for _, c := range m.Columns {
		sent[c.Name] = true
		if _, ok := tcols[c.Name]; !ok {
			missing = append(missing, strconv.Quote(c.Name))
		}
	}
	for name, tc := range tcols {
		if !sent[name] && !tc.generated {
			absent = append(absent, strconv.Quote(name))
		}
	}
	sort.Strings(missing)
	sort.Strings(absent)
	return missing, absent
}

// textCompareTypes have no default equality (or one that is not value
// equality, like box's area comparison): FULL identity compares their text.
var textCompareTypes = []string{"json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"}

// standaloneTable reports whether rows of the target table are independent
// of every other table during apply: a plain table (not partitioned, not a
// partition, no inheritance parent or child), without rules or row level
// security, with no trigger that fires in this session (foreign key checks
// and ordinary triggers do not fire when session_replication_role is
// replica; triggers enabled ALWAYS or REPLICA do). Then the order of its
// changes relative to another standalone table's within one target
// transaction changes nothing, and only the order per table is kept.
func standaloneTable(ctx context.Context, dst *pgx.Conn, schema, table string) (bool, error) {
	var ok bool
	err := dst.QueryRow(ctx, `SELECT c.relkind = 'r' AND NOT c.relispartition AND NOT c.relhassubclass
		AND NOT c.relhasrules AND NOT c.relrowsecurity
		AND current_setting('session_replication_role') = 'replica'
		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid)
		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid AND t.tgenabled IN ('A', 'R'))
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2`, schema, table).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up triggers and inheritance of target table %s: %w", pgx.Identifier{schema, table}.Sanitize(), err)
	}
	return ok, nil
}

// targetColumns reads the columns of the target table.
func targetColumns(ctx context.Context, dst *pgx.Conn, schema, table string) (map[string]targetColumn, bool, error) {
	name := pgx.Identifier{schema, table}.Sanitize()
	var relkind string
	var hasGenerated bool
	err := dst.QueryRow(ctx, `SELECT c.relkind::text,
		EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = 'pg_catalog.pg_attribute'::regclass AND attname = 'attgenerated')
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, schema, table).Scan(&relkind, &hasGenerated)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, fmt.Errorf("target table %s does not exist: create it (apply creates the schema) and restart the sync", name)
	}
	if err != nil {
		return nil, false, fmt.Errorf("look up target table %s: %w", name, err)
	}
	generated := "false"
	if hasGenerated {
		generated = "a.attgenerated <> ''"
	}
	quoted := make([]string, len(textCompareTypes))
	for i, t := range textCompareTypes {
		quoted[i] = "'" + t + "'"
	}
	rows, err := dst.Query(ctx, `SELECT a.attname::text, `+generated+`, a.attidentity = 'a',
		COALESCE(e.typname, b.typname)::text IN (`+strings.Join(quoted, ", ")+`),
		pg_catalog.format_type(a.atttypid, a.atttypmod)
		FROM pg_catalog.pg_attribute a
		JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
		JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
		LEFT JOIN pg_catalog.pg_type e ON e.oid = b.typelem AND b.typcategory = 'A'
		WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`, schema, table)
	if err != nil {
		return nil, false, fmt.Errorf("list columns of target table %s: %w", name, err)
	}
	out := map[string]targetColumn{}
	for rows.Next() {
		var n string
		var tc targetColumn
		if err := rows.Scan(&n, &tc.generated, &tc.identityAlways, &tc.textCompare, &tc.typ); err != nil {
			rows.Close()
			return nil, false, fmt.Errorf("list columns of target table %s: %w", name, err)
		}
		out[n] = tc
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list columns of target table %s: %w", name, err)
	}
	return out, relkind == "p", nil
}

// sourceName is the relation's quoted source name, for errors.
func (r *relation) sourceName() string {
	return pgx.Identifier{r.srcSchema, r.srcName}.Sanitize()
}

// insertColumns are the indexes of the columns an insert of tuple writes.
func (r *relation) insertColumns(tuple *pglogrepl.TupleData) ([]int, error) {
	if tuple == nil || len(tuple.Columns) != len(r.cols) {
		return nil, fmt.Errorf("insert into %s: the tuple does not match the relation's %d columns", r.sourceName(), len(r.cols))
	}
	var idx []int
	for i, c := range r.cols {
		if c.write && tuple.Columns[i].DataType != pglogrepl.TupleDataTypeToast {
			idx = append(idx, i)
		}
	}
	return idx, nil
}

// insertSQL is a multi-row INSERT of rows rows into the columns idx (of
// the rows that pass the filter, when the applier filters the table).
func (r *relation) insertSQL(idx []int, rows int) string {
	if r.filter != "" {
		var b strings.Builder
		b.WriteString(r.insertHead(idx))
		b.WriteString(" SELECT ")
		b.WriteString(r.columnList(idx))
		b.WriteString(" FROM (VALUES ")
		n := 1
		for row := 0; row < rows; row++ {
			if row > 0 {
				b.WriteString(", ")
			}
			b.WriteString(r.valuesRow(idx, &n))
		}
		b.WriteString(") AS ")
		b.WriteString(r.filterAlias(idx))
		b.WriteString(" WHERE (\n")
		b.WriteString(r.filter)
		b.WriteString("\n)")
		return b.String()
	}
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(r.target)
	b.WriteString(" (")
	for i, c := range idx {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.cols[c].quoted)
	}
	b.WriteString(")")
	if r.overriding {
		b.WriteString(" OVERRIDING SYSTEM VALUE")
	}
	b.WriteString(" VALUES ")
	n := 1
	for row := 0; row < rows; row++ {
		if row > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		for i := range idx {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("$" + strconv.Itoa(n))
			n++
		}
		b.WriteString(")")
	}
	return b.String()
}

// value is a tuple column as a text-format parameter (nil: NULL).
func value(c *pglogrepl.TupleDataColumn) []byte {
	if c.DataType == pglogrepl.TupleDataTypeNull {
		return nil
	}
	return c.Data
}

// whereClause matches the row an UPDATE or DELETE addresses: by the key
// columns of old (the old key or, for FULL identity, the whole old row) or,
// when old is nil, by the key columns of the new tuple. Parameters start at
// $first; it returns the clause and its values.
func (r *relation) whereClause(old, newTuple *pglogrepl.TupleData, first int) (string, [][]byte, error) {
	tuple := old
	full := r.identity == 'f' && old != nil
	if tuple == nil {
		tuple = newTuple
	}
	if tuple == nil || len(tuple.Columns) != len(r.cols) {
		return "", nil, fmt.Errorf("change of %s: the tuple does not match the relation's %d columns", r.sourceName(), len(r.cols))
	}
	var conds []string
	var vals [][]byte
	n := first
	for i, c := range r.cols {
		tc := tuple.Columns[i]
		if c.missing {
			continue
		}
		if full {
			if tc.DataType == pglogrepl.TupleDataTypeToast {
				continue
			}
		} else if !c.key {
			continue
		}
		ref := c.quoted
		param := "$" + strconv.Itoa(n)
		op := " = "
		if full {
			op = " IS NOT DISTINCT FROM "
		}
		if c.textCompare {
			ref += "::text"
			param += "::text"
		}
		conds = append(conds, ref+op+param)
		vals = append(vals, value(tc))
		n++
	}
	if len(conds) == 0 {
		return "", nil, fmt.Errorf("change of %s: no replica identity columns: give the source table a primary key or REPLICA IDENTITY FULL", r.sourceName())
	}
	cond := strings.Join(conds, " AND ")
	if !full {
		return cond, vals, nil
	}
	// FULL identity: exactly one of possibly several equal rows.
	if r.partitioned {
		return "(tableoid, ctid) = (SELECT tableoid, ctid FROM " + r.target + " WHERE " + cond + " LIMIT 1)", vals, nil
	}
	return "ctid = (SELECT ctid FROM ONLY " + r.target + " WHERE " + cond + " LIMIT 1)", vals, nil
}

// updateSQL is the UPDATE of one change: it sets only the columns the
// source sent (an unchanged TOASTed value is left as it is) and that the
// target writes. ok is false when there is nothing to set.
func (r *relation) updateSQL(m *pglogrepl.UpdateMessage) (sql string, vals [][]byte, ok bool, err error) {
	if m.NewTuple == nil || len(m.NewTuple.Columns) != len(r.cols) {
		return "", nil, false, fmt.Errorf("update of %s: the tuple does not match the relation's %d columns", r.sourceName(), len(r.cols))
	}
	var sets []string
	for i, c := range r.cols {
		tc := m.NewTuple.Columns[i]
		if !c.write || c.identityAlways || tc.DataType == pglogrepl.TupleDataTypeToast {
			continue
		}
		vals = append(vals, value(tc))
		sets = append(sets, c.quoted+" = $"+strconv.Itoa(len(vals)))
	}
	if len(sets) == 0 {
		return "", nil, false, nil
	}
	var old *pglogrepl.TupleData
	if m.OldTupleType == pglogrepl.UpdateMessageTupleTypeKey || m.OldTupleType == pglogrepl.UpdateMessageTupleTypeOld {
		old = m.OldTuple
	}
	where, wvals, err := r.whereClause(old, m.NewTuple, len(vals)+1)
	if err != nil {
		return "", nil, false, err
	}
	vals = append(vals, wvals...)
	return "UPDATE " + r.from() + " SET " + strings.Join(sets, ", ") + " WHERE " + where, vals, true, nil
}

// deleteSQL is the DELETE of one change.
func (r *relation) deleteSQL(m *pglogrepl.DeleteMessage) (string, [][]byte, error) {
	where, vals, err := r.whereClause(m.OldTuple, nil, 1)
	if err != nil {
		return "", nil, err
	}
	return "DELETE FROM " + r.from() + " WHERE " + where, vals, nil
}

// from is the target as an UPDATE or DELETE names it: ONLY the table, not
// inheritance children, unless it is partitioned.
func (r *relation) from() string {
	if r.partitioned {
		return r.target
	}
	return "ONLY " + r.target
}

// addColumn adds a source column to the target table, with the type the
// relation message names (a built-in type: user-defined types have other
// OIDs on the target).
func addColumn(ctx context.Context, dst *pgx.Conn, target string, c *pglogrepl.RelationMessageColumn) (string, error) {
	if c.DataType >= firstNormalOID {
		return "", fmt.Errorf("source column %q of %s has a user-defined type (OID %d) that the target table lacks: add the column on the target (apply repairs schema drift) and restart the sync", c.Name, target, c.DataType)
	}
	var typ string
	if err := dst.QueryRow(ctx, `SELECT pg_catalog.format_type($1, $2)`, c.DataType, c.TypeModifier).Scan(&typ); err != nil {
		return "", fmt.Errorf("type of new column %q of %s: %w", c.Name, target, err)
	}
	if _, err := dst.Exec(ctx, "ALTER TABLE "+target+" ADD COLUMN IF NOT EXISTS "+pgx.Identifier{c.Name}.Sanitize()+" "+typ); err != nil {
		return "", fmt.Errorf("add new source column %q to %s: %w", c.Name, target, err)
	}
	return typ, nil
}

// firstNormalOID is where OIDs of objects created after initdb start.
const firstNormalOID = 16384
