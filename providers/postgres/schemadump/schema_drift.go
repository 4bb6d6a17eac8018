package schemadump

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
)

// Schema drift: DDL is not replicated by PostgreSQL, so a table created on
// the source after the first apply, or a column added to a replicated
// table, has to be created on the target by database-replicator before
// the subscription needs it. See docs/planning.md, "Schema drift and
// tables added later".

// DumpTables returns the DDL that creates tables on a target that already
// holds the rest of the scope: the pre-data items (the tables, their
// owned sequences, defaults, comments and grants, plus every type,
// function, schema, ... they depend on, which may exist already) and the
// post-data items (their primary keys, indexes, constraints, foreign keys
// and triggers), each list in TOC order.
//
// scope is the whole scope of the database (so that a foreign key from a
// new table to a table already replicated is kept); tables are the tables
// to create, chosen by their catalog ids (and their partitions follow
// them). Apply the pre-data items with ApplyDDL and the post-data items
// with ApplyPostData.
func DumpTables(ctx context.Context, src conninfo.Info, scope SchemaScope, tables []QualifiedName) (pre, post []PostDataItem, err error) {
	if len(tables) == 0 {
		return nil, nil, nil
	}
	if len(scope.Tables) > 0 {
		have := map[QualifiedName]bool{}
		for _, t := range scope.Tables {
			have[t] = true
		}
		full := append([]QualifiedName{}, scope.Tables...)
		for _, t := range tables {
			if !have[t] {
				full = append(full, t)
			}
		}
		scope.Tables = full
	}
	owned, err := tableObjects(ctx, src, tables)
	if err != nil {
		return nil, nil, err
	}
	d, err := dumpSchema(ctx, src, scope)
	if err != nil {
		return nil, nil, err
	}
	byID := map[int]*tocEntry{}
	for _, e := range d.entries {
		byID[e.id] = e
	}
	// The tables' own objects, then entries without a catalog object of
	// their own (comments, grants, ...) that hang on them.
	selected := map[int]bool{}
	for _, e := range d.entries {
		if e.class != 0 && owned[objKey{e.class, e.oid}] {
			selected[e.id] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, e := range d.entries {
			if selected[e.id] || (e.class != 0 && !attachedKinds[e.kind]) {
				continue
			}
			for _, dep := range e.deps {
				if selected[dep] {
					selected[e.id], changed = true, true
					break
				}
			}
		}
	}
	if scope.Warn != nil {
		for _, w := range d.warnings {
			if selected[w.id] {
				scope.Warn(w.msg)
			}
		}
	}
	// What the new tables need that is not a table: schemas, types,
	// domains, functions, sequences, collations, extensions. Most exist on
	// the target already; ApplyDDL counts "already exists" as done.
	prereq := map[int]bool{}
	var need func(e *tocEntry)
	need = func(e *tocEntry) {
		for _, dep := range e.deps {
			p := byID[dep]
			if p == nil || p.dropped || selected[p.id] || prereq[p.id] || !d.preData[p.id] || isRelationKind(p.kind) {
				continue
			}
			prereq[p.id] = true
			need(p)
		}
	}
	for _, e := range d.entries {
		if selected[e.id] && !e.dropped {
			need(e)
		}
	}
	for _, e := range d.entries {
		if e.dropped || !selected[e.id] && !prereq[e.id] {
			continue
		}
		sql := strings.TrimSpace(e.body())
		if sql == "" {
			continue
		}
		it := PostDataItem{ID: e.id, Kind: e.kind, Name: e.name, SQL: sql}
		if d.preData[e.id] {
			pre = append(pre, it)
		} else if selected[e.id] {
			post = append(post, it)
		}
	}
	return pre, post, nil
}

// attachedKinds are entry types that are part of the object they depend
// on: they follow a new table into its DDL.
var attachedKinds = map[string]bool{
	"COMMENT": true, "ACL": true, "SECURITY LABEL": true, "SEQUENCE OWNED BY": true, "DEFAULT": true,
	"INDEX ATTACH": true, "TABLE ATTACH": true, "ROW SECURITY": true, "STATISTICS": true,
}

// isRelationKind reports whether a TOC entry type creates a relation
// other than a sequence: those are never pulled in as prerequisites.
func isRelationKind(kind string) bool {
	switch kind {
	case "TABLE", "FOREIGN TABLE", "VIEW", "MATERIALIZED VIEW", "TABLE ATTACH", "TABLE DATA":
		return true
	}
	return false
}

// tableObjects returns the catalog objects that belong to tables: the
// tables, their partitions (of partitioned tables), indexes, constraints,
// triggers, column defaults, rules, policies and owned sequences.
func tableObjects(ctx context.Context, src conninfo.Info, tables []QualifiedName) (map[objKey]bool, error) {
	conn, err := conninfo.Connect(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("list the objects of the new tables: %w", err)
	}
	defer conn.Close(context.Background())
	schemas := make([]string, len(tables))
	names := make([]string, len(tables))
	for i, t := range tables {
		schemas[i], names[i] = t.Schema, t.Name
	}
	rows, err := conn.Query(ctx, `
		WITH RECURSIVE t(oid) AS (
		  SELECT c.oid FROM unnest($1::text[], $2::text[]) AS x(s, r)
		    JOIN pg_catalog.pg_namespace n ON n.nspname = x.s
		    JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = x.r
		  UNION
		  SELECT i.inhrelid FROM pg_catalog.pg_inherits i
		    JOIN t ON t.oid = i.inhparent
		    JOIN pg_catalog.pg_class p ON p.oid = i.inhparent AND p.relkind = 'p'
		), ids AS (SELECT array_agg(oid) AS a FROM t)
		SELECT 'pg_class'::regclass::oid, oid FROM t
		UNION ALL
		SELECT 'pg_class'::regclass::oid, indexrelid FROM pg_catalog.pg_index, ids WHERE indrelid = ANY(ids.a)
		UNION ALL
		SELECT 'pg_constraint'::regclass::oid, oid FROM pg_catalog.pg_constraint, ids WHERE conrelid = ANY(ids.a)
		UNION ALL
		SELECT 'pg_trigger'::regclass::oid, oid FROM pg_catalog.pg_trigger, ids WHERE tgrelid = ANY(ids.a)
		UNION ALL
		SELECT 'pg_attrdef'::regclass::oid, oid FROM pg_catalog.pg_attrdef, ids WHERE adrelid = ANY(ids.a)
		UNION ALL
		SELECT 'pg_rewrite'::regclass::oid, oid FROM pg_catalog.pg_rewrite, ids WHERE ev_class = ANY(ids.a)
		UNION ALL
		SELECT 'pg_policy'::regclass::oid, oid FROM pg_catalog.pg_policy, ids WHERE polrelid = ANY(ids.a)
		UNION ALL
		SELECT 'pg_class'::regclass::oid, d.objid
		  FROM pg_catalog.pg_depend d, ids
		  JOIN pg_catalog.pg_class s ON s.relkind = 'S'
		 WHERE s.oid = d.objid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
		   AND d.refobjid = ANY(ids.a) AND d.deptype IN ('a', 'i')`, schemas, names)
	if err != nil {
		return nil, fmt.Errorf("list the objects of the new tables: %w", err)
	}
	out := map[objKey]bool{}
	var k objKey
	if _, err := pgx.ForEachRow(rows, []any{&k.class, &k.oid}, func() error { out[k] = true; return nil }); err != nil {
		return nil, fmt.Errorf("list the objects of the new tables: %w", err)
	}
	return out, nil
}

// ColumnDef is a source column to add to an existing target table, as
// the source catalog describes it.
type ColumnDef struct {
	Table QualifiedName
	// SourceTable is the table's name on the source when it is not Table
	// (a remapped table); empty when both are the same.
	SourceTable QualifiedName
	Name        string
	// Type is format_type(atttypid, atttypmod), schema-qualified.
	Type string
	// Collation is the quoted, qualified collation when it is not the
	// type's default, else "".
	Collation string
	NotNull   bool
	// Missing is the literal (with its cast) that the source's rows older
	// than the column read (pg_attribute.attmissingval, set when the
	// column was added with a non-volatile default), "" when none.
	Missing string
	// Default is the column default as the source deparses it, "" when
	// none; for a generated column, its generation expression.
	Default string
	// Generated is attgenerated: "" or "s" (stored).
	Generated string
	// Identity is attidentity: "", "a" (ALWAYS) or "d" (BY DEFAULT).
	Identity string
}

// ColumnDefinitions reads from src's database the definitions of the
// named columns, in the tables' column order. A column that no longer
// exists on the source is an error.
func ColumnDefinitions(ctx context.Context, src conninfo.Info, columns map[QualifiedName][]string) ([]ColumnDef, error) {
	if len(columns) == 0 {
		return nil, nil
	}
	conn, err := conninfo.Connect(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("read column definitions: %w", err)
	}
	defer conn.Close(context.Background())
	// Types, defaults and literals are rendered schema-qualified, and
	// values in unambiguous formats.
	if _, err := conn.Exec(ctx, "SET search_path = pg_catalog; SET DateStyle = ISO, YMD; SET IntervalStyle = postgres; SET extra_float_digits = 3; SET TimeZone = UTC"); err != nil {
		return nil, fmt.Errorf("read column definitions: %w", err)
	}
	tables := make([]QualifiedName, 0, len(columns))
	for t := range columns {
		tables = append(tables, t)
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].String() < tables[j].String() })
	var out []ColumnDef
	for _, t := range tables {
		rows, err := conn.Query(ctx, `
			SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
			       CASE WHEN a.attcollation <> 0 AND a.attcollation <> ty.typcollation
			            THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) ELSE '' END,
			       a.attnotnull, a.atthasmissing, a.attmissingval::text,
			       COALESCE(pg_catalog.pg_get_expr(d.adbin, d.adrelid), ''), a.attgenerated::text, a.attidentity::text
			  FROM pg_catalog.pg_attribute a
			  JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
			  LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation
			  LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace
			  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			 WHERE a.attrelid = $1::regclass AND a.attname = ANY($2) AND a.attnum > 0 AND NOT a.attisdropped
			 ORDER BY a.attnum`, t.String(), columns[t])
		if err != nil {
			return nil, fmt.Errorf("read the columns of %s: %w", t, err)
		}
		var defs []ColumnDef
		var hasMissing bool
		var missing *string
		c := ColumnDef{Table: t}
		_, err = pgx.ForEachRow(rows, []any{&c.Name, &c.Type, &c.Collation, &c.NotNull, &hasMissing, &missing, &c.Default, &c.Generated, &c.Identity}, func() error {
			d := c
			if hasMissing && missing != nil {
				d.Missing = *missing // the array literal; resolved below
			}
			defs = append(defs, d)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read the columns of %s: %w", t, err)
		}
		if len(defs) != len(columns[t]) {
			var names []string
			for _, d := range defs {
				names = append(names, d.Name)
			}
			return nil, fmt.Errorf("read the columns of %s: found %v of %v on the source (dropped since the plan?): run plan again", t, names, columns[t])
		}
		for i := range defs {
			if defs[i].Missing == "" {
				continue
			}
			// attmissingval is a one-element array of the column's type.
			var lit *string
			err := conn.QueryRow(ctx, "SELECT pg_catalog.quote_nullable((($1::text)::"+defs[i].Type+"[])[1]::text)", defs[i].Missing).Scan(&lit)
			if err != nil {
				return nil, fmt.Errorf("read the value older rows of %s.%s hold: %w", t, pgx.Identifier{defs[i].Name}.Sanitize(), err)
			}
			defs[i].Missing = ""
			if lit != nil && *lit != "NULL" {
				defs[i].Missing = *lit + "::" + defs[i].Type
			}
		}
		out = append(out, defs...)
	}
	return out, nil
}

