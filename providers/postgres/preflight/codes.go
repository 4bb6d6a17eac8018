package preflight

import "github.com/database-replicator/database-replicator/lang/diag"

// Codes of the live preflight checks, one per check. They are stable:
// `validate --json` carries them, scripts match them, and
// docs/diagnostics.md explains each one and its fix (TestCodesDocumented
// checks that every code has a row there).
const (
	// CodeConnectionString: the endpoint's connection string parses.
	CodeConnectionString diag.Code = "preflight.connection-string"
	// CodeReachable: the endpoint accepts a connection and its server
	// facts can be read.
	CodeReachable diag.Code = "preflight.reachable"
	// CodeServerVersion: the server runs PostgreSQL 12 or newer.
	CodeServerVersion diag.Code = "preflight.server-version"
	// CodeTargetVersion: the target's major version is at least the
	// source's.
	CodeTargetVersion diag.Code = "preflight.target-version"
	// CodePgDumpAvailable: a local pg_dump can be found and run.
	CodePgDumpAvailable diag.Code = "preflight.pg-dump-available"
	// CodePgDumpVersion: the local pg_dump's major version is at least the
	// source's.
	CodePgDumpVersion diag.Code = "preflight.pg-dump-version"
	// CodeWalLevel: the source's wal_level allows the logical or stream
	// sync the replication asks for.
	CodeWalLevel diag.Code = "preflight.wal-level"
	// CodeSyncMethod: which method sync = "auto" picks, a warning when it
	// falls back to xmin.
	CodeSyncMethod diag.Code = "preflight.sync-method"
	// CodeSourceDatabases: the databases listed exist on the source.
	CodeSourceDatabases diag.Code = "preflight.source-databases"
	// CodeReplicationPrivilege: the source user may replicate
	// (REPLICATION, rds_replication or superuser).
	CodeReplicationPrivilege diag.Code = "preflight.replication-privilege"
	// CodeReplicationSlots: the source has a free replication slot per
	// database.
	CodeReplicationSlots diag.Code = "preflight.replication-slots"
	// CodeWalSenders: the source has a free WAL sender per database.
	CodeWalSenders diag.Code = "preflight.wal-senders"
	// CodeRowFilters: the source supports row filters in publications
	// (PostgreSQL 15+).
	CodeRowFilters diag.Code = "preflight.row-filters"
	// CodeCreateDBPrivilege: the target user may create databases.
	CodeCreateDBPrivilege diag.Code = "preflight.createdb-privilege"
	// CodeSubscriptionPrivilege: the target user may create subscriptions.
	CodeSubscriptionPrivilege diag.Code = "preflight.subscription-privilege"
	// CodeTargetReachesSource: the target server can connect to the source
	// the way its subscription will.
	CodeTargetReachesSource diag.Code = "preflight.target-reaches-source"
	// CodeSlotRetention: max_slot_wal_keep_size on the source (informational).
	CodeSlotRetention diag.Code = "preflight.slot-retention"
)
