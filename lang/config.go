// Package lang decodes database-replicator configuration (HCL, and the
// predecessor's TOML) into typed Go values, with diagnostics that point at
// the offending file, line and column.
package lang

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Config is one fully decoded configuration: every file of a directory, or
// one HCL or TOML file, merged.
type Config struct {
	// Files lists the files the configuration was loaded from, in load order.
	Files []string
	// Variables holds every declared variable with its resolved value.
	Variables map[string]*Variable
	// Sources and Targets hold the declared endpoints by name.
	Sources map[string]*Endpoint
	Targets map[string]*Endpoint
	// Replications are in declaration order.
	Replications []*Replication
	// State configures where state is kept; never nil after decoding.
	State *StateConfig
	// FlagMode is set for a configuration built from the predecessor's
	// --source/--target flags or TOML file (FlagConfig, DecodeTOML): the
	// user has no HCL to edit, so diagnostics name flags and commands
	// instead of HCL blocks.
	FlagMode bool
}

// Variable is a declared input variable.
type Variable struct {
	Name        string
	Description string
	// Default is cty.NilVal when the variable has no default.
	Default cty.Value
	// Sensitive variables are never printed in plans, logs or state.
	Sensitive bool
	// Value is the resolved value: --var, then REPLICATOR_VAR_NAME, then default.
	Value     cty.Value
	DeclRange hcl.Range
}

// EndpointKind tells sources from targets.
type EndpointKind string

// Endpoint kinds.
const (
	KindSource EndpointKind = "source"
	KindTarget EndpointKind = "target"
)

// Endpoint is a `source` or `target` block: a PostgreSQL server.
type Endpoint struct {
	Kind EndpointKind
	Name string
	// URL is a libpq URL or key=value connection string. It may hold a
	// password: never print it without redaction.
	URL string
	// Sensitive is true when URL was derived from a sensitive variable.
	Sensitive bool
	DeclRange hcl.Range
}

// Address is the endpoint's reference form, e.g. "source.prod".
func (e *Endpoint) Address() string { return string(e.Kind) + "." + e.Name }

// Replication is a `replication` block: what moves from one source to one
// target, and how it stays in sync.
type Replication struct {
	Name string
	// Source and Target name the endpoints (keys of Config.Sources/Targets).
	Source string
	Target string

	// Databases is the include list; nil means every non-template database.
	Databases []string
	// ExcludeDatabases is mutually exclusive with Databases.
	ExcludeDatabases []string
	// IncludeTables is the table include list; nil means every table.
	IncludeTables []TableRef
	// ExcludeTables is mutually exclusive with IncludeTables.
	ExcludeTables []TableRef
	// SchemaOnly tables get their structure and no rows.
	SchemaOnly []TableRef
	// Tables holds the per-table settings (`table` blocks), in order.
	Tables []*TableConfig
	// Schemas holds the per-schema settings (`schema` blocks), in order.
	Schemas []*SchemaConfig

	Snapshot Snapshot
	Sync     Sync
	Policy   Policy

	DeclRange hcl.Range
}

// TableConfig is a `table "db.schema.table"` block.
type TableConfig struct {
	Ref TableRef
	// Where is a row filter (SQL boolean expression); exclusive with TimeWindow.
	Where string
	// TimeWindow keeps only recent rows; nil when unset.
	TimeWindow *TimeWindow
	// ReplicaIdentity is "" (leave as is), "default" or "full".
	ReplicaIdentity string
	// TargetSchema and TargetTable are the name the table has on the
	// target (`target = "schema.table"`); both empty when it keeps its
	// source name (or its schema block's).
	TargetSchema string
	TargetTable  string
	DeclRange    hcl.Range
}

// SchemaConfig is a `schema "db.schema"` block.
type SchemaConfig struct {
	Database string
	Schema   string
	// Target is the schema the tables of Schema land in on the target
	// (`target = "s2"`); never empty after decoding.
	Target    string
	DeclRange hcl.Range
}

// TargetOf returns the name ref has on the target: its table block's
// target, else its schema block's target schema, else ref itself. The
// database never changes.
func (r *Replication) TargetOf(ref TableRef) TableRef {
	for _, t := range r.Tables {
		if t.TargetTable != "" && t.Ref == ref {
			return TableRef{Database: ref.Database, Schema: t.TargetSchema, Table: t.TargetTable}
		}
	}
	for _, s := range r.Schemas {
		if s.Database == ref.Database && s.Schema == ref.Schema {
			return TableRef{Database: ref.Database, Schema: s.Target, Table: ref.Table}
		}
	}
	return ref
}

// Remaps reports whether any table of the replication lands under another
// name on the target.
func (r *Replication) Remaps() bool {
	if len(r.Schemas) > 0 {
		return true
	}
	for _, t := range r.Tables {
		if t.TargetTable != "" {
			return true
		}
	}
	return false
}

// Predicate returns the SQL row filter this table block implies, or "" when
// it copies every row.
func (t *TableConfig) Predicate() string {
	switch {
	case t.Where != "":
		return t.Where
	case t.TimeWindow != nil:
		return t.TimeWindow.Predicate()
	}
	return ""
}