// alreadyExists reports whether err says the object a DDL statement
// creates exists: a rerun after an interrupted apply, or a prerequisite
// (type, function, schema) the target already has.
func alreadyExists(err error) bool {
	switch conninfo.ErrCode(err) {
	case "42P07", "42710", "42P06", "42723": // duplicate table/object/schema/function
		return true
	}
	return false
}

// ApplyDDL creates tables (DumpTables' pre-data items) and adds columns
// on dst's database, in one transaction: all or nothing. Each item runs
// in a savepoint; an item whose object exists already counts as done (a
// rerun, or a type or function the target has). Columns are added with
// ADD COLUMN IF NOT EXISTS:
//
//   - with the source's type and collation;
//   - filled, in the rows the target already has, with the value the
//     source's older rows read (attmissingval: the column was added with
//     a non-volatile default and the table not rewritten since), so both
//     sides hold the same rows; without one (added without a default,
//     with a volatile one, or the table was rewritten since: its rows
//     store their values) from the source's rows, matched by primary key
//     in the same transaction (see backfill);
//   - NOT NULL when the source column is, unless target rows would be
//     NULL (a table without a primary key, whose rows cannot be filled):
//     then it stays nullable, with a warning;
//   - with the source's default when the target can evaluate it (it may
//     call a function or use a sequence the target lacks: then none, with
//     a warning). Replicated rows always carry every column, so the
//     default only matters for writes on the target after a cutover;
//   - a stored generated column is added generated (the subscription does
//     not send generated columns; the target computes them); an identity
//     column is added as a plain column, with a warning.
//
// warn receives the warnings; it may be nil.
func ApplyDDL(ctx context.Context, src, dst conninfo.Info, items []PostDataItem, columns []ColumnDef, warn func(string)) error {
	if len(items) == 0 && len(columns) == 0 {
		return nil
	}
	if warn == nil {
		warn = func(string) {}
	}
	conn, err := conninfo.Connect(ctx, dst)
	if err != nil {
		return fmt.Errorf("apply schema drift: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, postDataSession); err != nil {
		return fmt.Errorf("apply schema drift: prepare session: %w", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("apply schema drift: %w", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	// try runs sql in a savepoint and reports whether it succeeded; the
	// error is returned only when it is not one tolerated by ok.
	try := func(sql string, ok func(error) bool) (bool, error) {
		if _, err := tx.Exec(ctx, "SAVEPOINT drift"); err != nil {
			return false, err
		}
		if _, err := tx.Exec(ctx, sql); err != nil {
			if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT drift"); rerr != nil {
				return false, errors.Join(err, rerr)
			}
			if ok(err) {
				return false, nil
			}
			return false, err
		}
		_, err := tx.Exec(ctx, "RELEASE SAVEPOINT drift")
		return err == nil, err
	}
	never := func(error) bool { return false }
	always := func(error) bool { return true }
	for _, it := range items {
		if _, err := try(it.SQL, alreadyExists); err != nil {
			return fmt.Errorf("apply schema drift: %s %q: %w", it.Kind, it.Name, err)
		}
	}
	// Columns the source's older rows do not read from attmissingval
	// (added without a default, with a volatile one, or rewritten since)
	// are filled from the source's rows, per table.
	fill := map[QualifiedName][]ColumnDef{}
	for _, c := range columns {
		tbl := c.Table.String()
		col := pgx.Identifier{c.Name}.Sanitize()
		def := col + " " + c.Type
		if c.Collation != "" {
			def += " COLLATE " + c.Collation
		}
		notNullInline := false
		switch {
		case c.Generated == "s":
			def += " GENERATED ALWAYS AS (" + c.Default + ") STORED"
			notNullInline = c.NotNull
		case c.Missing != "":
			def += " DEFAULT " + c.Missing
			notNullInline = c.NotNull
		}
		if notNullInline {
			def += " NOT NULL"
		}
		if _, err := try("ALTER TABLE "+tbl+" ADD COLUMN IF NOT EXISTS "+def, never); err != nil {
			return fmt.Errorf("apply schema drift: add column %s to %s: %w", col, tbl, err)
		}
		if c.Generated == "" && c.Missing == "" {
			fill[c.Table] = append(fill[c.Table], c)
		}
	}
	if err := backfillAll(ctx, tx, src, fill, warn); err != nil {
		return fmt.Errorf("apply schema drift: %w", err)
	}
	for _, c := range columns {
		tbl := c.Table.String()
		col := pgx.Identifier{c.Name}.Sanitize()
		notNullInline := c.NotNull && (c.Generated == "s" || c.Missing != "")
		if c.Generated == "s" {
			continue
		}
		if c.NotNull && !notNullInline {
			ok, err := try("ALTER TABLE "+tbl+" ALTER COLUMN "+col+" SET NOT NULL", always)
			if err != nil {
				return fmt.Errorf("apply schema drift: %s.%s NOT NULL: %w", tbl, col, err)
			}
			if !ok {
				warn(fmt.Sprintf("%s.%s is NOT NULL on the source, but rows on the target have no value for it (they could not be filled from the source's rows): it stays nullable on the target", tbl, col))
			}
		}
		switch {
		case c.Identity != "":
			warn(fmt.Sprintf("%s.%s is an identity column on the source; it is added as a plain column on the target (replicated rows carry its values)", tbl, col))
			fallthrough
		case c.Default == "":
			if c.Missing != "" {
				if _, err := try("ALTER TABLE "+tbl+" ALTER COLUMN "+col+" DROP DEFAULT", never); err != nil {
					return fmt.Errorf("apply schema drift: %s.%s DROP DEFAULT: %w", tbl, col, err)
				}
			}
		default:
			ok, err := try("ALTER TABLE "+tbl+" ALTER COLUMN "+col+" SET DEFAULT "+c.Default, always)
			if err != nil {
				return fmt.Errorf("apply schema drift: %s.%s SET DEFAULT: %w", tbl, col, err)
			}
			if !ok {
				warn(fmt.Sprintf("the default of %s.%s (%s) cannot be set on the target (it uses an object the target lacks): the column has no default there", tbl, col, c.Default))
				if c.Missing != "" {
					if _, err := try("ALTER TABLE "+tbl+" ALTER COLUMN "+col+" DROP DEFAULT", never); err != nil {
						return fmt.Errorf("apply schema drift: %s.%s DROP DEFAULT: %w", tbl, col, err)
					}
				}
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("apply schema drift: commit: %w", err)
	}
	return nil
}
