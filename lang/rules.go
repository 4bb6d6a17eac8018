package lang

import (
	"fmt"
	"sort"
)

// checkTableRules relates the table lists and table blocks of one
// replication: settings for a table that copies no rows, or that is not
// replicated at all, are errors.
func (d *decoder) checkTableRules(r *Replication, info *replInfo) {
	schemaOnly := map[TableRef]bool{}
	for _, ref := range r.SchemaOnly {
		schemaOnly[ref] = true
	}
	excluded := map[TableRef]bool{}
	for _, ref := range r.ExcludeTables {
		excluded[ref] = true
	}
	included := map[TableRef]bool{}
	for _, ref := range r.IncludeTables {
		included[ref] = true
	}
	hasInclude := len(r.IncludeTables) > 0

	// schema_only entries must be replicated at all.
	soRanges := info.tableRanges["schema_only"]
	for i, ref := range r.SchemaOnly {
		if i >= len(soRanges) {
			break
		}
		switch {
		case excluded[ref]:
			d.errorf(CodeSchemaOnlyExcluded, soRanges[i].Ptr(), "Schema-only table is excluded",
				"%s is listed in exclude_tables, so neither its structure nor its rows are copied. Remove it from exclude_tables to copy its structure, or from schema_only.", ref)
		case hasInclude && !included[ref]:
			d.errorf(CodeSchemaOnlyNotIncluded, soRanges[i].Ptr(), "Schema-only table is not included",
				"include_tables lists the only tables to replicate, and %s is not among them. Add %q to include_tables, or remove it from schema_only.", ref, ref.String())
		}
	}

	for _, t := range info.tables {
		ref := t.cfg.Ref
		switch {
		case excluded[ref]:
			d.errorf(CodeSettingsExcludedTable, t.labelRange.Ptr(), "Settings for an excluded table",
				"%s is listed in exclude_tables, so this table block has no effect. Remove the table block, or remove %q from exclude_tables.", ref, ref.String())
			continue
		case hasInclude && !included[ref]:
			d.errorf(CodeSettingsNotIncludedTable, t.labelRange.Ptr(), "Settings for a table that is not included",
				"include_tables lists the only tables to replicate, and %s is not among them. Add %q to include_tables, or remove this table block.", ref, ref.String())
			continue
		}
		if schemaOnly[ref] && t.filterRange != nil {
			d.errorf(CodeFilterOnSchemaOnly, t.filterRange, "Row filter on a schema-only table",
				"%s is listed in schema_only, so no rows are copied and the %s filter cannot apply. Remove %s, or remove %q from schema_only to copy the filtered rows.", ref, t.filterName, t.filterName, ref.String())
		}
	}
}

// checkOverlaps warns when two replications write the same database to the
// same target: their snapshots and subscriptions would collide.
func (d *decoder) checkOverlaps() {
	rs := d.cfg.Replications
	for j := 1; j < len(rs); j++ {
		for i := 0; i < j; i++ {
			a, b := rs[i], rs[j]
			if a.Source != "" && a.Source == b.Source && a.Sync.Method != SyncNone && b.Sync.Method != SyncNone &&
				(a.Sync.Publication == b.Sync.Publication || a.Sync.Subscription == b.Sync.Subscription) {
				if overlap, what := databasesOverlap(a, b); overlap {
					d.warnf(CodeSharedReplicationObjects, b.DeclRange.Ptr(), "Replications share replication object names",
						"replication %q and replication %q both read %s from source.%s with publication %q and subscription %q (the subscription name is also the replication slot name on the source), so they would take over each other's objects. Give each a sync block with its own names, e.g. publication = %q and subscription = %q.",
						b.Name, a.Name, what, b.Source, b.Sync.Publication, b.Sync.Subscription, "replicator_"+b.Name+"_pub", "replicator_"+b.Name+"_sub")
				}
			}
			if a.Target == "" || a.Target != b.Target {
				continue
			}
			overlap, what := databasesOverlap(a, b)
			if !overlap {
				continue
			}
			subj := b.DeclRange.Ptr()
			if attr, ok := d.targetAttrs[b]; ok {
				subj = attr.Expr.Range().Ptr()
			}
			d.warnf(CodeOverlappingTargets, subj, "Replications overlap on one target",
				"replication %q (%s) and replication %q both write %s to target.%s, so they would overwrite each other's data and replication objects. Give them different targets, or disjoint databases (databases / exclude_databases).",
				b.Name, rangeLoc(b.DeclRange), a.Name, what, b.Target)
		}
	}
}

// databasesOverlap reports whether two replications may copy a common
// database, and describes it.
func databasesOverlap(a, b *Replication) (bool, string) {
	switch {
	case a.Databases != nil && b.Databases != nil:
		common := intersect(a.Databases, b.Databases)
		if len(common) == 0 {
			return false, ""
		}
		return true, describeDatabases(common)
	case a.Databases != nil:
		left := minus(a.Databases, b.ExcludeDatabases)
		return len(left) > 0, describeDatabases(left)
	case b.Databases != nil:
		left := minus(b.Databases, a.ExcludeDatabases)
		return len(left) > 0, describeDatabases(left)
	}
	return true, "every database neither excludes"
}

func describeDatabases(dbs []string) string {
	if len(dbs) == 1 {
		return fmt.Sprintf("database %q", dbs[0])
	}
	return "databases " + quoteList(dbs)
}

func intersect(a, b []string) []string {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	var out []string
	for _, s := range a {
		if in[s] {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func minus(a, b []string) []string {
	out := []string{}
	drop := map[string]bool{}
	for _, s := range b {
		drop[s] = true
	}
	for _, s := range a {
		if !drop[s] {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
