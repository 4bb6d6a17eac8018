package picker

import (
	"fmt"
	"slices"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
)

// Summary is what the picker shows before asking for confirmation.
type Summary struct {
	// Databases are the chosen databases, sorted.
	Databases []DatabaseSummary
	// Bytes is the size of the tables whose rows are copied; a filtered
	// table counts whole, so it is an upper bound.
	Bytes int64
	// Time is Bytes at planning.CopyRate, in whole seconds, at least one.
	Time time.Duration
	// Method is the sync method after the snapshot, and why.
	Method planner.MethodDecision
	// Attention lists what the user should know before confirming, one
	// sentence each.
	Attention []string
}

// DatabaseSummary is what happens to one chosen database.
type DatabaseSummary struct {
	// Name is the database name.
	Name string
	// Copied are the tables copied with every row.
	Copied []Table
	// Filtered are the tables copied with some of their rows.
	Filtered []FilteredTable
	// SchemaOnly are the tables copied as structure only.
	SchemaOnly []lang.TableRef
	// Excluded are the tables left out.
	Excluded []lang.TableRef
	// Bytes is the size of the copied and filtered tables.
	Bytes int64
}

// FilteredTable is a copied table with its row filter.
type FilteredTable struct {
	Table Table
	// Filter is the SQL condition or the time window, as the plan shows it.
	Filter string
}

// Summarize describes what the choices copy from src, how long that may
// take, the sync method, and what needs attention.
func Summarize(src *catalog.Server, c Choices) Summary {
	s := Summary{Method: c.MethodDecision(src)}
	filters := map[lang.TableRef]Filter{}
	for _, f := range c.Filters {
		filters[f.Table] = f
	}
	logical := s.Method.Method == lang.SyncLogical || s.Method.Method == lang.SyncStream
	var attention []string
	note := func(format string, args ...any) { attention = append(attention, fmt.Sprintf(format, args...)) }
	if s.Method.Fallback != planner.NoFallback {
		note("%s.", s.Method.Why)
	}
	if s.Method.Method == lang.SyncNone {
		note("sync method none: the target is a one-off copy, nothing keeps it in sync afterwards.")
	}
	needs := c.NeedsIdentity(src)
	outside := c.WindowsOutsideKey(src)
	for _, db := range slices.Sorted(slices.Values(c.Databases)) {
		ds := DatabaseSummary{Name: db}
		for _, t := range Tables(src, db) {
			switch {
			case slices.Contains(c.Exclude, t.Ref):
				ds.Excluded = append(ds.Excluded, t.Ref)
				continue
			case slices.Contains(c.SchemaOnly, t.Ref):
				ds.SchemaOnly = append(ds.SchemaOnly, t.Ref)
				continue
			}
			ds.Bytes += t.Bytes
			if f, ok := filters[t.Ref]; ok {
				ds.Filtered = append(ds.Filtered, FilteredTable{Table: t, Filter: f.describe()})
			} else {
				ds.Copied = append(ds.Copied, t)
			}
			switch {
			case slices.Contains(c.ReplicaIdentityFull, t.Ref) && len(t.PrimaryKey) == 0:
				note("%s has no primary key: published with REPLICA IDENTITY FULL, set on the source and the target (each UPDATE and DELETE then carries the whole row).", t.Ref)
			case slices.Contains(c.ReplicaIdentityFull, t.Ref):
				note("%s is published with REPLICA IDENTITY FULL, set on the source and the target: its time window's column is not in the primary key.", t.Ref)
			case slices.Contains(needs, t.Ref):
				note("%s has no primary key: plan will refuse to publish it until it is excluded or given replica_identity = \"full\".", t.Ref)
			case s.Method.Method == lang.SyncXmin && len(t.PrimaryKey) == 0:
				note("%s has no primary key: xmin sync compares it as a multiset of rows whenever it changes.", t.Ref)
			}
			if f, ok := filters[t.Ref]; ok && logical {
				switch {
				case src.VersionNum < 150000:
					note("%s has a row filter, and the source runs PostgreSQL %s: publications carry row filters from 15 on, so plan will refuse it (choose sync method xmin, or drop the filter).", t.Ref, src.Version)
				case slices.Contains(outside, t.Ref):
					note("%s: the time window's column %q is not in the primary key; plan will refuse it unless the table gets replica_identity = \"full\".", t.Ref, f.Window.Column)
				case f.Where != "" && !slices.Contains(c.ReplicaIdentityFull, t.Ref):
					note("%s: a published row filter may use only replica-identity columns (the primary key) unless the table has REPLICA IDENTITY FULL; plan checks it.", t.Ref)
				}
			}
		}
		if d := src.Database(db); d != nil && d.LargeObjects > 0 {
			note("%s has %s: copied by the snapshot only, later changes to them are not replicated.", db, plural64(d.LargeObjects, "large object", "large objects"))
		}
		s.Bytes += ds.Bytes
		s.Databases = append(s.Databases, ds)
	}
	if len(c.Filters) > 0 {
		note("A filtered table counts whole in the size and time estimate.")
	}
	s.Time = max(time.Duration(s.Bytes/planning.CopyRate*int64(time.Second)), time.Second).Round(time.Second)
	s.Attention = attention
	return s
}

// describe renders the filter as the plan shows it: the condition, or
// the time window.
func (f Filter) describe() string {
	if f.Window != nil {
		return fmt.Sprintf("%s within the last %s", f.Window.Column, f.Window.Last)
	}
	return "where " + f.Where
}
