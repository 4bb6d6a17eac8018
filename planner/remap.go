package planner

import (
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/schemacompare"
)

// checkRemapCollisions reports, as errors, tables in scope that would
// land under one name on the target: a table remapped onto the name of
// another table in scope, or two remapped onto one name (the decoder
// catches the cases it can see without the source's tables).
func (b *builder) checkRemapCollisions(scope *Scope) {
	for _, ds := range scope.Databases {
		seen := map[lang.TableRef]*TableScope{}
		for _, ts := range ds.Tables {
			prev := seen[ts.Target]
			if prev == nil {
				seen[ts.Target] = ts
				continue
			}
			first, second := prev, ts
			if !second.Remapped() {
				first, second = ts, prev
			}
			b.diags.AddError(CodeRemapCollision, b.addr("table", second.Ref.String()).String(), "Two tables remapped onto one target name",
				"%s is remapped to %s on %s, the name %s has there too. Give it another target in its table block (or a table block with its own target when a schema block moves it).",
				second.Ref, lang.TableRef{Schema: ts.Target.Schema, Table: ts.Target.Table}, b.dstName, first.Ref)
		}
	}
}

// sourceNamedTarget returns the target server as the planner compares it
// with the source: every remapped table of the scope under its source
// name (and a table that happens to have a source name of a remapped
// table on the target hidden), so that the comparisons of tables,
// columns, partitions and identities work unchanged. Other databases and
// servers without remapping are returned as they are; the server itself
// is never modified (another replication may share it).
func sourceNamedTarget(dst *catalog.Server, scope *Scope) *catalog.Server {
	var view *catalog.Server
	for _, ds := range scope.Databases {
		tdb := dst.Database(ds.Name)
		if tdb == nil {
			continue
		}
		byTarget := map[[2]string]*TableScope{}
		hidden := map[[2]string]bool{}
		for _, ts := range ds.Tables {
			if ts.Remapped() {
				byTarget[[2]string{ts.Target.Schema, ts.Target.Table}] = ts
				hidden[[2]string{ts.Ref.Schema, ts.Ref.Table}] = true
			}
		}
		if len(byTarget) == 0 {
			continue
		}
		if view == nil {
			cp := *dst
			cp.Databases = append([]*catalog.Database{}, dst.Databases...)
			view = &cp
		}
		db := *tdb
		db.Tables = nil
		for _, t := range tdb.Tables {
			k := [2]string{t.Schema, t.Name}
			if ts := byTarget[k]; ts != nil {
				renamed := *t
				renamed.Schema, renamed.Name = ts.Ref.Schema, ts.Ref.Table
				db.Tables = append(db.Tables, &renamed)
				continue
			}
			if hidden[k] {
				continue
			}
			db.Tables = append(db.Tables, t)
		}
		for i, d := range view.Databases {
			if d.Name == ds.Name {
				view.Databases[i] = &db
			}
		}
	}
	if view == nil {
		return dst
	}
	return view
}

// SchemaCompareScope returns what a schema comparison (schemacompare.Diff)
// of the database compares when tables are remapped: inScope keeps the
// tables in scope that keep their names (a remapped table's catalog
// records carry its other name on each side: its rows are compared, and
// apply's restore and drift repair name it by its target name), and
// ignore drops the differences remapping makes by design: the target
// schemas it created, and the sequences owned by remapped tables (moved
// with them).
func (d *DatabaseScope) SchemaCompareScope(selected func(lang.TableRef) bool) (inScope func(schema, table string) bool, ignore func(schemacompare.Difference) bool) {
	keep := map[[2]string]bool{}
	createdSchemas := map[string]bool{}
	moved := map[[2]string]string{} // remapped source table -> target schema
	for _, ts := range d.Tables {
		if ts.Remapped() {
			moved[[2]string{ts.Ref.Schema, ts.Ref.Table}] = ts.Target.Schema
			createdSchemas[ts.Target.Schema] = true
			continue
		}
		if selected == nil || selected(ts.Ref) {
			keep[[2]string{ts.Ref.Schema, ts.Ref.Table}] = true
		}
	}
	ignored := map[[2]string]bool{}
	if d.Source != nil {
		for _, s := range d.Source.Schemas {
			delete(createdSchemas, s)
		}
		for _, s := range d.Source.Sequences {
			if to, ok := moved[[2]string{s.Schema, s.OwnedByTable}]; ok && s.OwnedByTable != "" {
				ignored[[2]string{"sequence", qualified(s.Schema, s.Name)}] = true
				ignored[[2]string{"sequence", qualified(to, s.Name)}] = true
			}
		}
	}
	for s := range createdSchemas {
		ignored[[2]string{"schema", quotePart(s)}] = true
	}
	inScope = func(schema, table string) bool { return keep[[2]string{schema, table}] }
	ignore = func(diff schemacompare.Difference) bool { return ignored[[2]string{diff.Kind, diff.Object}] }
	return inScope, ignore
}

// qualified renders schema.name as schemacompare names objects:
// identifiers quoted where needed.
func qualified(schema, name string) string { return quotePart(schema) + "." + quotePart(name) }

// quotePart quotes an identifier unless it is a plain lower-case name.
func quotePart(s string) string {
	plain := s != ""
	for i, c := range s {
		if !(c == '_' || (c >= 'a' && c <= 'z') || (i > 0 && (c >= '0' && c <= '9' || c == '$'))) {
			plain = false
		}
	}
	if plain {
		return s
	}
	return lang.QuoteIdent(s)
}

// checkRemapLimits reports, as errors, remappings the tool cannot carry
// out: a partitioned table or a partition (the restore moves single
// tables; a partition tree would be split between two names), and a
// table whose target name changed after it was copied (the rows are
// under the old name; moving them is not planned).
func (b *builder) checkRemapLimits(scope *Scope) {
	for _, ds := range scope.Databases {
		for _, ts := range ds.Tables {
			if !ts.Remapped() {
				continue
			}
			a := b.addr(addrs.Table, ts.Ref.String())
			if src := ts.Source; src != nil && (src.Kind == catalog.KindPartitioned || src.Parent != "") {
				b.diags.AddError(CodeRemapUnsupported, a.String(), "Partitioned tables cannot be remapped",
					"%s is remapped to %s on %s, but it is a partitioned table or a partition, which remapping does not move. Replicate it without remapping: remap the other tables of its schema with table blocks instead of a schema block, or leave it out of the scope.",
					ts.Ref, lang.TableRef{Schema: ts.Target.Schema, Table: ts.Target.Table}, b.dstName)
			}
		}
		for _, ts := range ds.Tables {
			a := b.addr(addrs.Table, ts.Ref.String())
			prior := b.prior(a)
			if prior == nil || b.in.Prior == nil {
				continue
			}
			attrs := priorOf[*plans.TableAttrs](b, a)
			if attrs == nil {
				continue
			}
			was := lang.TableRef{Database: ts.Ref.Database}
			was.Schema, was.Table = attrs.Target(ts.Ref.Schema, ts.Ref.Table)
			if was != ts.Target {
				b.diags.AddError(CodeRemapChanged, a.String(), "Remapping target changed after the copy",
					"%s was copied to %s on %s and is now remapped to %s: moving a copied table is not supported. Put the previous target back in its table or schema block.",
					ts.Ref, lang.TableRef{Schema: was.Schema, Table: was.Table}, b.dstName, lang.TableRef{Schema: ts.Target.Schema, Table: ts.Target.Table})
			}
		}
	}
}
