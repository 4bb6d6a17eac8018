package schemacompare

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/planner/plans"
)

// DDLOptions tune Statements.
type DDLOptions struct {
	// TableBytes returns the size of a table on the source (by schema
	// and name, literally) for the warning of a rewrite; nil or 0 when
	// unknown.
	TableBytes func(schema, table string) int64
	// NotValidForeignKeys adds foreign keys NOT VALID (row-filtered
	// tables: a copied row may reference a row the filter left out).
	NotValidForeignKeys bool
	// TargetVersion is the target's server_version_num (ALTER COLUMN ...
	// DROP EXPRESSION needs 13).
	TargetVersion int
	// Streaming says that a stream (a subscription) brings the source's
	// rows in order, so rows written before a DDL on the source may
	// still arrive in the old shape: a renamed column keeps its old name
	// on the target as a second column, moved into the new one by a
	// trigger, until the drop phase (which waits for the stream to pass
	// the source's position) removes it; a dropped NOT NULL column loses
	// NOT NULL at once and is dropped in the drop phase.
	Streaming bool
}

// RenamedColumn is a column renamed on the source: one column missing on
// the target and one extra there, in the same table, with the same type.
type RenamedColumn struct {
	// Schema and Table name the table, From and To the column, literally.
	Schema, Table, From, To string
}

// Repair is what Statements found.
type Repair struct {
	// Statements are the DDL, in run order.
	Statements []plans.SchemaStatement
	// Renamed are the columns the statements rename: the caller must not
	// add them again.
	Renamed []RenamedColumn
	// Unsupported are differences no DDL here removes, each naming the
	// object and what to do by hand.
	Unsupported []string
}

// Statements turns Diff's differences into the DDL that brings the
// target to the source's definitions, as plans.SchemaStatement values in
// the order they must run (PhaseBefore, then PhaseAlter, then PhaseDrop;
// within each, what others need first). It leaves out what a drift
// update does otherwise (missing tables and partitions, partition bounds,
// missing columns other than renamed ones) and what it does not
// reproduce (owners, grants, comments, storage options, aggregates,
// extensions, rules, policies, default privileges); verify still reports
// those.
func Statements(src, dst *Schema, diffs []Difference, opts DDLOptions) Repair {
	g := &ddlGen{src: src, dst: dst, opts: opts, missing: map[string]bool{}, extra: map[string]bool{}, different: map[string]bool{}, renaming: map[string]bool{}}
	for _, d := range diffs {
		k := key(d.Kind, d.Object)
		switch d.Problem {
		case Missing:
			g.missing[k] = true
		case Extra:
			g.extra[k] = true
		case Different:
			g.different[k] = true
		}
	}
	renames := g.findRenames(diffs)
	g.renaming = g.renameWindows(diffs)
	for _, d := range diffs {
		g.difference(d, renames)
	}
	var renamed []RenamedColumn
	for from, to := range renames {
		ids := splitIdents(to.Parent)
		if len(ids) != 2 {
			continue
		}
		renamed = append(renamed, RenamedColumn{Schema: ids[0], Table: ids[1],
			From: strings.Join(splitIdents(columnName(to)), "."), To: strings.Join(splitIdents(columnName(g.src.Objects[from])), ".")})
	}
	sort.Slice(renamed, func(i, j int) bool {
		a, b := renamed[i], renamed[j]
		return a.Schema+"\x00"+a.Table+"\x00"+a.To < b.Schema+"\x00"+b.Table+"\x00"+b.To
	})
	sort.SliceStable(g.out, func(i, j int) bool { return g.out[i].rank < g.out[j].rank })
	rep := Repair{Renamed: renamed, Unsupported: g.unsupported}
	for _, r := range g.out {
		rep.Statements = append(rep.Statements, r.SchemaStatement)
	}
	return rep
}

// ddlGen collects the statements of one Statements call.
type ddlGen struct {
	src, dst                  *Schema
	opts                      DDLOptions
	missing, extra, different map[string]bool
	out                       []ranked
	unsupported               []string
	// renaming are the tables (by name) with a column renamed while
	// streaming by an earlier apply whose drop phase has not run: their
	// defaults wait for the drop phase (see rename).
	renaming map[string]bool
}

// renameWindows returns the tables whose target still has the trigger
// of a renamed column's old name (an earlier apply's drop phase did not
// run yet, the subscription was paused): rows written on the source
// before the rename may still arrive there in the old shape.
func (g *ddlGen) renameWindows(diffs []Difference) map[string]bool {
	out := map[string]bool{}
	if !g.opts.Streaming {
		return out
	}
	for _, d := range diffs {
		if d.Kind != "trigger" || d.Problem != Extra {
			continue
		}
		if t := g.dst.Objects[key(d.Kind, d.Object)]; t != nil && strings.HasPrefix(t.Name, renameHelperPrefix) {
			out[t.Parent] = true
		}
	}
	return out
}

