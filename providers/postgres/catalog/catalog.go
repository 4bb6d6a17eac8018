package catalog

// This file is the introspection model: plain data read from the catalogs
// of one server by Introspect. Every name (database, schema, table, column,
// role) is stored literally, as PostgreSQL stores it, never quoted; quote
// with pgx.Identifier{...}.Sanitize() when building SQL. Slices are sorted
// so that two introspections of an unchanged server are equal.

import "strings"

// Server is what the planner knows about one PostgreSQL server.
type Server struct {
	// VersionNum is server_version_num, e.g. 150004.
	VersionNum int `json:"version_num"`
	// Version is server_version, e.g. "15.4 (Debian 15.4-1)".
	Version string `json:"version"`
	// WalLevel is the wal_level setting: minimal, replica or logical.
	WalLevel string `json:"wal_level"`
	// InRecovery is true on a standby (pg_is_in_recovery()).
	InRecovery bool `json:"in_recovery"`
	// MaxReplicationSlots is the max_replication_slots setting.
	MaxReplicationSlots int `json:"max_replication_slots"`
	// UsedReplicationSlots is the number of existing replication slots.
	UsedReplicationSlots int `json:"used_replication_slots"`
	// MaxSlotWALKeepSize is the max_slot_wal_keep_size setting as the
	// server shows it ("-1" for unlimited, "" before PostgreSQL 13).
	MaxSlotWALKeepSize string `json:"max_slot_wal_keep_size,omitempty"`
	// MaxWalSenders is the max_wal_senders setting.
	MaxWalSenders int `json:"max_wal_senders"`
	// UsedWalSenders is the number of running walsender processes.
	UsedWalSenders int `json:"used_wal_senders"`
	// MaxWorkerProcesses is the max_worker_processes setting.
	MaxWorkerProcesses int `json:"max_worker_processes"`
	// MaxLogicalReplicationWorkers is the max_logical_replication_workers
	// setting (apply and table-sync workers of subscriptions).
	MaxLogicalReplicationWorkers int `json:"max_logical_replication_workers"`
	// CurrentUser is the role the connection runs as.
	CurrentUser string `json:"current_user"`
	// Privileges are the current user's role attributes and memberships.
	Privileges Privileges `json:"privileges"`
	// Roles are the names of every role of the server, sorted.
	Roles []string `json:"roles,omitempty"`
	// Databases are all databases of the server, sorted by name.
	Databases []*Database `json:"databases"`
	// Slots are all replication slots of the server, sorted by name.
	Slots []Slot `json:"slots"`
	// CurrentWALLSN is pg_current_wal_lsn() (pg_last_wal_replay_lsn() on
	// a standby) when the introspection ran.
	CurrentWALLSN string `json:"current_wal_lsn"`
}

// Privileges are the attributes of the current user that decide what the
// tool may do on a server.
type Privileges struct {
	// Superuser is rolsuper.
	Superuser bool `json:"superuser"`
	// Replication is rolreplication.
	Replication bool `json:"replication"`
	// CreateDB is rolcreatedb.
	CreateDB bool `json:"create_db"`
	// CreateRole is rolcreaterole.
	CreateRole bool `json:"create_role"`
	// RDSReplication is membership of rds_replication (Amazon RDS and
	// Aurora); false when that role does not exist.
	RDSReplication bool `json:"rds_replication"`
	// RDSSuperuser is membership of rds_superuser; false when that role
	// does not exist.
	RDSSuperuser bool `json:"rds_superuser"`
	// ReadSubscriptionConnInfo is true when the user may read
	// pg_subscription.subconninfo (superusers only, normally).
	ReadSubscriptionConnInfo bool `json:"read_subscription_conninfo"`
}

