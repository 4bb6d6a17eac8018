package planner

import "github.com/database-replicator/database-replicator/lang/diag"

// Diagnostic codes of the planner, one per rule. They are stable: scripts
// and tests match them, and docs/diagnostics.md explains each one and its
// fix (TestCodesDocumented checks that every code has a row there).
const (
	// CodeServerNotIntrospected: an endpoint of a replication was not
	// introspected before planning (an internal error).
	CodeServerNotIntrospected diag.Code = "plan.server-not-introspected"
	// CodeUnreadableStateEntry: a state entry whose attributes cannot be
	// read.
	CodeUnreadableStateEntry diag.Code = "plan.unreadable-state-entry"
	// CodeUnreadableStateAddress: a state entry whose address does not
	// parse (warning).
	CodeUnreadableStateAddress diag.Code = "plan.unreadable-state-address"
	// CodeSyncMethod: which sync method the replication uses, and why
	// (warning, informational).
	CodeSyncMethod diag.Code = "plan.sync-method"
	// CodeDatabaseNotFound: a database listed in databases is missing on
	// the source.
	CodeDatabaseNotFound diag.Code = "plan.database-not-found"
	// CodeDatabaseNotReplicable: a listed database is a template or does
	// not allow connections.
	CodeDatabaseNotReplicable diag.Code = "plan.database-not-replicable"
	// CodeExcludedDatabaseMissing: a database in exclude_databases does not
	// exist (warning).
	CodeExcludedDatabaseMissing diag.Code = "plan.excluded-database-missing"
	// CodeTableNotFound: a table named in the configuration is missing on
	// the source (a warning for exclude_tables).
	CodeTableNotFound diag.Code = "plan.table-not-found"
	// CodeTargetDatabaseNotEmpty: the target database holds tables and is
	// not recorded in state.
	CodeTargetDatabaseNotEmpty diag.Code = "plan.target-database-not-empty"
	// CodeDropExistingCascade: drop_existing would destroy a table outside
	// the scope that references one inside it.
	CodeDropExistingCascade diag.Code = "plan.drop-existing-cascade"
	// CodeDropExistingOutsideScope: drop_existing also destroys tables
	// outside the scope (warning).
	CodeDropExistingOutsideScope diag.Code = "plan.drop-existing-outside-scope"
	// CodeForeignKeysNotValid: foreign keys are created NOT VALID because
	// tables are row-filtered (warning).
	CodeForeignKeysNotValid diag.Code = "plan.foreign-keys-not-valid"
	// CodeSchemaDrift: the target's schema drifted and
	// policy.on_schema_drift = "fail".
	CodeSchemaDrift diag.Code = "plan.schema-drift"
	// CodeSchemaDriftIgnored: the target's schema drifted and
	// policy.on_schema_drift = "ignore" (warning).
	CodeSchemaDriftIgnored diag.Code = "plan.schema-drift-ignored"
	// CodeSchemaChangeRisky: a planned schema change rewrites a table,
	// blocks writes while it builds, or loses data (warning).
	CodeSchemaChangeRisky diag.Code = "plan.schema-change-risky"
	// CodeSchemaDriftAwaitsReview: schema drift under
	// policy.on_schema_drift = "plan": sync pauses the database until
	// apply runs the reviewed plan (warning).
	CodeSchemaDriftAwaitsReview diag.Code = "plan.schema-drift-awaits-review"
	// CodeColumnBackfillNoKey: a column added on the source goes to a
	// target table without a primary key, whose existing rows cannot be
	// filled from the source's (warning).
	CodeColumnBackfillNoKey diag.Code = "plan.column-backfill-no-key"
	// CodeSchemaDriftUnsupported: a schema difference no planned DDL
	// removes (an enum value only on the target, a domain's base type)
	// (warning).
	CodeSchemaDriftUnsupported diag.Code = "plan.schema-drift-unsupported"
	// CodeRowFilterInvalid: the source rejects a row filter.
	CodeRowFilterInvalid diag.Code = "plan.row-filter-invalid"
	// CodePreventDestroyTruncate: policy.prevent_destroy forbids truncating
	// a table to copy it again.
	CodePreventDestroyTruncate diag.Code = "plan.prevent-destroy-truncate"
	// CodeTruncateCascade: truncating a table to copy it again would
	// cascade to a table outside the scope.
	CodeTruncateCascade diag.Code = "plan.truncate-cascade"
	// CodeSequencesSynced: sequence values are synced, not replicated
	// (warning).
	CodeSequencesSynced diag.Code = "plan.sequences-synced"
	// CodePreventDestroyDrop: policy.prevent_destroy forbids dropping a
	// replication object that is no longer wanted.
	CodePreventDestroyDrop diag.Code = "plan.prevent-destroy-drop"
	// CodeTableNotPublished: a table missing on the target under
	// on_schema_drift = "ignore" is left out of the publication (warning).
	CodeTableNotPublished diag.Code = "plan.table-not-published"
	// CodeRowFilterUnpublishable: the source refuses a row filter in a
	// publication.
	CodeRowFilterUnpublishable diag.Code = "plan.row-filter-unpublishable"
	// CodeRowFilterNeedsPG15: publications carry row filters only from
	// PostgreSQL 15 on.
	CodeRowFilterNeedsPG15 diag.Code = "plan.row-filter-needs-pg15"
	// CodeRowFilterReplicaIdentity: a row filter uses columns outside the
	// replica identity.
	CodeRowFilterReplicaIdentity diag.Code = "plan.row-filter-replica-identity"
	// CodeDatabaseRoleMissing: the source database's owner or a grantee of
	// its ACL does not exist on the target, so that property is not set
	// (warning).
	CodeDatabaseRoleMissing diag.Code = "plan.database-role-missing"
	// CodeNoReplicaIdentity: a published table (or an inheritance child
	// published with it) has no usable replica identity: UPDATE and DELETE
	// on it would fail on the source (error).
	CodeNoReplicaIdentity diag.Code = "plan.no-replica-identity"
	// CodePublicationNotManaged: a publication of that name exists and is
	// not recorded in state.
	CodePublicationNotManaged diag.Code = "plan.publication-not-managed"
	// CodeSlotNotManaged: a replication slot of that name exists and is not
	// recorded in state.
	CodeSlotNotManaged diag.Code = "plan.slot-not-managed"
	// CodeSnapshotResumed: the stream engine resumes an interrupted
	// snapshot, keeping the slot and the tables copied (warning).
	CodeSnapshotResumed diag.Code = "plan.snapshot-resumed"
	// CodeSubscriptionStoresPassword: the source URL's password would be
	// stored in pg_subscription on the target (warning).
	CodeSubscriptionStoresPassword diag.Code = "plan.subscription-stores-password"
	// CodeSubscriptionNotManaged: a subscription of that name exists and is
	// not recorded in state.
	CodeSubscriptionNotManaged diag.Code = "plan.subscription-not-managed"
	// CodeSubscriptionDisabled: the subscription was disabled outside
	// database-replicator (drift; sync does not enable it, apply does).
	CodeSubscriptionDisabled diag.Code = "plan.subscription-disabled"
	// CodeXminNoPrimaryKey: a table without primary key under xmin sync is
	// copied again on every change (warning).
	CodeXminNoPrimaryKey diag.Code = "plan.xmin-no-primary-key"
	// CodeTableSyncIntoRows: the subscription's table sync copies into a
	// target table that already holds rows (warning).
	CodeTableSyncIntoRows diag.Code = "plan.table-sync-into-rows"
	// CodeTableSyncInProgress: the subscription's table sync is still
	// copying tables (warning, informational).
	CodeTableSyncInProgress diag.Code = "plan.table-sync-in-progress"
	// CodeTargetOlderThanSource: the target's major version is older than
	// the source's; neither logical replication nor pg_dump goes backwards.
	CodeTargetOlderThanSource diag.Code = "plan.target-older-than-source"
	// CodePgDumpOlderThanSource: the local pg_dump is older than the
	// source server, which it refuses to dump.
	CodePgDumpOlderThanSource diag.Code = "plan.pg-dump-older-than-source"
	// CodeTableAmbiguous: a table-list entry without a database matches a
	// table in several databases in scope.
	CodeTableAmbiguous diag.Code = "plan.table-ambiguous"
)

