package planner

import (
	"fmt"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

// Fallback says why sync.method = "auto" did not pick logical replication.
type Fallback int

// Reasons for auto to fall back to xmin.
const (
	// NoFallback: the method is logical, or was configured explicitly.
	NoFallback Fallback = iota
	// FallbackWalLevel: the source's wal_level is not logical.
	FallbackWalLevel
	// FallbackPrivilege: the source user has neither superuser, REPLICATION
	// nor rds_replication, so it may not create a replication slot.
	FallbackPrivilege
)

// MethodDecision is the sync method of a replication and why it was chosen.
// It is the one decision every command uses: plan and sync print Why,
// validate turns it into a check, status and verify follow Method.
type MethodDecision struct {
	// Method is the engine to run: never auto.
	Method lang.SyncMethod
	// Configured is true when sync.method named the method (not auto).
	Configured bool
	// Fallback says why auto chose xmin; NoFallback otherwise.
	Fallback Fallback
	// Why is the explanation plan and sync print.
	Why string
}

// DecideMethod decides the sync method for a replication: an explicit
// sync.method is taken as is; auto picks logical when the source has
// wal_level=logical and its user may replicate (superuser, REPLICATION or
// rds_replication, as docs/sync.md says), and xmin otherwise.
func DecideMethod(r *lang.Replication, src *catalog.Server) MethodDecision {
	if r.Sync.Method != lang.SyncAuto {
		return MethodDecision{Method: r.Sync.Method, Configured: true, Why: fmt.Sprintf("sync.method = %q", r.Sync.Method)}
	}
	if src.WalLevel != "logical" {
		return MethodDecision{Method: lang.SyncXmin, Fallback: FallbackWalLevel,
			Why: fmt.Sprintf("Source has wal_level=%s: using xmin-based sync (no source changes required)", src.WalLevel)}
	}
	p := src.Privileges
	if !p.Superuser && !p.Replication && !p.RDSReplication {
		return MethodDecision{Method: lang.SyncXmin, Fallback: FallbackPrivilege,
			Why: fmt.Sprintf("Source user %s has neither REPLICATION nor rds_replication: using xmin-based sync (grant REPLICATION for logical replication)", src.CurrentUser)}
	}
	return MethodDecision{Method: lang.SyncLogical, Why: "Source has wal_level=logical: using logical replication"}
}

// ResolveMethod is DecideMethod's method and explanation.
func ResolveMethod(r *lang.Replication, src *catalog.Server) (lang.SyncMethod, string) {
	d := DecideMethod(r, src)
	return d.Method, d.Why
}
