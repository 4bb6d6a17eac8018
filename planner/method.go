package planner

import (
	"fmt"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

// ResolveMethod decides the sync method for a replication: auto picks
// logical when the source has wal_level=logical and the privileges for it,
// and xmin otherwise. The explanation is printed by plan and sync.
func ResolveMethod(r *lang.Replication, src *catalog.Server) (lang.SyncMethod, string) {
	if r.Sync.Method != lang.SyncAuto {
		return r.Sync.Method, fmt.Sprintf("sync.method = %q", r.Sync.Method)
	}
	if src.WalLevel != "logical" {
		return lang.SyncXmin, fmt.Sprintf("Source has wal_level=%s: using xmin-based sync (no source changes required)", src.WalLevel)
	}
	p := src.Privileges
	if !p.Superuser && !p.Replication && !p.RDSReplication {
		return lang.SyncXmin, fmt.Sprintf("Source user %s has neither REPLICATION nor rds_replication: using xmin-based sync (grant REPLICATION for logical replication)", src.CurrentUser)
	}
	return lang.SyncLogical, "Source has wal_level=logical: using logical replication"
}