// TimeWindow keeps rows whose Column lies within the last window.
type TimeWindow struct {
	Column string
	Last   Window
}

// Predicate renders the window as a SQL row filter, quoting the column.
func (w *TimeWindow) Predicate() string {
	return QuoteIdent(w.Column) + " > now() - interval '" + w.Last.String() + "'"
}

// Snapshot configures the initial copy.
type Snapshot struct {
	// Jobs is the number of parallel table copies.
	Jobs int
	// IndexJobs is the number of parallel index/constraint builds.
	IndexJobs int
	// Globals copies roles and grants via pg_dumpall --globals-only.
	Globals bool
	// DropExisting drops and recreates target databases that hold data.
	DropExisting bool
	// SplitLargerThan is the table size in bytes above which a table is
	// copied as several CTID-range parts in parallel (0: never split).
	SplitLargerThan int64
}

// SyncMethod names a continuous-sync engine.
type SyncMethod string

// Sync methods.
const (
	SyncAuto    SyncMethod = "auto"
	SyncLogical SyncMethod = "logical"
	SyncXmin    SyncMethod = "xmin"
	SyncStream  SyncMethod = "stream"
	SyncNone    SyncMethod = "none"
)

// Sync configures continuous replication after the snapshot.
type Sync struct {
	Method SyncMethod
	// Interval is the time between xmin polling cycles.
	Interval time.Duration
	// ReconcileInterval is the time between xmin delete-detection passes;
	// zero when reconciliation is off.
	ReconcileInterval time.Duration
	// BatchSize is the number of rows per upsert batch (xmin, stream).
	BatchSize int
	// Publication and Subscription are the object names on source and target.
	Publication  string
	Subscription string
	// SubscriptionPassword says whether the subscription's connection
	// string carries the password written in the source URL.
	SubscriptionPassword SubscriptionPassword
	// Paused is set by sync { enabled = false }: the subscription is
	// disabled (logical; the slot keeps the changes) and no xmin cycle
	// runs until enabled is true again (the default).
	Paused bool
}

// SubscriptionPassword says what password a subscription's connection
// string carries (PostgreSQL stores it in pg_subscription on the target).
type SubscriptionPassword string

// Subscription password settings.
const (
	// SubscriptionPasswordURL stores the password written in the source
	// URL, if any (plan warns); a password from PGPASSWORD or a password
	// file is never stored.
	SubscriptionPasswordURL SubscriptionPassword = "url"
	// SubscriptionPasswordNone stores no password: the target server
	// authenticates to the source through its own ~/.pgpass or PGPASSFILE.
	SubscriptionPasswordNone SubscriptionPassword = "none"
)

// SchemaDriftPolicy says what to do when source and target schemas differ.
type SchemaDriftPolicy string

// Schema drift policies.
const (
	DriftApply  SchemaDriftPolicy = "apply"
	DriftFail   SchemaDriftPolicy = "fail"
	DriftIgnore SchemaDriftPolicy = "ignore"
	// DriftPlan plans the repair like DriftApply, but sync does not run
	// it: it pauses the affected databases until apply runs a reviewed
	// plan.
	DriftPlan SchemaDriftPolicy = "plan"
)

// Repairs reports whether a plan repairs schema drift (apply and plan).
func (p SchemaDriftPolicy) Repairs() bool { return p == DriftApply || p == DriftPlan }

// Policy holds the guard rails of a replication.
type Policy struct {
	OnSchemaDrift SchemaDriftPolicy
	// MaxLag is the lag beyond which status and plan report drift.
	MaxLag time.Duration
	// PreventDestroy refuses plans that drop replication objects or truncate data.
	PreventDestroy bool
	// CaptureDDL installs an event trigger on each source database that
	// records every DDL statement into a log table replicated with the
	// data, so the target runs each DDL at its point in the stream.
	CaptureDDL bool
}

// StateBackend names where state is stored.
type StateBackend string

// State backends.
const (
	BackendLocal    StateBackend = "local"
	BackendPostgres StateBackend = "postgres"
)

// StateConfig is the `state` block.
type StateConfig struct {
	Backend StateBackend
	// Path is the state file for the local backend.
	Path string
	// URL and Schema locate the postgres backend. URL may hold a password.
	URL    string
	Schema string
	// DeclRange is empty when the block was omitted and defaults apply.
	DeclRange hcl.Range
}

// Defaults used when a block or attribute is omitted.
const (
	DefaultPublication       = "seren_replication_pub"
	DefaultSubscription      = "seren_replication_sub"
	DefaultBatchSize         = 10000
	DefaultSyncInterval      = time.Hour
	DefaultReconcileInterval = 24 * time.Hour
	DefaultMaxLag            = 30 * time.Second
	DefaultStatePath         = "replicator.state.json"
	DefaultStateSchema       = "replicator"
	// DefaultSplitLargerThan is 0: no table is split unless the
	// configuration asks (see docs/performance.md for why).
	DefaultSplitLargerThan = int64(0)
)
