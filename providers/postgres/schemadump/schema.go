package schemadump

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtool"
	"github.com/jackc/pgx/v5"
)

// QualifiedName is a schema-qualified object name, both parts literal
// (as the catalogs store them, never quoted).
type QualifiedName struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
}

// String renders the quoted name, e.g. public."Order Items".
func (q QualifiedName) String() string { return pgx.Identifier{q.Schema, q.Name}.Sanitize() }

// SchemaScope chooses the tables whose schema is dumped.
type SchemaScope struct {
	// Tables are the tables in scope; nil (or empty) means every table of
	// the database. The partitions of a partitioned table in scope are in
	// scope too. Tables outside the scope are left out with everything
	// that belongs to them (defaults, indexes, constraints, triggers,
	// rules, policies, comments, grants, owned sequences) and every object
	// that depends on them (views, foreign keys that point at them, ...).
	// Types, functions, schemas, extensions and other sequences are always
	// dumped: in-scope tables may need them.
	Tables []QualifiedName
	// SchemaOnly makes the dump cover every table regardless of Tables
	// (tables outside Tables are created, but get no data elsewhere).
	SchemaOnly bool
	// Warn receives a message for every object left out although it is
	// not part of an out-of-scope table (a foreign key of an in-scope
	// table pointing outside, a view over an out-of-scope table); may be
	// nil.
	Warn func(msg string)
	// EntriesPerTransaction, when above 0, makes a pre-data dump commit
	// after every that many objects ("COMMIT; BEGIN;" between them), for
	// a restore whose single transaction would need more locks than the
	// target's lock table holds (LockBudget). 0: one transaction.
	EntriesPerTransaction int
}

// Sections of a schema dump.
const (
	SectionPreData  = "pre-data"
	SectionPostData = "post-data"
)

// PostDataItem is one post-data object (index, constraint, trigger,
// ...) of a schema dump, ready to run on its own.
type PostDataItem struct {
	// ID is the dump's TOC id: items are in TOC (dependency) order.
	ID int `json:"id"`
	// Kind is the TOC entry type: INDEX, CONSTRAINT, CHECK CONSTRAINT,
	// FK CONSTRAINT, INDEX ATTACH, TRIGGER, RULE, POLICY, COMMENT, ...
	Kind string `json:"kind"`
	// Name is the TOC entry's name, e.g. "orders orders_pkey", for
	// messages.
	Name string `json:"name"`
	// SQL is the statement(s), schema-qualified (run with an empty
	// search_path).
	SQL string `json:"sql"`
	// Table is the table an index or a constraint belongs to (empty for
	// other items), so that a table's indexes can be built as soon as its
	// rows are copied.
	Table QualifiedName `json:"table,omitempty"`
	// Constraint is a constraint's name; Partitioned is true when its
	// table is partitioned (a foreign key there cannot be NOT VALID).
	Constraint  string `json:"constraint,omitempty"`
	Partitioned bool   `json:"partitioned,omitempty"`
}

// BuildsWithTable reports whether the item can run as soon as its table is
// copied: an index, or a primary key, unique, check or exclusion
// constraint (not a foreign key, which needs its other table too).
func (it PostDataItem) BuildsWithTable() bool {
	return it.Table.Name != "" && (it.Kind == "INDEX" || it.Kind == "CONSTRAINT" || it.Kind == "CHECK CONSTRAINT")
}

// DumpSchema writes the SQL of one section (SectionPreData or
// SectionPostData) of the schema of src's database to w, restricted to
// scope. It runs `pg_dump --format=custom --schema-only` (owners kept,
// publications and subscriptions left out) into memory, decides what to
// leave out from the catalogs' OIDs and the dump's dependency graph (never
// from names, so no name needs pattern quoting), and renders the kept
// entries with pg_restore. Apply the result with ApplySQL.
func DumpSchema(ctx context.Context, src conninfo.Info, section string, scope SchemaScope, w io.Writer) error {
	if section != SectionPreData && section != SectionPostData {
		return fmt.Errorf("dump schema: unknown section %q (want %q or %q)", section, SectionPreData, SectionPostData)
	}
	d, err := dumpSchema(ctx, src, scope)
	if err != nil {
		return err
	}
	d.warn(section == SectionPreData, scope.Warn)
	bw := bufio.NewWriter(w)
	bw.WriteString(d.preamble)
	written := 0
	for _, e := range d.entries {
		if e.dropped || (section == SectionPreData) != d.preData[e.id] {
			bw.WriteString(e.keepLines())
			continue
		}
		if n := scope.EntriesPerTransaction; n > 0 && written > 0 && written%n == 0 {
			bw.WriteString("\nCOMMIT;\nBEGIN;\n")
		}
		bw.WriteString(e.text)
		written++
	}
	bw.WriteString(d.trailer)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dump schema: write: %w", err)
	}
	return nil
}