// Database returns the database with this name, or nil.
func (s *Server) Database(name string) *Database {
	if s == nil {
		return nil
	}
	for _, d := range s.Databases {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// Slot returns the replication slot with this name, or nil.
func (s *Server) Slot(name string) *Slot {
	if s == nil {
		return nil
	}
	for i := range s.Slots {
		if s.Slots[i].Name == name {
			return &s.Slots[i]
		}
	}
	return nil
}

// Database is one database of a server. Only Name, Owner, Encoding,
// Collate, CType, AllowConn, IsTemplate, Settings, ACL and Comment are
// filled for a database that was not introspected (Introspected false).
type Database struct {
	// Name is the database name.
	Name string `json:"name"`
	// Owner is the owning role.
	Owner string `json:"owner"`
	// Encoding is the server encoding name, e.g. UTF8.
	Encoding string `json:"encoding"`
	// Collate is datcollate.
	Collate string `json:"collate"`
	// CType is datctype.
	CType string `json:"ctype"`
	// SizeBytes is pg_database_size, or 0 when the database was not
	// introspected or the user may not connect.
	SizeBytes int64 `json:"size_bytes"`
	// AllowConn is datallowconn.
	AllowConn bool `json:"allow_conn"`
	// IsTemplate is datistemplate.
	IsTemplate bool `json:"is_template"`
	// Settings are the database's own settings (ALTER DATABASE ... SET),
	// "name=value" as pg_db_role_setting stores them, sorted; nil if none.
	Settings []string `json:"settings,omitempty"`
	// ACL is datacl as aclitem texts ("grantee=privileges/grantor", "" as
	// grantee for PUBLIC); nil for the default (never granted or revoked).
	ACL []string `json:"acl,omitempty"`
	// Comment is the database's comment, "" if none.
	Comment string `json:"comment,omitempty"`
	// Introspected is true when the fields below were read.
	Introspected bool `json:"introspected"`
	// Schemas are the user schemas (not pg_catalog, information_schema,
	// pg_toast*, pg_temp*), sorted.
	Schemas []string `json:"schemas,omitempty"`
	// Tables are the ordinary and partitioned tables of the user
	// schemas, sorted by schema, then name.
	Tables []*Table `json:"tables,omitempty"`
	// Sequences are the sequences of the user schemas, sorted by schema,
	// then name.
	Sequences []*Sequence `json:"sequences,omitempty"`
	// MaterializedViews are the materialized views of the user schemas,
	// each after the materialized views it reads (REFRESH order).
	MaterializedViews []MaterializedView `json:"materialized_views,omitempty"`
	// Publications are the publications of the database, sorted by name.
	Publications []*Publication `json:"publications,omitempty"`
	// Subscriptions are the subscriptions that live in this database,
	// sorted by name.
	Subscriptions []*Subscription `json:"subscriptions,omitempty"`
	// LargeObjects is the number of large objects (not replicated by
	// logical replication).
	LargeObjects int64 `json:"large_objects"`
	// Extensions are the installed extensions' names, sorted.
	Extensions []string `json:"extensions,omitempty"`
}

// Table returns the table schema.name, or nil.
func (d *Database) Table(schema, name string) *Table {
	if d == nil {
		return nil
	}
	for _, t := range d.Tables {
		if t.Schema == schema && t.Name == name {
			return t
		}
	}
	return nil
}

// Sequence returns the sequence schema.name, or nil.
func (d *Database) Sequence(schema, name string) *Sequence {
	if d == nil {
		return nil
	}
	for _, s := range d.Sequences {
		if s.Schema == schema && s.Name == name {
			return s
		}
	}
	return nil
}

// Publication returns the publication with this name, or nil.
func (d *Database) Publication(name string) *Publication {
	if d == nil {
		return nil
	}
	for _, p := range d.Publications {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Subscription returns the subscription with this name, or nil.
func (d *Database) Subscription(name string) *Subscription {
	if d == nil {
		return nil
	}
	for _, s := range d.Subscriptions {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Table kinds (pg_class.relkind).
const (
	KindTable       = "r"
	KindPartitioned = "p"
)

// Replica identities (pg_class.relreplident, spelled out).
const (
	ReplicaIdentityDefault = "default"
	ReplicaIdentityNothing = "nothing"
	ReplicaIdentityFull    = "full"
	ReplicaIdentityIndex   = "index"
)

// Table is an ordinary or partitioned table.
type Table struct {
	// Schema is the schema name.
	Schema string `json:"schema"`
	// Name is the table name.
	Name string `json:"name"`
	// OID is the pg_class oid (differs between servers).
	OID uint32 `json:"oid"`
	// Kind is KindTable ("r") or KindPartitioned ("p").
	Kind string `json:"kind"`
	// Unlogged is true for an UNLOGGED table (which logical replication
	// cannot publish).
	Unlogged bool `json:"unlogged,omitempty"`
	// Parent is the partition parent as a qualified name, each part
	// quoted only where needed (format('%I.%I')), e.g. public.measurements
	// or "Sales EU"."Orders"; "" when the table is not a partition.
	// ParentSchema and ParentName hold it literally.
	Parent string `json:"parent,omitempty"`
	// ParentSchema is the partition parent's schema, literally.
	ParentSchema string `json:"parent_schema,omitempty"`
	// ParentName is the partition parent's name, literally.
	ParentName string `json:"parent_name,omitempty"`
	// Inherits are the parents of table inheritance (INHERITS, not
	// partitioning) in declaration order; nil for most tables.
	Inherits []RelName `json:"inherits,omitempty"`
	// EstimatedRows is reltuples; -1 (unknown) when the table was never
	// analysed. A partitioned table has the sum of its partitions'.
	EstimatedRows int64 `json:"estimated_rows"`
	// Bytes is the main fork of the heap and of its TOAST table
	// (pg_relation_size of both: pg_table_size, which adds the free space
	// and visibility maps and the TOAST index, costs twice as much per table
	// and dominated plan on 50,000 tables); a partitioned table has the sum
	// of its partitions'.
	Bytes int64 `json:"bytes"`
	// Columns are the live columns in attnum order.
	Columns []Column `json:"columns"`
	// PrimaryKey are the primary key's columns in key order, nil when
	// the table has none.
	PrimaryKey []string `json:"primary_key,omitempty"`
	// ReplicaIdentity is one of the ReplicaIdentity* constants.
	ReplicaIdentity string `json:"replica_identity"`
	// ReplicaIdentityIndex is the index named by REPLICA IDENTITY USING
	// INDEX (same schema as the table), "" otherwise.
	ReplicaIdentityIndex string `json:"replica_identity_index,omitempty"`
	// ForeignKeys are the foreign keys declared on this table (outgoing),
	// sorted by name. FromSchema/FromTable are this table.
	ForeignKeys []ForeignKey `json:"foreign_keys,omitempty"`
	// ReferencedBy are the foreign keys of other tables (or this one)
	// that reference this table (incoming), sorted by referencing table,
	// then name. RefSchema/RefTable are this table.
	ReferencedBy []ForeignKey `json:"referenced_by,omitempty"`
	// HasUniqueNotNullIndex is true when a valid, unique, non-partial,
	// immediate index over plain NOT NULL columns exists (the primary key
	// counts): a candidate for REPLICA IDENTITY USING INDEX.
	HasUniqueNotNullIndex bool `json:"has_unique_not_null_index"`
	// UniqueKey is the key columns of such an index, in index order: the
	// primary key's when there is one, else the replica identity index's,
	// else the one with the fewest columns. Nil when there is none.
	UniqueKey []string `json:"unique_key,omitempty"`
}

// RelName is a schema-qualified relation name, stored literally.
type RelName struct {
	// Schema is the schema name.
	Schema string `json:"schema"`
	// Name is the relation name.
	Name string `json:"name"`
}

// UsableReplicaIdentity reports whether UPDATE and DELETE on the table
// still work once it is published: it has REPLICA IDENTITY FULL, USING
// INDEX, or the default with a primary key.
func (t *Table) UsableReplicaIdentity() bool {
	switch t.ReplicaIdentity {
	case ReplicaIdentityFull:
		return true
	case ReplicaIdentityIndex:
		return t.ReplicaIdentityIndex != ""
	case ReplicaIdentityDefault:
		return len(t.PrimaryKey) > 0
	}
	return false
}

// Column returns the column with this name, or nil.
func (t *Table) Column(name string) *Column {
	if t == nil {
		return nil
	}
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// Column is one live column of a table.
type Column struct {
	// Name is the column name.
	Name string `json:"name"`
	// Type is format_type(atttypid, atttypmod), e.g. "character varying(20)".
	Type string `json:"type"`
	// NotNull is attnotnull.
	NotNull bool `json:"not_null,omitempty"`
	// Generated is attgenerated: "" or "s" (stored).
	Generated string `json:"generated,omitempty"`
	// GenerationExpression is the expression of a generated column.
	GenerationExpression string `json:"generation_expression,omitempty"`
	// Identity is attidentity: "", "a" (ALWAYS) or "d" (BY DEFAULT).
	Identity string `json:"identity,omitempty"`
	// Default is the column default as PostgreSQL deparses it, "" when
	// none (and for generated columns).
	Default string `json:"default,omitempty"`
}

// ForeignKey is one foreign key constraint, seen from either end.
type ForeignKey struct {
	// Name is the constraint name.
	Name string `json:"name"`
	// FromSchema is the schema of the referencing table.
	FromSchema string `json:"from_schema"`
	// FromTable is the referencing table (the one the key is declared on).
	FromTable string `json:"from_table"`
	// Columns are the referencing columns, in key order.
	Columns []string `json:"columns"`
	// RefSchema is the schema of the referenced table.
	RefSchema string `json:"ref_schema"`
	// RefTable is the referenced table.
	RefTable string `json:"ref_table"`
	// RefColumns are the referenced columns, in key order.
	RefColumns []string `json:"ref_columns"`
	// OnDelete is the delete action: NO ACTION, RESTRICT, CASCADE,
	// SET NULL or SET DEFAULT.
	OnDelete string `json:"on_delete"`
	// OnUpdate is the update action, spelled like OnDelete.
	OnUpdate string `json:"on_update"`
}

// Sequence is one sequence and its current value.
type Sequence struct {
	// Schema is the schema name.
	Schema string `json:"schema"`
	// Name is the sequence name.
	Name string `json:"name"`
	// OwnedByTable is the table of OWNED BY (serial, identity), "" if none.
	// OWNED BY requires the table to be in the sequence's schema.
	OwnedByTable string `json:"owned_by_table,omitempty"`
	// OwnedByColumn is the column of OWNED BY, "" if none.
	OwnedByColumn string `json:"owned_by_column,omitempty"`
	// Identity is true for the sequence behind an identity column.
	Identity bool `json:"identity,omitempty"`
	// Readable is false when the user lacks SELECT or USAGE on the
	// sequence: LastValue and IsCalled are then unknown (Start, false).
	Readable bool `json:"readable"`
	// LastValue is the sequence's last_value; Start when never used.
	LastValue int64 `json:"last_value"`
	// IsCalled is is_called: false when nextval was never called (or
	// setval(..., false)), so the next value is LastValue itself.
	IsCalled bool `json:"is_called"`
	// Start is the start value.
	Start int64 `json:"start"`
	// Increment is the increment.
	Increment int64 `json:"increment"`
	// DataType is smallint, integer or bigint.
	DataType string `json:"data_type"`
}

// Publication is one publication.
type Publication struct {
	// Name is the publication name.
	Name string `json:"name"`
	// Owner is the owning role.
	Owner string `json:"owner"`
	// AllTables is true for FOR ALL TABLES.
	AllTables bool `json:"all_tables"`
	// Insert is true when inserts are published.
	Insert bool `json:"insert"`
	// Update is true when updates are published.
	Update bool `json:"update"`
	// Delete is true when deletes are published.
	Delete bool `json:"delete"`
	// Truncate is true when truncates are published.
	Truncate bool `json:"truncate"`
	// ViaRoot is publish_via_partition_root.
	ViaRoot bool `json:"via_root"`
	// Tables are the published tables as pg_publication_tables lists them
	// (FOR ALL TABLES and TABLES IN SCHEMA expanded), except that a
	// partitioned table whose every leaf partition is published appears
	// as itself, not as its partitions; sorted by schema, then name.
	Tables []PublicationTable `json:"tables,omitempty"`
}

// PublicationTable is one table of a publication.
type PublicationTable struct {
	// Schema is the schema name.
	Schema string `json:"schema"`
	// Name is the table name.
	Name string `json:"name"`
	// RowFilter is the row filter as PostgreSQL deparses it, e.g.
	// "(id <= 10)"; "" when none or before PostgreSQL 15.
	RowFilter string `json:"row_filter,omitempty"`
	// Columns is the column list in attnum order, nil when the table is
	// published with all its columns (or before PostgreSQL 15).
	Columns []string `json:"columns,omitempty"`
}

// Subscription is one subscription of a database.
type Subscription struct {
	// Name is the subscription name.
	Name string `json:"name"`
	// Owner is the owning role.
	Owner string `json:"owner"`
	// Enabled is subenabled.
	Enabled bool `json:"enabled"`
	// SlotName is the remote slot, "" for slot_name = NONE.
	SlotName string `json:"slot_name"`
	// Publications are the subscribed publications, as stored.
	Publications []string `json:"publications"`
	// ConnInfo is the connection string with its password redacted, ""
	// when the user may not read it (see Privileges.ReadSubscriptionConnInfo).
	ConnInfo string `json:"conninfo"`
	// Tables are the relations the subscription synchronizes, sorted by
	// schema, then name.
	Tables []SubscriptionTable `json:"tables,omitempty"`
}

// StoresPassword reports whether the subscription's connection string holds
// a password; known is false when the user may not read it.
func (s *Subscription) StoresPassword() (has, known bool) {
	if s.ConnInfo == "" {
		return false, false
	}
	for _, f := range strings.Fields(s.ConnInfo) {
		if strings.HasPrefix(f, "password=") {
			return true, true
		}
	}
	return false, true
}

// Subscription table states (pg_subscription_rel.srsubstate).
const (
	SubStateInit     = "i"
	SubStateDataSync = "d"
	SubStateFinished = "f"
	SubStateSyncDone = "s"
	SubStateReady    = "r"
)

// SubscriptionTable is the synchronization state of one table of a
// subscription.
type SubscriptionTable struct {
	// Schema is the local table's schema.
	Schema string `json:"schema"`
	// Name is the local table's name.
	Name string `json:"name"`
	// State is one of the SubState* constants.
	State string `json:"state"`
	// LSN is srsublsn, "" when NULL.
	LSN string `json:"lsn,omitempty"`
}

// Slot is one replication slot.
type Slot struct {
	// Name is the slot name.
	Name string `json:"name"`
	// Plugin is the output plugin of a logical slot, "" for physical.
	Plugin string `json:"plugin,omitempty"`
	// SlotType is "logical" or "physical".
	SlotType string `json:"slot_type"`
	// Database is the database of a logical slot, "" for physical.
	Database string `json:"database,omitempty"`
	// Temporary is true for a temporary slot.
	Temporary bool `json:"temporary,omitempty"`
	// Active is true while a process streams from the slot.
	Active bool `json:"active"`
	// ActivePID is that process's pid, 0 when inactive.
	ActivePID int `json:"active_pid,omitempty"`
	// RestartLSN is restart_lsn, "" when NULL.
	RestartLSN string `json:"restart_lsn,omitempty"`
	// ConfirmedFlushLSN is confirmed_flush_lsn, "" when NULL.
	ConfirmedFlushLSN string `json:"confirmed_flush_lsn,omitempty"`
	// WALStatus is wal_status (reserved, extended, unreserved, lost);
	// "" before PostgreSQL 13.
	WALStatus string `json:"wal_status,omitempty"`
	// RetainedBytes is how much WAL the slot holds back (current LSN
	// minus restart_lsn), 0 when unknown.
	RetainedBytes int64 `json:"retained_bytes"`
}