// unsupportedf records a difference no DDL here removes.
func (g *ddlGen) unsupportedf(object, format string, args ...any) {
	g.unsupported = append(g.unsupported, object+": "+fmt.Sprintf(format, args...))
}

// problems returns the set of keys with the problem of d.
func (g *ddlGen) problems(problem string) map[string]bool {
	switch problem {
	case Missing:
		return g.missing
	case Extra:
		return g.extra
	}
	return g.different
}

// followsParent reports whether o, an object of a partition, is the copy
// of an object of the partitioned parent that has the same problem: the
// DDL on the parent changes the partitions too (and fails on them).
func (g *ddlGen) followsParent(s *Schema, o *Object, problem string) bool {
	table := s.Objects[key("table", o.Parent)]
	if table == nil || table.Attributes["partition of"] == "" {
		return false
	}
	parent := table.Attributes["partition of"]
	problems := g.problems(problem)
	switch o.Kind {
	case "column":
		return problems[key("column", parent+"."+columnName(o))]
	case "constraint":
		return problems[key("constraint", strings.TrimSuffix(o.Name, " on "+o.Parent)+" on "+parent)]
	case "index":
		for k := range problems {
			if p := s.Objects[k]; p != nil && p.Kind == "index" && p.Parent == parent {
				return true
			}
		}
	}
	return false
}

// ranked is a statement with its place in the run order.
type ranked struct {
	plans.SchemaStatement
	rank int
}

// Ranks: the run order. Before: schemas, then functions and types,
// then domain constraints and sequences. Alter: columns, then keys and
// checks, then indexes, then foreign keys, then triggers, then views.
// Drop: the reverse.
const (
	rankSchema = iota
	rankFunction
	rankType
	rankDomainConstraint
	rankSequence
	rankColumn
	rankConstraint
	rankIndex
	rankForeignKey
	rankTrigger
	rankView
	rankDropView
	rankDropTrigger
	rankDropForeignKey
	rankDropIndex
	rankDropConstraint
	rankDropColumn
	rankDropSequence
	rankDropType
	rankDropFunction
	rankDropSchema
)

func phaseOf(rank int) string {
	switch {
	case rank < rankColumn:
		return plans.PhaseBefore
	case rank < rankDropView:
		return plans.PhaseAlter
	}
	return plans.PhaseDrop
}

func (g *ddlGen) add(rank int, object, change, sql, warning string) {
	g.out = append(g.out, ranked{rank: rank, SchemaStatement: plans.SchemaStatement{
		Object: object, Change: change, Phase: phaseOf(rank), SQL: sql, Warning: warning}})
}

// findRenames pairs a column missing on the target with a column extra
// there, in the same table, when that pairing is unambiguous: the only
// extra column of its type, or the only one of its type at its position
// (a rename keeps the position; a column dropped after it does not move
// it). That is a RENAME COLUMN on the source. Returned by the source's column (key: its object key).
func (g *ddlGen) findRenames(diffs []Difference) map[string]*Object {
	miss, extra := map[string][]*Object{}, map[string][]*Object{}
	for _, d := range diffs {
		if d.Kind != "column" {
			continue
		}
		switch d.Problem {
		case Missing:
			if o := g.src.Objects[key(d.Kind, d.Object)]; o != nil && g.isTable(g.src, o.Parent) && !g.followsParent(g.src, o, Missing) {
				miss[o.Parent] = append(miss[o.Parent], o)
			}
		case Extra:
			if o := g.dst.Objects[key(d.Kind, d.Object)]; o != nil && g.isTable(g.dst, o.Parent) && !g.followsParent(g.dst, o, Extra) {
				extra[o.Parent] = append(extra[o.Parent], o)
			}
		}
	}
	out := map[string]*Object{}
	for table, ms := range miss {
		claims := map[*Object][]*Object{} // target column -> source columns
		for _, m := range ms {
			var same, samePos []*Object
			for _, e := range extra[table] {
				if m.Attributes["type"] != e.Attributes["type"] || m.Attributes["generated"] != "" || e.Attributes["generated"] != "" {
					continue
				}
				same = append(same, e)
				if p := m.Attributes["position"]; p != "" && p == e.Attributes["position"] {
					samePos = append(samePos, e)
				}
			}
			switch {
			case len(same) == 1:
				claims[same[0]] = append(claims[same[0]], m)
			case len(samePos) == 1:
				claims[samePos[0]] = append(claims[samePos[0]], m)
			}
		}
		for e, ms := range claims {
			if len(ms) == 1 {
				out[key(ms[0].Kind, ms[0].Name)] = e
			}
		}
	}
	// Keyed by source column; the value is the target's column.
	return out
}