// DumpPostData returns the post-data items (indexes, constraints,
// triggers, ...) of src's database restricted to scope, in TOC order, for
// ApplyPostData.
func DumpPostData(ctx context.Context, src conninfo.Info, scope SchemaScope) ([]PostDataItem, error) {
	d, err := dumpSchema(ctx, src, scope)
	if err != nil {
		return nil, err
	}
	d.warn(false, scope.Warn)
	var items []PostDataItem
	var keys []objKey
	for _, e := range d.entries {
		if e.dropped || d.preData[e.id] {
			continue
		}
		sql := strings.TrimSpace(e.body())
		if sql == "" {
			continue
		}
		items = append(items, PostDataItem{ID: e.id, Kind: e.kind, Name: e.name, SQL: sql})
		keys = append(keys, objKey{e.class, e.oid})
	}
	owners, err := ownerTables(ctx, src, keys)
	if err != nil {
		return nil, fmt.Errorf("dump post-data of %s: %w", src.Redacted(), err)
	}
	for i := range items {
		o := owners[keys[i]]
		items[i].Table, items[i].Constraint, items[i].Partitioned = o.table, o.constraint, o.partitioned
	}
	return items, nil
}

// owner is the table (and constraint name) of a post-data item.
type owner struct {
	table       QualifiedName
	constraint  string
	partitioned bool
}

