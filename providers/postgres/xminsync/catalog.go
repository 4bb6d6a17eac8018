package xminsync

import "github.com/database-replicator/database-replicator/providers/postgres/catalog"

// FromCatalog describes an introspected source table for the engine: every
// column but generated ones, its primary key, the row filter, and the
// watermark its copy started from.
func FromCatalog(key string, t *catalog.Table, filter string, start uint64) Table {
	out := Table{Key: key, Schema: t.Schema, Name: t.Name, PrimaryKey: t.PrimaryKey, Filter: filter, Start: start,
		Partitioned: t.Kind == catalog.KindPartitioned}
	for _, c := range t.Columns {
		if c.Generated != "" {
			continue
		}
		out.Columns = append(out.Columns, Column{Name: c.Name, Type: c.Type, IdentityAlways: c.Identity == "a"})
	}
	return out
}