// isTable reports whether name is a table (not a view) in s.
func (g *ddlGen) isTable(s *Schema, name string) bool {
	return s.Objects[key("table", name)] != nil
}

// partitionChanging reports whether table is attached on one side and
// not (or to another parent) on the other: the drift update attaches or
// detaches it, and its keys, indexes and constraints follow from that.
func (g *ddlGen) partitionChanging(table string) bool {
	s, t := g.src.Objects[key("table", table)], g.dst.Objects[key("table", table)]
	return s != nil && t != nil && s.Attributes["partition of"] != t.Attributes["partition of"]
}

func (g *ddlGen) difference(d Difference, renames map[string]*Object) {
	k := key(d.Kind, d.Object)
	s, t := g.src.Objects[k], g.dst.Objects[k]
	if p := firstOf(s, t).Parent; p != "" && g.partitionChanging(p) {
		return
	}
	switch d.Kind {
	case "schema":
		g.schema(d)
	case "function", "procedure":
		g.function(d, s, t)
	case "type":
		g.typ(d, s, t)
	case "sequence":
		g.sequence(d, s, t)
	case "column":
		g.column(d, s, t, renames)
	case "constraint":
		g.constraint(d, s, t)
	case "index":
		g.index(d, s, t)
	case "trigger":
		g.trigger(d, s, t)
	case "view", "materialized view":
		g.view(d, s, t)
	}
}

func (g *ddlGen) schema(d Difference) {
	switch d.Problem {
	case Missing:
		g.add(rankSchema, "schema "+d.Object, "created on the source", "CREATE SCHEMA IF NOT EXISTS "+d.Object+";", "")
	case Extra:
		g.add(rankDropSchema, "schema "+d.Object, "dropped on the source", "DROP SCHEMA "+d.Object+";", "")
	}
}

func (g *ddlGen) function(d Difference, s, t *Object) {
	obj := d.Kind + " " + d.Object
	switch d.Problem {
	case Missing:
		g.add(rankFunction, obj, "created on the source", withSemicolon(s.rawAttr("definition")), "")
	case Extra:
		g.add(rankDropFunction, obj, "dropped on the source", "DROP "+strings.ToUpper(d.Kind)+" "+d.Object+";", "")
	case Different:
		if attrsDiffer(s, t, "definition", "result") {
			g.add(rankFunction, obj, changes(d, "definition", "result"), withSemicolon(s.rawAttr("definition")), "")
		}
	}
}

func (g *ddlGen) typ(d Difference, s, t *Object) {
	obj := "type " + d.Object
	switch d.Problem {
	case Missing:
		if sql := createType(d.Object, s); sql != "" {
			g.add(rankType, obj, "created on the source", sql, "")
		} else {
			g.unsupportedf(obj, "a base type is created with its input and output functions: create it on the target yourself")
		}
	case Extra:
		what := "TYPE"
		if t.Attributes["kind"] == "domain" {
			what = "DOMAIN"
		}
		if t.Attributes["kind"] != "base" {
			g.add(rankDropType, obj, "dropped on the source", "DROP "+what+" "+d.Object+";", "")
		}
	case Different:
		if s.Attributes["kind"] != t.Attributes["kind"] {
			g.unsupportedf(obj, "its kind changed from %s to %s on the source: drop and create it on the target yourself", t.Attributes["kind"], s.Attributes["kind"])
			return
		}
		switch s.Attributes["kind"] {
		case "enum":
			g.enumValues(d, s, t)
		case "domain":
			var sql []string
			if s.Attributes["default"] != t.Attributes["default"] {
				if s.Attributes["default"] == "" {
					sql = append(sql, "ALTER DOMAIN "+d.Object+" DROP DEFAULT;")
				} else {
					sql = append(sql, "ALTER DOMAIN "+d.Object+" SET DEFAULT "+s.rawAttr("default")+";")
				}
			}
			if s.Attributes["not null"] != t.Attributes["not null"] {
				if s.Attributes["not null"] == "true" {
					sql = append(sql, "ALTER DOMAIN "+d.Object+" SET NOT NULL;")
				} else {
					sql = append(sql, "ALTER DOMAIN "+d.Object+" DROP NOT NULL;")
				}
			}
			if len(sql) > 0 {
				g.add(rankType, obj, changes(d, "default", "not null"), strings.Join(sql, "\n"), "")
			}
			if attrsDiffer(s, t, "base type", "collation") {
				g.unsupportedf(obj, "%s: a domain's base type or collation cannot be altered; drop and create it on the target yourself", changes(d, "base type", "collation"))
			}
		case "composite":
			g.compositeAttributes(d, s, t)
		}
	}
}