// Codes of import (Import): an existing publication, slot or subscription
// brought under management.
const (
	// CodeImportKindUnsupported: the address is not a publication, slot or
	// subscription.
	CodeImportKindUnsupported diag.Code = "plan.import-kind-unsupported"
	// CodeImportAlreadyManaged: the state already records the address.
	CodeImportAlreadyManaged diag.Code = "plan.import-already-managed"
	// CodeImportNotInConfiguration: the configuration plans no resource
	// at the address (unknown replication, database out of scope, a sync
	// method without publications).
	CodeImportNotInConfiguration diag.Code = "plan.import-not-in-configuration"
	// CodeImportObjectNotFound: the server has no object of that name.
	CodeImportObjectNotFound diag.Code = "plan.import-object-not-found"
	// CodeImportMismatch: the object differs from what the configuration
	// wants (one error per difference, each with its fix).
	CodeImportMismatch diag.Code = "plan.import-mismatch"
	// CodeImportSubscriptionDisabled: the imported subscription is
	// disabled; the next plan enables it (warning).
	CodeImportSubscriptionDisabled diag.Code = "plan.import-subscription-disabled"
	// CodeImportPublicationAllTables: the imported publication is FOR ALL
	// TABLES, which ALTER PUBLICATION cannot change (warning).
	CodeImportPublicationAllTables diag.Code = "plan.import-publication-all-tables"
	// CodeCutOver: the state records a finished cutover of a database in
	// scope: the target is the primary now, and planning the replication
	// again would copy the old primary over it.
	CodeCutOver diag.Code = "plan.cut-over"
	// CodeCutoverInProgress: a cutover of a database in scope was
	// interrupted; only cutover may go on or roll it back.
	CodeCutoverInProgress diag.Code = "plan.cutover-in-progress"
	// CodeRemapCollision: two tables in scope land under one name on the
	// target (a remapped table onto another's name).
	CodeRemapCollision diag.Code = "plan.remap-collision"
	// CodeDDLCaptureNeedsSuperuser: policy.capture_ddl is set and the
	// source user cannot create event triggers (superusers only).
	CodeDDLCaptureNeedsSuperuser diag.Code = "plan.ddl-capture-needs-superuser"
	// CodeDDLCaptureUnsupported: policy.capture_ddl is set where captured
	// DDL cannot be replayed (sync method none), or joins a streaming
	// subscription in the same plan as tables for its table sync.
	CodeDDLCaptureUnsupported diag.Code = "plan.ddl-capture-unsupported"
	// CodeRemapUnsupported: a partitioned table or a partition is
	// remapped.
	CodeRemapUnsupported diag.Code = "plan.remap-unsupported"
	// CodeRemapChanged: a copied table's remapping target changed.
	CodeRemapChanged diag.Code = "plan.remap-changed"
)
