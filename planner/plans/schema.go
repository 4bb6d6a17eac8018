package plans

import (
	"sort"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
)

// SchemaAttrs describe the pre-data schema of one database: what the
// first restore creates, or, for a drift update, what it adds.
type SchemaAttrs struct {
	// Schemas are the source's schemas; Tables counts the tables in
	// scope; Source says where the DDL comes from. Unset for a drift
	// update.
	Schemas []string
	Tables  int
	Source  string
	// Drift is set when the change brings the target up to the source's
	// DDL (tables or columns added since the first apply).
	Drift *SchemaDrift
}

// SchemaDrift is what a drift update adds on the target.
type SchemaDrift struct {
	// MissingTables are the tables in scope the target lacks.
	MissingTables []lang.TableRef
	// MissingColumns describe the missing columns for a reviewer
	// ("db.schema.table.column type"); AddColumns is what apply adds.
	MissingColumns []string
	// AddColumns lists, per existing table, the columns to add.
	AddColumns map[lang.TableRef][]string
	// CreatePartitions are partitions of partitioned tables in scope to
	// create on the target (CREATE TABLE ... PARTITION OF with the
	// source's bounds), each after its parent; DetachPartitions and
	// DropPartitions those to detach or drop there, as on the source.
	CreatePartitions, DetachPartitions, DropPartitions []lang.TableRef
	// Statements are the other schema differences (column types,
	// defaults, nullability, identity, renames and drops, indexes,
	// constraints, triggers, enum values, domains, composite types,
	// schemas, views, sequence parameters), each with the DDL that brings
	// the target to the source's definition, in the order they run.
	Statements []SchemaStatement
	// Slot is the replication slot of the stream that brings the
	// source's rows in order ("" without one, e.g. xmin): rows written
	// before a DDL may still be in it, so the PhaseDrop statements run
	// only once its confirmed position has passed the source's position
	// at apply.
	Slot string
	// Publication is the publication the stream engine's slot is read
	// with ("" for a subscription's): with no applier connected, apply
	// reads the slot's pending changes through it.
	Publication string
}

// Phases of a SchemaStatement: when apply runs it, relative to the
// tables and columns a drift update creates.
const (
	// PhaseBefore runs first: schemas, types, enum values, domains,
	// sequences (what new tables and columns may use).
	PhaseBefore = "before"
	// PhaseAlter runs after new tables and columns exist: column changes,
	// constraints, indexes, triggers, views.
	PhaseAlter = "alter"
	// PhaseDrop runs last: what the source no longer has.
	PhaseDrop = "drop"
)

// SchemaStatement is one schema difference between source and target and
// the DDL that removes it on the target.
type SchemaStatement struct {
	// Object names the object ("column public.t.c").
	Object string
	// Change says what differs ("type integer -> bigint").
	Change string
	// Phase is PhaseBefore, PhaseAlter or PhaseDrop.
	Phase string
	// SQL is the DDL run on the target: one or more statements.
	SQL string
	// Warning names a risk of running it ("" for none).
	Warning string
}

// HasWork reports whether the drift update changes anything.
func (d *SchemaDrift) HasWork() bool {
	return len(d.MissingTables)+len(d.MissingColumns)+len(d.CreatePartitions)+len(d.DetachPartitions)+len(d.DropPartitions)+len(d.Statements) > 0
}

// Kind implements Attrs.
func (*SchemaAttrs) Kind() addrs.Kind { return addrs.Schema }

func (a *SchemaAttrs) encode() map[string]any {
	if d := a.Drift; d != nil {
		m := map[string]any{"missing_tables": refList(nonNilRefs(d.MissingTables)), "missing_columns": list(nonNil(d.MissingColumns))}
		if len(d.AddColumns) > 0 {
			add := map[string]any{}
			for r, cols := range d.AddColumns {
				add[r.String()] = list(cols)
			}
			m["add_columns"] = add
		}
		for k, refs := range map[string][]lang.TableRef{"create_partitions": d.CreatePartitions, "detach_partitions": d.DetachPartitions, "drop_partitions": d.DropPartitions} {
			if len(refs) > 0 {
				m[k] = refList(refs)
			}
		}
		if len(d.Statements) > 0 {
			stmts := make([]any, len(d.Statements))
			for i, st := range d.Statements {
				m := map[string]any{"object": st.Object, "change": st.Change, "phase": st.Phase, "sql": st.SQL}
				if st.Warning != "" {
					m["warning"] = st.Warning
				}
				stmts[i] = m
			}
			m["ddl"] = stmts
		}
		if d.Slot != "" {
			m["slot"] = d.Slot
		}
		if d.Publication != "" {
			m["publication"] = d.Publication
		}
		return m
	}
	return map[string]any{"schemas": list(nonNil(a.Schemas)), "tables": number(a.Tables), "source": a.Source}
}

func decodeSchema(f *fields) *SchemaAttrs {
	if !f.has("missing_tables") && !f.has("missing_columns") {
		return &SchemaAttrs{Schemas: f.strs("schemas"), Tables: int(f.integer("tables")), Source: f.str("source")}
	}
	d := &SchemaDrift{MissingTables: f.refs("missing_tables"), MissingColumns: f.strs("missing_columns"),
		CreatePartitions: f.refs("create_partitions"), DetachPartitions: f.refs("detach_partitions"), DropPartitions: f.refs("drop_partitions")}
	d.Slot = f.str("slot")
	d.Publication = f.str("publication")
	if raw, ok := f.m["ddl"].([]any); ok {
		for _, v := range raw {
			sub := &fields{kind: f.kind, m: f.objectOf("ddl", v)}
			d.Statements = append(d.Statements, SchemaStatement{Object: sub.str("object"), Change: sub.str("change"),
				Phase: sub.str("phase"), SQL: sub.str("sql"), Warning: sub.str("warning")})
			if sub.err != nil && f.err == nil {
				f.err = sub.err
			}
		}
	} else if f.has("ddl") {
		f.fail("ddl", "a list", f.m["ddl"])
	}
	if add := f.object("add_columns"); len(add) > 0 {
		d.AddColumns = map[lang.TableRef][]string{}
		keys := make([]string, 0, len(add))
		for k := range add {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			r, err := lang.ParseTableRef(k)
			if err != nil {
				if f.err == nil {
					f.err = err
				}
				continue
			}
			d.AddColumns[r] = f.strList("add_columns", add[k])
		}
	}
	return &SchemaAttrs{Drift: d}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilRefs(s []lang.TableRef) []lang.TableRef {
	if s == nil {
		return []lang.TableRef{}
	}
	return s
}