func createType(name string, s *Object) string {
	a := map[string]string{}
	for k := range s.Attributes {
		a[k] = s.rawAttr(k)
	}
	switch s.Attributes["kind"] {
	case "enum":
		return "CREATE TYPE " + name + " AS ENUM (" + a["labels"] + ");"
	case "composite":
		return "CREATE TYPE " + name + " AS (" + a["attributes"] + ");"
	case "range":
		return "CREATE TYPE " + name + " AS RANGE (subtype = " + a["subtype"] + ");"
	case "domain":
		sql := "CREATE DOMAIN " + name + " AS " + a["base type"]
		if a["collation"] != "" {
			sql += " COLLATE " + a["collation"]
		}
		if a["default"] != "" {
			sql += " DEFAULT " + a["default"]
		}
		if a["not null"] == "true" {
			sql += " NOT NULL"
		}
		return sql + ";"
	}
	return ""
}

// enumValues adds the labels the source gained, each after its
// predecessor (or before the first); removed or reordered labels cannot
// be reproduced.
func (g *ddlGen) enumValues(d Difference, s, t *Object) {
	sl, tl := splitList(s.rawAttr("labels")), splitList(t.rawAttr("labels"))
	have := map[string]bool{}
	for _, l := range tl {
		have[l] = true
	}
	var sql []string
	var added []string
	for i, l := range sl {
		if have[l] {
			continue
		}
		switch {
		case i > 0:
			sql = append(sql, fmt.Sprintf("ALTER TYPE %s ADD VALUE IF NOT EXISTS %s AFTER %s;", d.Object, l, sl[i-1]))
		case len(sl) > 1:
			sql = append(sql, fmt.Sprintf("ALTER TYPE %s ADD VALUE IF NOT EXISTS %s BEFORE %s;", d.Object, l, sl[1]))
		default:
			sql = append(sql, fmt.Sprintf("ALTER TYPE %s ADD VALUE IF NOT EXISTS %s;", d.Object, l))
		}
		added = append(added, l)
	}
	// What is left must be the source's order exactly.
	inSrc := map[string]bool{}
	for _, l := range sl {
		inSrc[l] = true
	}
	var gone []string
	for _, l := range tl {
		if !inSrc[l] {
			gone = append(gone, l)
		}
	}
	if len(added) > 0 {
		g.add(rankType, "type "+d.Object, "enum values added: "+strings.Join(added, ", "), strings.Join(sql, "\n"), "")
	}
	if len(gone) > 0 {
		g.unsupportedf("type "+d.Object, "enum values only on the target (%s): PostgreSQL cannot drop an enum value; recreate the type on the target yourself, or rename the value (ALTER TYPE ... RENAME VALUE) where the source renamed it", strings.Join(gone, ", "))
	}
}

// compositeAttributes adds, drops and retypes a composite type's
// attributes by name.
func (g *ddlGen) compositeAttributes(d Difference, s, t *Object) {
	parse := func(list string) (names []string, types map[string]string) {
		types = map[string]string{}
		for _, item := range splitList(list) {
			name, typ := splitFirstIdent(item)
			names = append(names, name)
			types[name] = typ
		}
		return names, types
	}
	sn, st := parse(s.rawAttr("attributes"))
	tn, tt := parse(t.rawAttr("attributes"))
	var sql []string
	for _, n := range sn {
		switch typ, ok := tt[n]; {
		case !ok:
			sql = append(sql, fmt.Sprintf("ALTER TYPE %s ADD ATTRIBUTE %s %s;", d.Object, n, st[n]))
		case typ != st[n]:
			sql = append(sql, fmt.Sprintf("ALTER TYPE %s ALTER ATTRIBUTE %s TYPE %s;", d.Object, n, st[n]))
		}
	}
	for _, n := range tn {
		if _, ok := st[n]; !ok {
			sql = append(sql, fmt.Sprintf("ALTER TYPE %s DROP ATTRIBUTE %s;", d.Object, n))
		}
	}
	if len(sql) > 0 {
		g.add(rankType, "type "+d.Object, changes(d, "attributes"), strings.Join(sql, "\n"), "")
	}
}