// ownerTables finds the table of each index and constraint among keys.
func ownerTables(ctx context.Context, src conninfo.Info, keys []objKey) (map[objKey]owner, error) {
	var indexes, constraints []uint32
	for _, k := range keys {
		switch k.class {
		case pgClassOID:
			indexes = append(indexes, k.oid)
		case pgConstraintOID:
			constraints = append(constraints, k.oid)
		}
	}
	out := map[objKey]owner{}
	if len(indexes)+len(constraints) == 0 {
		return out, nil
	}
	conn, err := conninfo.Connect(ctx, src)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT 'pg_class'::regclass::oid, i.indexrelid, n.nspname, c.relname, '', c.relkind = 'p'
		  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
		  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		 WHERE i.indexrelid = ANY($1)
		UNION ALL
		SELECT 'pg_constraint'::regclass::oid, k.oid, n.nspname, c.relname, k.conname, c.relkind = 'p'
		  FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
		  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		 WHERE k.oid = ANY($2)`, indexes, constraints)
	if err != nil {
		return nil, fmt.Errorf("tables of indexes and constraints: %w", err)
	}
	var k objKey
	var o owner
	if _, err := pgx.ForEachRow(rows, []any{&k.class, &k.oid, &o.table.Schema, &o.table.Name, &o.constraint, &o.partitioned}, func() error {
		out[k] = o
		return nil
	}); err != nil {
		return nil, fmt.Errorf("tables of indexes and constraints: %w", err)
	}
	return out, nil
}

// tocEntry is one entry of a rendered dump.
type tocEntry struct {
	id       int
	class    uint32 // catalog of the object (pg_class, pg_constraint, ...)
	oid      uint32
	deps     []int
	kind     string
	name     string
	schema   string // "" or "-" for objects outside schemas
	text     string // header and body, as rendered
	bodyFrom int    // offset of the body in text
	dropped  bool
}

// qualified names the entry for messages: schema.name, quoted.
func (e *tocEntry) qualified() string {
	if e.schema == "" || e.schema == "-" {
		return pgx.Identifier{e.name}.Sanitize()
	}
	return pgx.Identifier{e.schema, e.name}.Sanitize()
}

// body returns the entry's SQL without its header comment and without
// psql meta-commands.
func (e *tocEntry) body() string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(e.text[e.bodyFrom:], "\n") {
		if strings.HasPrefix(l, `\`) {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}

// keepLines returns what of an entry that is left out must stay: psql
// meta-commands (\unrestrict) and session SETs.
func (e *tocEntry) keepLines() string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(e.text[e.bodyFrom:], "\n") {
		if strings.HasPrefix(l, `\`) || strings.HasPrefix(l, "SET ") {
			b.WriteString(l)
			if !strings.HasSuffix(l, "\n") {
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}

// schemaDump is a parsed, filtered schema dump.
type schemaDump struct {
	preamble string
	entries  []*tocEntry
	trailer  string
	preData  map[int]bool // TOC ids of the pre-data section
	warnings []entryWarning
}

// entryWarning says why an entry was left out.
type entryWarning struct {
	id  int
	msg string
}

// warn hands the warnings of one section's entries to fn (when not nil).
func (d *schemaDump) warn(preData bool, fn func(string)) {
	if fn == nil {
		return
	}
	for _, w := range d.warnings {
		if d.preData[w.id] == preData {
			fn(w.msg)
		}
	}
}

// catalog OIDs of the system catalogs the filter looks at (fixed since
// forever, as genbki assigns them).
const (
	pgClassOID      = 1259
	pgConstraintOID = 2606
	pgTriggerOID    = 2620
	pgAttrdefOID    = 2604
	pgRewriteOID    = 2618
	pgPolicyOID     = 3256
)

// keepObject marks, in the map outOfScope returns, an object that stays
// even though it depends on something left out.
const keepObject = "keep"

// objKey identifies a catalog object.
type objKey struct{ class, oid uint32 }

// dumpSchema dumps, parses and filters the schema of src's database.
func dumpSchema(ctx context.Context, src conninfo.Info, scope SchemaScope) (*schemaDump, error) {
	conn, err := conninfo.Connect(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("dump schema: %w", err)
	}
	defer conn.Close(context.Background())
	version, err := conninfo.ServerVersionNum(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("dump schema: %w", err)
	}
	var drop map[objKey]string // object → warning ("" for none)
	if len(scope.Tables) > 0 && !scope.SchemaOnly {
		if drop, err = outOfScope(ctx, conn, scope.Tables); err != nil {
			return nil, fmt.Errorf("dump schema of %s: %w", src.Redacted(), err)
		}
	}
	conn.Close(context.Background())

	pgDump, err := pgtool.FindDumpTool(ctx, "pg_dump", version)
	if err != nil {
		return nil, fmt.Errorf("dump schema: %w", err)
	}
	pgRestore, err := pgtool.Sibling(pgDump, "pg_restore")
	if err != nil {
		return nil, fmt.Errorf("dump schema: %w", err)
	}
	var archive bytes.Buffer
	err = pgtool.Run(ctx, pgtool.Command{Path: pgDump, Name: "pg_dump", Info: src, Stdout: &archive, Args: []string{
		"--format=custom", "--schema-only", "--no-publications", "--no-subscriptions",
		"--encoding=UTF8", "--compress=0",
	}})
	if err != nil {
		return nil, fmt.Errorf("dump schema: %w", err)
	}
	var rendered, list bytes.Buffer
	if err := pgtool.Run(ctx, pgtool.Command{Path: pgRestore, Name: "pg_restore", Stdin: bytes.NewReader(archive.Bytes()), Stdout: &rendered,
		Args: []string{"--verbose", "--file=-"}}); err != nil {
		return nil, fmt.Errorf("dump schema: render: %w", err)
	}
	if err := pgtool.Run(ctx, pgtool.Command{Path: pgRestore, Name: "pg_restore", Stdin: bytes.NewReader(archive.Bytes()), Stdout: &list,
		Args: []string{"--list", "--section=" + SectionPreData}}); err != nil {
		return nil, fmt.Errorf("dump schema: list: %w", err)
	}
	d, err := parseRenderedDump(rendered.String())
	if err != nil {
		return nil, fmt.Errorf("dump schema: %w", err)
	}
	if d.preData, err = parseTOCList(list.String()); err != nil {
		return nil, fmt.Errorf("dump schema: %w", err)
	}
	d.leaveOutOwnObjects()
	if d.warnings, err = d.filter(drop); err != nil {
		return nil, fmt.Errorf("dump schema of %s: %w", src.Redacted(), err)
	}
	return d, nil
}

// outOfScope returns the catalog objects to leave out: tables not in
// scope and what belongs to them (indexes, constraints, triggers,
// defaults, rules, policies, identity sequences), plus foreign keys of
// in-scope tables that point outside (with a warning). Sequences OWNED BY
// an out-of-scope table (serial) map to keepObject: in-scope defaults may
// use them, and a plain CREATE SEQUENCE needs nothing else.
func outOfScope(ctx context.Context, conn *pgx.Conn, tables []QualifiedName) (map[objKey]string, error) {
	// regclass output qualified with the schema in messages
	if _, err := conn.Exec(ctx, "SET search_path = pg_catalog"); err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'f')
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	all := map[QualifiedName]uint32{}
	var oid uint32
	var q QualifiedName
	if _, err := pgx.ForEachRow(rows, []any{&oid, &q.Schema, &q.Name}, func() error { all[q] = oid; return nil }); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	in := map[QualifiedName]bool{}
	var missing []string
	for _, t := range tables {
		if _, ok := all[t]; !ok {
			missing = append(missing, t.String())
		}
		in[t] = true
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("table(s) in scope not found in the source database: %s", strings.Join(missing, ", "))
	}
	// Partitions follow their partitioned table into the scope (its rows
	// live in them).
	rows, err = conn.Query(ctx, `SELECT i.inhrelid, i.inhparent FROM pg_catalog.pg_inherits i
		JOIN pg_catalog.pg_class p ON p.oid = i.inhparent AND p.relkind = 'p'`)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	children := map[uint32][]uint32{}
	var child, parent uint32
	if _, err := pgx.ForEachRow(rows, []any{&child, &parent}, func() error {
		children[parent] = append(children[parent], child)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list partitions: %w", err)
	}
	inOID := map[uint32]bool{}
	var walk func(uint32)
	walk = func(o uint32) {
		if inOID[o] {
			return
		}
		inOID[o] = true
		for _, c := range children[o] {
			walk(c)
		}
	}
	for t := range in {
		walk(all[t])
	}
	drop := map[objKey]string{}
	var out []uint32
	for _, oid := range all {
		if !inOID[oid] {
			out = append(out, oid)
			drop[objKey{pgClassOID, oid}] = ""
		}
	}
	if len(out) == 0 {
		return drop, nil
	}
	rows, err = conn.Query(ctx, `
		SELECT 'pg_class'::regclass::oid, indexrelid, '' FROM pg_catalog.pg_index WHERE indrelid = ANY($1)
		UNION ALL
		SELECT 'pg_constraint'::regclass::oid, oid,
		       CASE WHEN conrelid <> ALL($1) THEN
		         pg_catalog.format('leaving out foreign key %I of %s: it references %s, which is outside the scope',
		           conname, conrelid::regclass, confrelid::regclass)
		       ELSE '' END
		  FROM pg_catalog.pg_constraint WHERE conrelid = ANY($1) OR confrelid = ANY($1)
		UNION ALL
		SELECT 'pg_trigger'::regclass::oid, oid, '' FROM pg_catalog.pg_trigger WHERE tgrelid = ANY($1)
		UNION ALL
		SELECT 'pg_attrdef'::regclass::oid, oid, '' FROM pg_catalog.pg_attrdef WHERE adrelid = ANY($1)
		UNION ALL
		SELECT 'pg_rewrite'::regclass::oid, oid, '' FROM pg_catalog.pg_rewrite WHERE ev_class = ANY($1)
		UNION ALL
		SELECT 'pg_policy'::regclass::oid, oid, '' FROM pg_catalog.pg_policy WHERE polrelid = ANY($1)
		UNION ALL
		SELECT 'pg_class'::regclass::oid, d.objid, CASE d.deptype WHEN 'a' THEN 'keep' ELSE '' END
		  FROM pg_catalog.pg_depend d
		  JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S'
		 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
		   AND d.refobjid = ANY($1) AND d.deptype IN ('a', 'i')`, out)
	if err != nil {
		return nil, fmt.Errorf("list objects of out-of-scope tables: %w", err)
	}
	var class uint32
	var warn string
	if _, err := pgx.ForEachRow(rows, []any{&class, &oid, &warn}, func() error {
		drop[objKey{class, oid}] = warn
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list objects of out-of-scope tables: %w", err)
	}
	return drop, nil
}

// OwnSchema is the tool's schema. A source may hold one (the log and
// event triggers of policy.capture_ddl, or, after a cutover, what the
// tool kept there as a target); it is never copied: the tool creates its
// objects on each side itself.
const OwnSchema = "database_replicator"

// leaveOutOwnObjects marks the tool's own objects as left out: its schema
// and everything in it, and its event triggers (database_replicator_*).
// Their comments and grants follow in filter.
func (d *schemaDump) leaveOutOwnObjects() {
	for _, e := range d.entries {
		switch {
		case e.schema == OwnSchema,
			e.kind == "SCHEMA" && e.name == OwnSchema,
			e.kind == "EVENT TRIGGER" && strings.HasPrefix(e.name, OwnSchema+"_"):
			e.dropped = true
		}
	}
}

// silentDependents are entry types left out without a warning when what
// they depend on is left out and they have no catalog object of their own
// (comments, grants, ...): they are part of that object.
var silentDependents = map[string]bool{
	"COMMENT": true, "ACL": true, "SECURITY LABEL": true, "SEQUENCE OWNED BY": true,
	"DEFAULT": true, "INDEX": true, "CONSTRAINT": true, "CHECK CONSTRAINT": true,
	"TRIGGER": true, "RULE": true, "POLICY": true, "ROW SECURITY": true,
	"INDEX ATTACH": true, "TABLE ATTACH": true, "SEQUENCE": true, "STATISTICS": true,
	"MATERIALIZED VIEW DATA": true,
}

// filter marks the entries to leave out: the objects in drop, then,
// until nothing changes, every entry that depends on a left-out entry. It
// returns the warnings, in TOC order, and an error when a table in scope
// would be left out (it depends on something outside the scope).
func (d *schemaDump) filter(drop map[objKey]string) ([]entryWarning, error) {
	if len(drop) == 0 && !slices.ContainsFunc(d.entries, func(e *tocEntry) bool { return e.dropped }) {
		return nil, nil
	}
	byID := map[int]*tocEntry{}
	warnings := map[int]string{}
	for _, e := range d.entries {
		byID[e.id] = e
		if e.class == 0 {
			continue
		}
		if msg, ok := drop[objKey{e.class, e.oid}]; ok && msg != keepObject {
			e.dropped = true
			if msg != "" {
				warnings[e.id] = msg
			}
		}
	}
	// A kept serial sequence loses its OWNED BY (the owner is left out);
	// that entry depends on the sequence only.
	for _, e := range d.entries {
		if e.kind != "SEQUENCE OWNED BY" {
			continue
		}
		for _, dep := range e.deps {
			if p := byID[dep]; p != nil && p.class != 0 && drop[objKey{p.class, p.oid}] == keepObject {
				e.dropped = true
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, e := range d.entries {
			if e.dropped || (e.class != 0 && drop[objKey{e.class, e.oid}] == keepObject) {
				continue
			}
			for _, dep := range e.deps {
				if p := byID[dep]; p != nil && p.dropped {
					e.dropped, changed = true, true
					// Parts of out-of-scope tables are seeds; a catalog
					// object reached only through a dependency belongs to
					// something in scope (e.g. the default of an in-scope
					// column using an out-of-scope table's sequence).
					if !silentDependents[e.kind] || (e.class != 0 && e.kind != "MATERIALIZED VIEW DATA") {
						warnings[e.id] = fmt.Sprintf("leaving out %s %s: it depends on %s %s, which is outside the scope", e.kind, e.qualified(), p.kind, p.qualified())
					}
					break
				}
			}
		}
	}
	var out []entryWarning
	var lost []string
	for _, e := range d.entries {
		if msg, ok := warnings[e.id]; ok {
			out = append(out, entryWarning{e.id, msg})
			if e.class == pgClassOID && (e.kind == "TABLE" || e.kind == "FOREIGN TABLE") {
				lost = append(lost, msg)
			}
		}
	}
	if len(lost) > 0 {
		return out, fmt.Errorf("tables in scope depend on objects outside it; add those to the scope: %s", strings.Join(lost, "; "))
	}
	return out, nil
}

// parseRenderedDump splits pg_restore --verbose output into its preamble,
// TOC entries (each starting at its "-- TOC entry N (class C OID O)"
// header) and trailer.
func parseRenderedDump(s string) (*schemaDump, error) {
	lines := strings.SplitAfter(s, "\n")
	d := &schemaDump{}
	isHeader := func(i int) bool {
		return i+1 < len(lines) && strings.TrimRight(lines[i], "\n") == "--" && strings.HasPrefix(lines[i+1], "-- TOC entry ")
	}
	var cur *tocEntry
	var b strings.Builder
	finish := func() {
		if cur == nil {
			d.preamble = b.String()
		} else {
			cur.text = b.String()
			d.entries = append(d.entries, cur)
		}
		b.Reset()
	}
	for i := 0; i < len(lines); i++ {
		if !isHeader(i) {
			b.WriteString(lines[i])
			continue
		}
		finish()
		cur = &tocEntry{}
		b.WriteString(lines[i])
		j := i + 1
		for ; j < len(lines); j++ {
			l := strings.TrimRight(lines[j], "\n")
			b.WriteString(lines[j])
			if l == "--" {
				break
			}
			if err := cur.parseHeaderLine(l); err != nil {
				return nil, err
			}
		}
		cur.bodyFrom = b.Len()
		i = j
	}
	finish()
	// The trailer (after the last entry's SQL) is the "Completed on"
	// comment and \unrestrict: move it out of the last entry.
	if n := len(d.entries); n > 0 {
		last := d.entries[n-1]
		if k := strings.Index(last.text[last.bodyFrom:], "-- Completed on"); k >= 0 {
			d.trailer = last.text[last.bodyFrom+k:]
			last.text = last.text[:last.bodyFrom+k]
		} else if k := strings.Index(last.text[last.bodyFrom:], "\n--\n-- PostgreSQL database dump complete"); k >= 0 {
			d.trailer = last.text[last.bodyFrom+k:]
			last.text = last.text[:last.bodyFrom+k]
		}
	}
	if len(d.entries) == 0 && strings.Contains(s, "CREATE ") {
		return nil, errors.New("pg_restore output has no TOC entry headers (was --verbose ignored?)")
	}
	return d, nil
}

// parseHeaderLine reads one line of an entry's header comment.
func (e *tocEntry) parseHeaderLine(l string) error {
	switch {
	case strings.HasPrefix(l, "-- TOC entry "):
		// -- TOC entry 216 (class 1259 OID 16391)
		f := strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(l[len("-- TOC entry "):]))
		if len(f) < 5 || f[1] != "class" || f[3] != "OID" {
			return fmt.Errorf("unexpected TOC header %q", l)
		}
		id, err1 := strconv.Atoi(f[0])
		class, err2 := strconv.ParseUint(f[2], 10, 32)
		oid, err3 := strconv.ParseUint(f[4], 10, 32)
		if err := errors.Join(err1, err2, err3); err != nil {
			return fmt.Errorf("unexpected TOC header %q: %w", l, err)
		}
		e.id, e.class, e.oid = id, uint32(class), uint32(oid)
	case strings.HasPrefix(l, "-- Dependencies: "):
		for _, f := range strings.Fields(l[len("-- Dependencies: "):]) {
			n, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("unexpected dependency list %q", l)
			}
			e.deps = append(e.deps, n)
		}
	case strings.HasPrefix(l, "-- Name: "):
		// -- Name: NAME; Type: KIND; Schema: S; Owner: O
		rest := l[len("-- Name: "):]
		t := strings.LastIndex(rest, "; Type: ")
		if t < 0 {
			return fmt.Errorf("unexpected TOC header %q", l)
		}
		e.name = rest[:t]
		kind := rest[t+len("; Type: "):]
		if k := strings.Index(kind, "; Schema: "); k >= 0 {
			sch := kind[k+len("; Schema: "):]
			if o := strings.LastIndex(sch, "; Owner: "); o >= 0 {
				sch = sch[:o]
			}
			e.schema = sch
			kind = kind[:k]
		}
		e.kind = kind
	}
	return nil
}

// parseTOCList returns the TOC ids of pg_restore --list output.
func parseTOCList(s string) (map[int]bool, error) {
	ids := map[int]bool{}
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, ";") {
			continue
		}
		semi := strings.IndexByte(l, ';')
		if semi < 0 {
			return nil, fmt.Errorf("unexpected pg_restore --list line %q", l)
		}
		id, err := strconv.Atoi(l[:semi])
		if err != nil {
			return nil, fmt.Errorf("unexpected pg_restore --list line %q", l)
		}
		ids[id] = true
	}
	return ids, nil
}

// ApplySQL runs a SQL script (e.g. DumpSchema's output) on dst's database
// with `psql -X -v ON_ERROR_STOP=1 --single-transaction -f -`: all or
// nothing, stopping at the first error, which is returned (redacted).
func ApplySQL(ctx context.Context, dst conninfo.Info, r io.Reader) error {
	err := pgtool.Run(ctx, pgtool.Command{Name: "psql", Info: dst, Stdin: r, Args: []string{
		"--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction", "--file=-",
	}})
	if err != nil {
		return fmt.Errorf("apply SQL: %w", err)
	}
	return nil
}

// fkValidate is the kind of the VALIDATE CONSTRAINT half of a foreign key
// that splitForeignKeys split.
const fkValidate = "FK VALIDATE"

// sequentialRank is the group of items run one at a time, in TOC order.
const sequentialRank = 6

// splitForeignKeys turns each foreign key into ADD CONSTRAINT … NOT VALID
// (instant) and a later VALIDATE CONSTRAINT. Adding a foreign key locks
// both tables against each other's validation (SHARE ROW EXCLUSIVE), so
// keys sharing a table would validate one after another; VALIDATE takes
// weaker locks, and the scans run in parallel. Keys already NOT VALID (row
// filters), on partitioned tables (which refuse NOT VALID) or without a
// known name stay as they are.
func splitForeignKeys(items []PostDataItem) []PostDataItem {
	out := make([]PostDataItem, 0, len(items))
	for _, it := range items {
		sql := strings.TrimRight(it.SQL, " \n")
		if it.Kind != "FK CONSTRAINT" || it.Constraint == "" || it.Partitioned || strings.Contains(sql, "NOT VALID") || !strings.HasSuffix(sql, ";") {
			out = append(out, it)
			continue
		}
		add := it
		add.SQL = strings.TrimSuffix(sql, ";") + " NOT VALID;"
		validate := it
		validate.Kind = fkValidate
		validate.SQL = "ALTER TABLE ONLY " + it.Table.String() + " VALIDATE CONSTRAINT " + pgx.Identifier{it.Constraint}.Sanitize() + ";"
		out = append(out, add, validate)
	}
	return out
}

// postDataRank orders the groups of ApplyPostData: items of one group run
// in parallel, groups one after the other.
func postDataRank(kind string) int {
	switch kind {
	case "INDEX", "CONSTRAINT", "CHECK CONSTRAINT":
		// Indexes and primary key, unique, check and exclusion
		// constraints do not depend on each other: one group, so that one
		// table's primary key builds while another table's indexes do.
		return 0
	case "INDEX ATTACH":
		return 2
	case "FK CONSTRAINT":
		return 3
	case fkValidate:
		return 4
	case "TRIGGER":
		return 5
	default:
		return sequentialRank // rules, policies, comments, ...: one at a time, in TOC order
	}
}

// postDataSession is what every ApplyPostData connection runs first (what
// pg_dump's preamble sets).
const postDataSession = `SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;`

// ApplyPostData runs post-data items on dst's database with up to jobs
// connections at once, in groups: indexes with primary key, unique, check
// and exclusion constraints, then index attachments, then foreign keys
// (added NOT VALID, then validated in parallel: see splitForeignKeys),
// then triggers (each group in parallel), then everything else one at a
// time in TOC order. An item whose object already exists (SQLSTATE
// 42P07, 42710, or 42P16 for a primary key: a rerun after a crash) counts
// as done, without comparing definitions; a deadlock between
// two items is retried. After a failure the running group finishes and
// the later groups are not started; the error names every failed item.
func ApplyPostData(ctx context.Context, dst conninfo.Info, items []PostDataItem, jobs int) error {
	if len(items) == 0 {
		return nil
	}
	if jobs < 1 {
		jobs = 1
	}
	groups, ranks := postDataGroups(items)

	// A pool of session-prepared connections, opened on demand.
	var mu sync.Mutex
	var idle []*pgx.Conn
	var all []*pgx.Conn
	defer func() {
		for _, c := range all {
			c.Close(context.Background())
		}
	}()
	get := func() (*pgx.Conn, error) {
		mu.Lock()
		if n := len(idle); n > 0 {
			c := idle[n-1]
			idle = idle[:n-1]
			mu.Unlock()
			return c, nil
		}
		mu.Unlock()
		c, err := conninfo.Connect(ctx, dst)
		if err != nil {
			return nil, err
		}
		if _, err := c.Exec(ctx, postDataSession); err != nil {
			c.Close(context.Background())
			return nil, fmt.Errorf("prepare session: %w", err)
		}
		mu.Lock()
		all = append(all, c)
		mu.Unlock()
		return c, nil
	}
	put := func(c *pgx.Conn) {
		mu.Lock()
		if c.IsClosed() {
			mu.Unlock()
			return
		}
		idle = append(idle, c)
		mu.Unlock()
	}

	for _, r := range ranks {
		group := groups[r]
		par := jobs
		if r == sequentialRank {
			par = 1
		}
		errs := runParallel(ctx, group, par, func(it PostDataItem) error {
			c, err := get()
			if err != nil {
				return err
			}
			defer put(c)
			return execPostDataItem(ctx, c, it)
		})
		if len(errs) > 0 {
			return fmt.Errorf("apply post-data on %s: %w", dst.Redacted(), errors.Join(errs...))
		}
	}
	return nil
}

// ApplyPostDataOn runs post-data items one at a time on conn, in the
// groups and order of ApplyPostData and with its handling of existing
// objects and deadlocks. It first sets conn's session up as ApplyPostData
// does (search_path empty, timeouts off, ...): the caller must not rely on
// the session's earlier settings afterwards. It saves the connection
// ApplyPostData would open, which matters when a small table's indexes
// are built right after its copy on the copy's own connection.
func ApplyPostDataOn(ctx context.Context, conn *pgx.Conn, items []PostDataItem) error {
	if len(items) == 0 {
		return nil
	}
	groups, ranks := postDataGroups(items)
	if _, err := conn.Exec(ctx, postDataSession); err != nil {
		return fmt.Errorf("apply post-data: prepare session: %w", err)
	}
	for _, r := range ranks {
		for _, it := range groups[r] {
			if err := execPostDataItem(ctx, conn, it); err != nil {
				return fmt.Errorf("apply post-data: %s %q: %w", it.Kind, it.Name, err)
			}
		}
	}
	return nil
}

// execPostDataItem runs one post-data item on c. An object that already
// exists counts as done; a deadlock is retried a few times.
func execPostDataItem(ctx context.Context, c *pgx.Conn, it PostDataItem) error {
	for attempt := 0; ; attempt++ {
		_, err := c.Exec(ctx, it.SQL)
		switch code := conninfo.ErrCode(err); {
		case err == nil, code == "42P07", code == "42710":
			return nil
		case code == "42P16" && it.Kind == "CONSTRAINT" && strings.Contains(it.SQL, " PRIMARY KEY "):
			return nil // the table has its primary key already
		case code == "40P01" && attempt < 5: // deadlock_detected
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
			}
			continue
		}
		return err
	}
}

// runParallel runs fn on every item with at most par at once and returns
// the errors, each naming its item.
func runParallel(ctx context.Context, items []PostDataItem, par int, fn func(PostDataItem) error) []error {
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for _, it := range items {
		if ctx.Err() != nil {
			mu.Lock()
			errs = append(errs, ctx.Err())
			mu.Unlock()
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(it PostDataItem) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(it); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s %q: %w", it.Kind, it.Name, err))
				mu.Unlock()
			}
		}(it)
	}
	wg.Wait()
	return errs
}

// postDataGroups splits items (foreign keys split first) into groups by
// their post-data rank, and returns the ranks in the order they run.
func postDataGroups(items []PostDataItem) (map[int][]PostDataItem, []int) {
	groups := map[int][]PostDataItem{}
	for _, it := range splitForeignKeys(items) {
		r := postDataRank(it.Kind)
		groups[r] = append(groups[r], it)
	}
	ranks := make([]int, 0, len(groups))
	for r := range groups {
		ranks = append(ranks, r)
	}
	sort.Ints(ranks)
	return groups, ranks
}
