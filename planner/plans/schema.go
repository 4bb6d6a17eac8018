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
