package planner

import (
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
)

// DatabaseOf returns the database a resource belongs to: the key itself
// for database-level kinds (database, schema, publication, slot, ...), the
// database part of the table reference for table and xmin resources, and
// "" for globals or a key that does not parse.
func DatabaseOf(a addrs.Addr) string {
	switch a.Kind {
	case addrs.Globals:
		return ""
	case addrs.Table, addrs.Xmin:
		ref, err := lang.ParseTableRef(a.Key)
		if err != nil {
			return ""
		}
		return ref.Database
	}
	return a.Key
}
