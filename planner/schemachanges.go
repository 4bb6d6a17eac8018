package planner

import (
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/providers/postgres/schemacompare"
	"github.com/database-replicator/database-replicator/state"
)

// SchemaKey is the key of a database's schema in Input.Schemas: the
// endpoint's address and the database ("source.prod/app").
func SchemaKey(endpoint, database string) string { return endpoint + "/" + database }

// schemaRepair compares the source's and the target's schema of a
// database in scope (when both were read) and returns the DDL that brings
// the target to the source's definitions, beyond the tables, columns and
// partitions the drift update adds (see schemacompare.Statements).
func (b *builder) schemaRepair(ds *DatabaseScope) schemacompare.Repair {
	src, dst := b.in.Schemas[SchemaKey(b.srcName, ds.Name)], b.in.Schemas[SchemaKey(b.dstName, ds.Name)]
	if src == nil || dst == nil {
		return schemacompare.Repair{}
	}
	inScope := map[[2]string]*TableScope{}
	filtered := false
	for _, ts := range ds.Tables {
		inScope[[2]string{ts.Ref.Schema, ts.Ref.Table}] = ts
		filtered = filtered || (ts.Filter != "" && !ts.SchemaOnly)
	}
	// Remapped tables are compared by their missing tables and columns
	// only (build.go, through sourceNamedTarget).
	compared, ignore := ds.SchemaCompareScope(nil)
	all, _ := schemacompare.Diff(src, dst, schemacompare.Scope{Tables: compared})
	var diffs []schemacompare.Difference
	for _, d := range all {
		if !ignore(d) {
			diffs = append(diffs, d)
		}
	}
	return schemacompare.Statements(src, dst, diffs, schemacompare.DDLOptions{
		TableBytes: func(schema, table string) int64 {
			if ts := inScope[[2]string{schema, table}]; ts != nil && ts.Source != nil {
				return ts.Source.Bytes
			}
			return 0
		},
		NotValidForeignKeys: filtered,
		TargetVersion:       b.dst.VersionNum,
		Streaming:           b.streamSlot(ds) != "",
	})
}

// renamedTo returns, per table, the columns a repair renames to (their
// source names): they are not missing.
func renamedTo(rep schemacompare.Repair, db string) map[lang.TableRef]map[string]bool {
	out := map[lang.TableRef]map[string]bool{}
	for _, r := range rep.Renamed {
		ref := lang.TableRef{Database: db, Schema: r.Schema, Table: r.Table}
		if out[ref] == nil {
			out[ref] = map[string]bool{}
		}
		out[ref][r.To] = true
	}
	return out
}

// describeStatements names each statement's object and change for a
// reviewer ("column public.t.v: type integer -> bigint").
func describeStatements(rep schemacompare.Repair) string {
	if len(rep.Statements) == 0 {
		return ""
	}
	items := make([]string, len(rep.Statements))
	for i, st := range rep.Statements {
		items[i] = st.Object + ": " + st.Change
	}
	return fmt.Sprintf("%d other schema difference(s) (%s)", len(items), strings.Join(items, "; "))
}

// streamSlot is the slot of the stream that carries the source's rows of
// a database to the target in order ("" when none streams: the first
// apply, xmin, no sync): the subscription's (logical), or the stream
// engine's once its snapshot finished (its applier, run by sync, may
// still bring rows written before a DDL).
func (b *builder) streamSlot(ds *DatabaseScope) string {
	if !b.streaming(ds) && !b.engineStreams(ds) {
		return ""
	}
	return SlotName(b.r.Sync.Subscription, ds.Name)
}

// engineStreams reports whether the stream engine streams ds: its slot
// exists on the source and the snapshot finished (post-data done), and
// the database is not copied again.
func (b *builder) engineStreams(ds *DatabaseScope) bool {
	if b.method != lang.SyncStream || b.recopyDB[ds.Name] != "" {
		return false
	}
	if pd := b.prior(b.addr(addrs.PostData, ds.Name)); pd == nil || pd.Status != state.StatusDone {
		return false
	}
	name := SlotName(b.r.Sync.Subscription, ds.Name)
	for i := range b.src.Slots {
		if b.src.Slots[i].Name == name {
			return true
		}
	}
	return false
}