func (g *ddlGen) sequence(d Difference, s, t *Object) {
	obj := "sequence " + d.Object
	params := func(o *Object) string {
		a := o.Attributes
		cycle := "NO CYCLE"
		if a["cycle"] == "true" {
			cycle = "CYCLE"
		}
		return fmt.Sprintf("AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s %s",
			a["type"], a["increment"], a["minimum"], a["maximum"], a["start"], a["cache"], cycle)
	}
	switch d.Problem {
	case Missing:
		// A sequence owned by a column comes with that column's table.
		if s.Attributes["owned by"] == "" {
			g.add(rankSequence, obj, "created on the source", "CREATE SEQUENCE IF NOT EXISTS "+d.Object+" "+params(s)+";", "")
		}
	case Extra:
		if t.Attributes["owned by"] == "" {
			g.add(rankDropSequence, obj, "dropped on the source", "DROP SEQUENCE "+d.Object+";", "")
		}
	case Different:
		names := []string{"type", "start", "increment", "minimum", "maximum", "cache", "cycle"}
		if attrsDiffer(s, t, names...) {
			g.add(rankSequence, obj, changes(d, names...), "ALTER SEQUENCE "+d.Object+" "+params(s)+";", "")
		}
	}
}

func (g *ddlGen) column(d Difference, s, t *Object, renames map[string]*Object) {
	parent := firstOf(s, t).Parent
	if !g.isTable(g.src, parent) && !g.isTable(g.dst, parent) {
		return // a view's column: compared as the view is
	}
	if (s != nil && g.followsParent(g.src, s, d.Problem)) || (t != nil && g.followsParent(g.dst, t, d.Problem)) {
		return
	}
	col := columnName(firstOf(s, t))
	obj := "column " + d.Object
	switch d.Problem {
	case Missing:
		if to := renames[key(d.Kind, d.Object)]; to != nil {
			g.rename(parent, columnName(to), col, obj, s, to)
		}
		// Other missing columns are added by the drift update (with the
		// values older rows read).
	case Extra:
		for _, to := range renames {
			if to == t {
				return
			}
		}
		if g.opts.Streaming && t.Attributes["not null"] == "true" {
			g.add(rankColumn, obj, "dropped on the source: nullable until rows without it arrive",
				fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL;", parent, col), "")
		}
		g.add(rankDropColumn, obj, "dropped on the source", fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s;", parent, col),
			fmt.Sprintf("drops %s with its values on the target (the source dropped it)", obj))
	case Different:
		g.alterColumn(parent, col, obj, s, t, false)
	}
}

// rename renames the target's column from to col (t is the target's
// column, s the source's) and brings it to the source's definition.
// Streaming, rows written on the source before the rename may still
// arrive with the old name: the old name stays as a plain column, and a
// trigger (enabled always, so it fires for the subscription's writes
// too) moves a value written to it into the new column, until the drop
// phase drops both.
//
// The apply worker gives a column a row does not carry the target's
// default: a row in the old shape with NULL in the old column would get
// the renamed column's default where the source has NULL. So the renamed
// column has no default while both shapes may arrive (a row in the new
// shape carries the column, the default does not matter to it); the drop
// phase, which runs once the stream passed the rename, sets the source's.
func (g *ddlGen) rename(table, from, col, obj string, s, t *Object) {
	sql := fmt.Sprintf("ALTER TABLE %s RENAME COLUMN %s TO %s;", table, from, col)
	if g.opts.Streaming {
		if t.Attributes["default"] != "" {
			sql += fmt.Sprintf("\nALTER TABLE %s ALTER COLUMN %s DROP DEFAULT;", table, col)
		}
		schema, _ := cutIdent(table)
		fn := schema + "." + renameHelper(table, from)
		trig := renameHelper(table, from)
		sql += fmt.Sprintf(`
ALTER TABLE %[1]s ADD COLUMN %[2]s %[3]s;
CREATE FUNCTION %[4]s() RETURNS trigger LANGUAGE plpgsql AS $fn$BEGIN IF NEW.%[2]s IS NOT NULL THEN NEW.%[5]s := NEW.%[2]s; NEW.%[2]s := NULL; END IF; RETURN NEW; END$fn$;
CREATE TRIGGER %[6]s BEFORE INSERT OR UPDATE ON %[1]s FOR EACH ROW EXECUTE FUNCTION %[4]s();
ALTER TABLE %[1]s ENABLE ALWAYS TRIGGER %[6]s;`, table, from, t.Attributes["type"], fn, col, trig)
		g.add(rankDropColumn, obj, "the old name "+from+", kept while rows written before the rename arrive",
			fmt.Sprintf("DROP TRIGGER %s ON %s;\nDROP FUNCTION %s();\nALTER TABLE %s DROP COLUMN %s;", trig, table, fn, table, from), "")
	}
	g.add(rankColumn, obj, "renamed on the source from "+from, sql, "")
	g.alterColumn(table, col, obj, s, t, true)
}

// renameHelperPrefix starts the names of rename helpers.
const renameHelperPrefix = "database_replicator_rename_"

// renameHelper names the trigger and function that keep a renamed
// column's old name working: one per table and column.
func renameHelper(table, from string) string {
	h := fnv.New32a()
	h.Write([]byte(table + "." + from))
	return fmt.Sprintf(renameHelperPrefix+"%08x", h.Sum32())
}

// alterColumn brings the target's column t to the source's s.
// renamed says that t is the column rename just renamed (and, streaming,
// took the default of).
func (g *ddlGen) alterColumn(table, col, obj string, s, t *Object, renamed bool) {
	sa, ta := s.Attributes, t.Attributes
	alter := "ALTER TABLE " + table + " ALTER COLUMN " + col + " "
	if sa["generated"] != ta["generated"] {
		if sa["generated"] == "" && g.opts.TargetVersion >= 130000 {
			g.add(rankColumn, obj, "no longer generated", alter+"DROP EXPRESSION;", "")
		} else {
			def := col + " " + sa["type"]
			if sa["generated"] != "" {
				def += " GENERATED ALWAYS AS (" + strings.TrimPrefix(s.rawAttr("generated"), "stored ") + ") STORED"
			}
			g.add(rankColumn, obj, fmt.Sprintf("generated %q -> %q", ta["generated"], sa["generated"]),
				fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s;\nALTER TABLE %s ADD COLUMN %s;", table, col, table, def),
				fmt.Sprintf("drops %s and adds it again (a generated expression cannot be altered): its values are computed anew", obj))
			return
		}
	}
	if sa["type"] != ta["type"] || sa["collation"] != ta["collation"] {
		typ := sa["type"]
		if sa["collation"] != "" {
			typ += " COLLATE " + sa["collation"]
		}
		warn := fmt.Sprintf("changes the type of %s from %s to %s: unless the types are binary compatible this rewrites the table and its indexes under an ACCESS EXCLUSIVE lock", obj, ta["type"], sa["type"])
		if ids := splitIdents(table); g.opts.TableBytes != nil && len(ids) == 2 {
			if n := g.opts.TableBytes(ids[0], ids[1]); n > 0 {
				warn += fmt.Sprintf(" (%s is %s on the source)", table, byteSize(n))
			}
		}
		if sa["type"] == ta["type"] {
			warn = ""
		}
		g.add(rankColumn, obj, fmt.Sprintf("type %s -> %s", attrOr(ta["type"], ta["collation"]), attrOr(sa["type"], sa["collation"])),
			alter+"TYPE "+typ+" USING "+col+"::"+sa["type"]+";", warn)
	}
	switch {
	case renamed && g.opts.Streaming || g.renaming[table]:
		// Renamed now, or a column of this table renamed earlier still
		// has its old name on the target: the default waits until the
		// stream passed the rename (rename dropped the renamed column's).
		if sa["default"] != "" && (sa["default"] != ta["default"] || renamed) {
			g.add(rankDropColumn, obj, fmt.Sprintf("default %q, once rows written before the rename arrived", sa["default"]), alter+"SET DEFAULT "+s.rawAttr("default")+";", "")
		} else if sa["default"] == "" && ta["default"] != "" && !renamed {
			g.add(rankDropColumn, obj, "default dropped, once rows written before the rename arrived", alter+"DROP DEFAULT;", "")
		}
	case sa["default"] != ta["default"]:
		if sa["default"] == "" {
			g.add(rankColumn, obj, "default dropped", alter+"DROP DEFAULT;", "")
		} else {
			g.add(rankColumn, obj, fmt.Sprintf("default %q -> %q", ta["default"], sa["default"]), alter+"SET DEFAULT "+s.rawAttr("default")+";", "")
		}
	}
	if sa["not null"] != ta["not null"] && sa["not null"] != "" {
		if sa["not null"] == "true" {
			g.add(rankColumn, obj, "NOT NULL added", alter+"SET NOT NULL;", "")
		} else {
			g.add(rankColumn, obj, "NOT NULL dropped", alter+"DROP NOT NULL;", "")
		}
	}
	if sa["identity"] != ta["identity"] {
		gen := "GENERATED " + strings.ToUpper(sa["identity"])
		switch {
		case sa["identity"] == "":
			g.add(rankColumn, obj, "no longer an identity column", alter+"DROP IDENTITY IF EXISTS;", "")
		case ta["identity"] == "":
			g.add(rankColumn, obj, "identity "+sa["identity"]+" added", alter+"ADD "+gen+" AS IDENTITY;", "")
		default:
			g.add(rankColumn, obj, fmt.Sprintf("identity %s -> %s", ta["identity"], sa["identity"]), alter+"SET "+gen+";", "")
		}
	}
}

func attrOr(typ, collation string) string {
	if collation == "" {
		return typ
	}
	return typ + " COLLATE " + collation
}

func (g *ddlGen) constraint(d Difference, s, t *Object) {
	o := firstOf(s, t)
	domain := strings.Contains(o.Name, " on domain ")
	name := strings.TrimSuffix(strings.TrimSuffix(o.Name, " on "+o.Parent), " on domain "+o.Parent)
	alter := "ALTER TABLE " + o.Parent
	if domain {
		alter = "ALTER DOMAIN " + o.Parent
	}
	if !domain && ((s != nil && g.followsParent(g.src, s, d.Problem)) || (t != nil && g.followsParent(g.dst, t, d.Problem))) {
		return
	}
	rank, dropRank := rankConstraint, rankDropConstraint
	switch {
	case domain:
		rank = rankDomainConstraint
	case strings.HasPrefix(o.Attributes["definition"], "FOREIGN KEY"):
		rank, dropRank = rankForeignKey, rankDropForeignKey
	}
	obj := "constraint " + d.Object
	add := func() string {
		def := s.rawAttr("definition")
		if g.opts.NotValidForeignKeys && strings.HasPrefix(def, "FOREIGN KEY") && !strings.HasSuffix(def, " NOT VALID") {
			def += " NOT VALID"
		}
		return alter + " ADD CONSTRAINT " + name + " " + def + ";"
	}
	drop := alter + " DROP CONSTRAINT " + name + ";"
	switch d.Problem {
	case Missing:
		g.add(rank, obj, "created on the source: "+s.Attributes["definition"], add(), "")
	case Extra:
		g.add(dropRank, obj, "dropped on the source", drop, "")
	case Different:
		if attrsDiffer(s, t, "definition") {
			g.add(rank, obj, changes(d, "definition"), drop+"\n"+add(), "")
		}
	}
}

// backsConstraint reports whether index is the index of a constraint of
// its table in s (a primary key, unique or exclusion constraint creates
// and drops its index).
func backsConstraint(s *Schema, index *Object) bool {
	schema, _ := cutIdent(index.Parent)
	name := strings.TrimPrefix(index.Name, schema+".")
	return s.Objects[key("constraint", name+" on "+index.Parent)] != nil
}

// cutIdent cuts a dotted name after its first identifier (quoted as it
// is).
func cutIdent(s string) (head, tail string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			quoted = !quoted
		case s[i] == '.' && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func (g *ddlGen) index(d Difference, s, t *Object) {
	obj := "index " + d.Object
	switch d.Problem {
	case Missing:
		if backsConstraint(g.src, s) || g.followsParent(g.src, s, Missing) {
			return
		}
		g.add(rankIndex, obj, "created on the source", withSemicolon(s.rawAttr("definition")),
			"CREATE INDEX blocks writes to "+s.Parent+" on the target while it builds")
	case Extra:
		if backsConstraint(g.dst, t) || g.followsParent(g.dst, t, Extra) {
			return
		}
		g.add(rankDropIndex, obj, "dropped on the source", "DROP INDEX "+d.Object+";", "")
	case Different:
		if backsConstraint(g.src, s) || !attrsDiffer(s, t, "definition") || g.followsParent(g.src, s, Different) {
			return
		}
		g.add(rankIndex, obj, changes(d, "definition"), "DROP INDEX "+d.Object+";\n"+withSemicolon(s.rawAttr("definition")), "")
	}
}

func (g *ddlGen) trigger(d Difference, s, t *Object) {
	o := firstOf(s, t)
	name := strings.TrimSuffix(o.Name, " on "+o.Parent)
	obj := "trigger " + d.Object
	drop := "DROP TRIGGER " + name + " ON " + o.Parent + ";"
	enable := func() string {
		switch s.Attributes["enabled"] {
		case "disabled":
			return "\nALTER TABLE " + o.Parent + " DISABLE TRIGGER " + name + ";"
		case "replica":
			return "\nALTER TABLE " + o.Parent + " ENABLE REPLICA TRIGGER " + name + ";"
		case "always":
			return "\nALTER TABLE " + o.Parent + " ENABLE ALWAYS TRIGGER " + name + ";"
		}
		return ""
	}
	switch d.Problem {
	case Missing:
		g.add(rankTrigger, obj, "created on the source", withSemicolon(s.rawAttr("definition"))+enable(), "")
	case Extra:
		g.add(rankDropTrigger, obj, "dropped on the source", drop, "")
	case Different:
		switch {
		case attrsDiffer(s, t, "definition"):
			g.add(rankTrigger, obj, changes(d, "definition", "enabled"), drop+"\n"+withSemicolon(s.rawAttr("definition"))+enable(), "")
		case attrsDiffer(s, t, "enabled"):
			sql := strings.TrimPrefix(enable(), "\n")
			if sql == "" {
				sql = "ALTER TABLE " + o.Parent + " ENABLE TRIGGER " + name + ";"
			}
			g.add(rankTrigger, obj, changes(d, "enabled"), sql, "")
		}
	}
}

func (g *ddlGen) view(d Difference, s, t *Object) {
	obj := d.Kind + " " + d.Object
	what := strings.ToUpper(d.Kind)
	create := func() string {
		sql := "CREATE " + what + " " + d.Object
		if s.Attributes["options"] != "" {
			sql += " WITH (" + s.Attributes["options"] + ")"
		}
		sql += " AS " + strings.TrimSuffix(strings.TrimSpace(s.rawAttr("definition")), ";")
		if d.Kind == "materialized view" {
			if s.Attributes["populated"] == "true" {
				sql += " WITH DATA"
			} else {
				sql += " WITH NO DATA"
			}
		}
		sql += ";"
		// Its indexes and triggers are parts of a missing relation: Diff
		// does not list them.
		var parts []string
		for _, o := range g.src.Objects {
			if o.Parent == d.Object && (o.Kind == "index" || o.Kind == "trigger") {
				parts = append(parts, withSemicolon(o.rawAttr("definition")))
			}
		}
		sort.Strings(parts)
		for _, p := range parts {
			sql += "\n" + p
		}
		return sql
	}
	switch d.Problem {
	case Missing:
		g.add(rankView, obj, "created on the source", create(), "")
	case Extra:
		g.add(rankDropView, obj, "dropped on the source", "DROP "+what+" "+d.Object+";", "")
	case Different:
		if attrsDiffer(s, t, "definition", "options") {
			g.add(rankView, obj, changes(d, "definition", "options"), "DROP "+what+" "+d.Object+";\n"+create(), "")
		}
	}
}

// rawAttr is an attribute as read, before normalise (an object built
// without a catalog read has only its Attributes).
func (o *Object) rawAttr(name string) string {
	if v, ok := o.raw[name]; ok {
		return v
	}
	return o.Attributes[name]
}

// attrsDiffer reports whether any of the named attributes differ.
func attrsDiffer(s, t *Object, names ...string) bool {
	for _, n := range names {
		if s.Attributes[n] != t.Attributes[n] {
			return true
		}
	}
	return false
}

// changes describes the named attributes that differ ("name: a -> b").
func changes(d Difference, names ...string) string {
	var out []string
	for _, a := range d.Attributes {
		for _, n := range names {
			if a.Name == n {
				out = append(out, fmt.Sprintf("%s %q -> %q", a.Name, a.Target, a.Source))
			}
		}
	}
	return strings.Join(out, ", ")
}

func withSemicolon(sql string) string {
	sql = strings.TrimSpace(sql)
	if strings.HasSuffix(sql, ";") {
		return sql
	}
	return sql + ";"
}

// columnName is a column object's own name (quoted where needed).
func columnName(o *Object) string { return strings.TrimPrefix(o.Name, o.Parent+".") }

// splitIdents splits a dotted list of identifiers, quoted or not, and
// unquotes them.
func splitIdents(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '"' && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			quoted = !quoted
		case c == '.' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

// splitList splits a ", "-separated list at the top level: not inside
// parentheses, quotes or double quotes.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				if i+1 < len(s) && s[i+1] == quote {
					i++
				} else {
					quote = 0
				}
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// splitFirstIdent splits "name type" where name may be double-quoted.
func splitFirstIdent(s string) (name, rest string) {
	if strings.HasPrefix(s, `"`) {
		for i := 1; i < len(s); i++ {
			if s[i] == '"' {
				if i+1 < len(s) && s[i+1] == '"' {
					i++
					continue
				}
				return s[:i+1], strings.TrimSpace(s[i+1:])
			}
		}
		return s, ""
	}
	name, rest, _ = strings.Cut(s, " ")
	return name, rest
}

func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
