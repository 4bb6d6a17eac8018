package planner

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

// partitionDrift is how the partitions of the partitioned tables in scope
// differ between source and target (pg_partman or a monthly script
// creates, detaches and drops them on the source; DDL is not replicated).
type partitionDrift struct {
	// Create are partitions the source has and the target lacks, each
	// after its parent (a partition may be partitioned itself).
	Create []lang.TableRef
	// Detach are partitions on the target that are plain tables out of
	// scope (or partitions of another table) on the source.
	Detach []lang.TableRef
	// Drop are partitions on the target that the source no longer has,
	// and those detached on the source into a table in scope: Recreate
	// lists these, which the drift creates again as plain tables and
	// copies (the copy the partition held may lag the source).
	Drop, Recreate []lang.TableRef
}

func (d partitionDrift) empty() bool { return len(d.Create)+len(d.Detach)+len(d.Drop) == 0 }

// describe renders the drift for a reason or diagnostic.
func (d partitionDrift) describe() string {
	var parts []string
	for _, x := range []struct {
		what string
		refs []lang.TableRef
	}{{"created", d.Create}, {"detached", append(append([]lang.TableRef{}, d.Detach...), d.Recreate...)}, {"dropped", dropOnly(d)}} {
		if len(x.refs) > 0 {
			parts = append(parts, fmt.Sprintf("%d partition(s) %s on the source (%s)", len(x.refs), x.what, strings.Join(refStrings(x.refs), ", ")))
		}
	}
	return strings.Join(parts, " and ")
}

// partitionRoot returns the topmost partitioned ancestor of a table of db
// (the table itself when it is no partition).
func partitionRoot(db *catalog.Database, t *catalog.Table) *catalog.Table {
	for i := 0; i < 64 && t.Parent != ""; i++ {
		p := db.Table(t.ParentSchema, t.ParentName)
		if p == nil {
			break
		}
		t = p
	}
	return t
}

// partitionDepth counts a partition's ancestors.
func partitionDepth(db *catalog.Database, t *catalog.Table) int {
	n := 0
	for ; n < 64 && t.Parent != ""; n++ {
		p := db.Table(t.ParentSchema, t.ParentName)
		if p == nil {
			break
		}
		t = p
	}
	return n
}

// planPartitions compares the partitions of the partitioned tables in
// scope that exist on both sides. skip holds tables the drift creates
// whole (their partitions come with them).
func (b *builder) planPartitions(ds *DatabaseScope, tdb *catalog.Database, skip map[lang.TableRef]bool) partitionDrift {
	var d partitionDrift
	if tdb == nil {
		return d
	}
	inScope := func(db *catalog.Database, t *catalog.Table) bool {
		root := partitionRoot(db, t)
		if root == t {
			return false
		}
		ts := ds.Table(root.Schema, root.Name)
		return ts != nil && !skip[ts.Ref] && tdb.Table(root.Schema, root.Name) != nil
	}
	ref := func(t *catalog.Table) lang.TableRef {
		return lang.TableRef{Database: ds.Name, Schema: t.Schema, Table: t.Name}
	}
	var create []*catalog.Table
	for _, t := range ds.Source.Tables {
		if t.Parent == "" || !inScope(ds.Source, t) {
			continue
		}
		if tdb.Table(t.Schema, t.Name) == nil {
			create = append(create, t)
		}
	}
	sort.SliceStable(create, func(i, j int) bool {
		return partitionDepth(ds.Source, create[i]) < partitionDepth(ds.Source, create[j])
	})
	for _, t := range create {
		d.Create = append(d.Create, ref(t))
	}
	for _, t := range tdb.Tables {
		if t.Parent == "" || !inScope(tdb, t) {
			continue
		}
		st := ds.Source.Table(t.Schema, t.Name)
		switch {
		case st == nil:
			// Its parent going too drops it with the parent.
			if p := tdb.Table(t.ParentSchema, t.ParentName); p != nil && p.Parent != "" && ds.Source.Table(p.Schema, p.Name) == nil {
				continue
			}
			d.Drop = append(d.Drop, ref(t))
		case st.Parent == "" && ds.Table(st.Schema, st.Name) != nil:
			d.Drop = append(d.Drop, ref(t))
			d.Recreate = append(d.Recreate, ref(t))
		case st.ParentSchema != t.ParentSchema || st.ParentName != t.ParentName:
			d.Detach = append(d.Detach, ref(t))
		}
	}
	return d
}

// unsubscribedPartitions returns the leaf partitions of the streamed
// partitioned tables of a database that the subscription does not list in
// pg_subscription_rel (created on the source after streaming started):
// REFRESH PUBLICATION WITH (copy_data = true) hands them to the table
// sync, which copies them whole; until then the apply worker skips their
// changes, so none is applied twice.
func (b *builder) unsubscribedPartitions(ds *DatabaseScope, sub *catalog.Subscription) []lang.TableRef {
	tdb := b.dst.Database(ds.Name)
	if sub == nil || tdb == nil {
		return nil
	}
	known := map[catalog.RelName]bool{}
	for _, r := range sub.Tables {
		known[catalog.RelName{Schema: r.Schema, Name: r.Name}] = true
	}
	var out []lang.TableRef
	for _, t := range ds.Source.Tables {
		if t.Parent == "" || t.Kind != catalog.KindTable || known[catalog.RelName{Schema: t.Schema, Name: t.Name}] {
			continue
		}
		root := partitionRoot(ds.Source, t)
		ts := ds.Table(root.Schema, root.Name)
		if ts == nil || ts.SchemaOnly || b.resync[ts.Ref.String()] != "" || !b.subscribedRoot(tdb, sub, ts) {
			continue
		}
		if tdb.Table(t.Schema, t.Name) == nil && !b.r.Policy.OnSchemaDrift.Repairs() {
			continue // not created on the target: the schema drift says why
		}
		out = append(out, lang.TableRef{Database: ds.Name, Schema: t.Schema, Table: t.Name})
	}
	// A partition detached on the source into a table in scope: the
	// schema drift drops the target's partition (which takes it out of
	// pg_subscription_rel) and creates the table again, for the table
	// sync to copy whole.
	for _, ts := range ds.Tables {
		if tt := tdb.Table(ts.Ref.Schema, ts.Ref.Table); tt != nil && tt.Parent != "" && ts.Source.Parent == "" && !ts.SchemaOnly &&
			b.r.Policy.OnSchemaDrift.Repairs() && b.prior(b.addr(addrs.Table, ts.Ref.String())) == nil {
			out = append(out, ts.Ref)
		}
	}
	return out
}

// subscribedRoot reports whether the subscription streams a partitioned
// table already (some partition of it is in pg_subscription_rel): a table
// new to the scope is left to the table sync of tableSync.
func (b *builder) subscribedRoot(tdb *catalog.Database, sub *catalog.Subscription, ts *TableScope) bool {
	_, ok := subscriptionTableState(tdb, sub, ts)
	return ok
}

// dropOnly returns the partitions dropped on the source (not those
// detached into a table in scope).
func dropOnly(d partitionDrift) []lang.TableRef {
	var out []lang.TableRef
	for _, r := range d.Drop {
		if !slices.Contains(d.Recreate, r) {
			out = append(out, r)
		}
	}
	return out
}
