package xminsync

import "github.com/database-replicator/database-replicator/providers/postgres/catalog"

// FromCatalog describes an introspected source table for the engine: every
// column but generated ones, its key, the row filter, and the watermark its
// copy started from. The key is the primary key or, for a table without
// one, the columns of a unique index over NOT NULL columns (catalog
// UniqueKey): such a key tells rows apart exactly as well, so the table is
// upserted and reconciled row by row instead of copied again on change.
func FromCatalog(key string, t *catalog.Table, filter string, start uint64) Table {
	pk := t.PrimaryKey
	if len(pk) == 0 {
		pk = t.UniqueKey
	}
	out := Table{Key: key, Schema: t.Schema, Name: t.Name, PrimaryKey: pk, Filter: filter, Start: start,
		Partitioned: t.Kind == catalog.KindPartitioned}
	for _, c := range t.Columns {
		if c.Generated != "" {
			continue
		}
		out.Columns = append(out.Columns, Column{Name: c.Name, Type: c.Type, IdentityAlways: c.Identity == "a"})
	}
	return out
}
