package plans

import (
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
)

// PublicationAttrs describe the source publication of one database.
type PublicationAttrs struct {
	// Name is the publication; Server the source endpoint.
	Name, Server string
	// Tables are the published tables with their row filters.
	Tables []PublishedTable
	// SetReplicaIdentityFull lists the tables apply sets to REPLICA
	// IDENTITY FULL before publishing them.
	SetReplicaIdentityFull []TableName
	// DropForTableSync lists the tables an update drops so that the
	// subscription's table sync copies them again (their table changes
	// add them back). It shows the reviewer what the tables diff means;
	// it is not kept in state.
	DropForTableSync []lang.TableRef
}

// PublishedTable is one table of a publication.
type PublishedTable struct {
	Table TableName
	// Filter is the row filter ("" publishes every row). For a time
	// window it is the configured predicate, shown to a reviewer: the
	// publication stores a constant cut-off instead (Cutoff).
	Filter string
	// Window is set for a time window: apply freezes it to a constant
	// cut-off when the table joins the publication, unless Cutoff holds
	// the cut-off the publication already stores.
	Window *TimeWindow
	Cutoff string
	// Frozen is the cut-off apply froze the window to (recorded in state).
	Frozen string
}

// RowFilter is the filter a publication carries for the table as planned:
// Filter, or for a time window the stored cut-off ("" when the window is
// still to be frozen).
func (t PublishedTable) RowFilter() string {
	if t.Window != nil {
		return t.Cutoff
	}
	return t.Filter
}

// Kind implements Attrs.
func (*PublicationAttrs) Kind() addrs.Kind { return addrs.Publication }

// windowNote follows the predicate of a time window still to be frozen in
// the wire form of row_filters. It is display text for readers of the
// plan JSON: whether a window is frozen is carried by time_window_cutoffs.
// Only states written before that member existed are read by the note.
const windowNote = "(frozen to a constant cut-off when the publication is created)"

func (a *PublicationAttrs) encode() map[string]any {
	tables := []string{}
	filters := map[string]any{}
	windows := map[string]any{}
	frozen := map[string]any{}
	cutoffs := map[string]any{}
	for _, t := range a.Tables {
		q := t.Table.wire()
		tables = append(tables, q)
		switch {
		case t.Window != nil && t.Cutoff != "":
			filters[q] = t.Cutoff
			cutoffs[q] = t.Cutoff
		case t.Window != nil:
			filters[q] = t.Filter + " " + windowNote
		case t.Filter != "":
			filters[q] = t.Filter
		}
		if t.Window != nil {
			windows[q] = t.Window.wire()
		}
		if t.Frozen != "" {
			frozen[q] = t.Frozen
		}
	}
	sort.Strings(tables)
	m := map[string]any{"name": a.Name, "server": a.Server, "tables": list(tables), "row_filters": filters}
	if len(a.SetReplicaIdentityFull) > 0 {
		full := make([]string, len(a.SetReplicaIdentityFull))
		for i, t := range a.SetReplicaIdentityFull {
			full[i] = t.wire()
		}
		sort.Strings(full)
		m["set_replica_identity_full"] = list(full)
	}
	if len(windows) > 0 {
		m["time_windows"] = windows
	}
	if len(a.DropForTableSync) > 0 {
		m["drop_for_table_sync"] = refList(a.DropForTableSync)
	}
	if len(frozen) > 0 {
		m["frozen_time_windows"] = frozen
	}
	if len(cutoffs) > 0 {
		m["time_window_cutoffs"] = cutoffs
	}
	return m
}

func decodePublication(f *fields) *PublicationAttrs {
	a := &PublicationAttrs{Name: f.str("name"), Server: f.str("server"), DropForTableSync: f.refs("drop_for_table_sync")}
	filters := f.object("row_filters")
	windows := f.object("time_windows")
	frozen := f.object("frozen_time_windows")
	cutoffs := f.object("time_window_cutoffs")
	text := func(key string, m map[string]any, q string) string {
		s, ok := m[q].(string)
		if !ok && m[q] != nil {
			f.fail(key, "an object of strings", m)
		}
		return s
	}
	for _, q := range f.strs("tables") {
		t := PublishedTable{Table: f.tableName("tables", q), Filter: text("row_filters", filters, q), Frozen: text("frozen_time_windows", frozen, q)}
		if w, ok := windows[q]; ok {
			t.Window = f.window("time_windows", w)
			switch {
			case cutoffs[q] != nil:
				t.Cutoff, t.Filter = text("time_window_cutoffs", cutoffs, q), ""
			case len(cutoffs) == 0 && !strings.HasSuffix(t.Filter, " "+windowNote):
				// Written before time_window_cutoffs: a window's filter
				// without the note is the stored cut-off.
				t.Cutoff, t.Filter = t.Filter, ""
			default:
				t.Filter = strings.TrimSuffix(t.Filter, " "+windowNote)
			}
		}
		a.Tables = append(a.Tables, t)
	}
	for _, q := range f.strs("set_replica_identity_full") {
		a.SetReplicaIdentityFull = append(a.SetReplicaIdentityFull, f.tableName("set_replica_identity_full", q))
	}
	return a
}

// SlotAttrs describe the logical replication slot of one database.
type SlotAttrs struct {
	// Name is the slot; Plugin its output plugin; Server the source
	// endpoint and Database the database it decodes.
	Name, Plugin, Server, Database string
	// Recorded by apply: the slot's consistent point and the name of the
	// snapshot it exported.
	ConsistentPoint, Snapshot string
	// DisableSubscription names the target subscription that apply
	// disables (and waits for its apply worker to stop) before it replaces
	// the slot: the worker must not apply changes to tables that are being
	// emptied and copied again. The subscription's own change enables it
	// after the copies. Not kept in state.
	DisableSubscription string
}

// Kind implements Attrs.
func (*SlotAttrs) Kind() addrs.Kind { return addrs.Slot }

func (a *SlotAttrs) encode() map[string]any {
	m := map[string]any{"name": a.Name, "plugin": a.Plugin, "server": a.Server, "database": a.Database}
	if a.ConsistentPoint != "" {
		m["consistent_point"] = a.ConsistentPoint
	}
	if a.Snapshot != "" {
		m["snapshot"] = a.Snapshot
	}
	if a.DisableSubscription != "" {
		m["disable_subscription"] = a.DisableSubscription
	}
	return m
}

func decodeSlot(f *fields) *SlotAttrs {
	return &SlotAttrs{Name: f.str("name"), Plugin: f.str("plugin"), Server: f.str("server"), Database: f.str("database"),
		ConsistentPoint: f.str("consistent_point"), Snapshot: f.str("snapshot"), DisableSubscription: f.str("disable_subscription")}
}

// SubscriptionAttrs describe the target subscription of one database.
type SubscriptionAttrs struct {
	// Name is the subscription; Server the target endpoint; SlotName the
	// source slot it streams from.
	Name, Server, SlotName string
	// Publications it subscribes to.
	Publications []string
	// Enabled is whether it streams.
	Enabled bool
	// Connection is the redacted connection string to the source.
	Connection string
	// Options are the subscription's creation options, for a reviewer.
	Options string
	// StoresPassword is whether the connection string carries the
	// password written in the source URL (sync.subscription_password).
	StoresPassword bool
	// TableSync lists, in state, every table of the database that was
	// copied by the subscription's table sync instead of the snapshot (it
	// has no table record of its own).
	TableSync []lang.TableRef
	// RefreshPublication lists the tables an update hands to the table
	// sync: apply runs ALTER SUBSCRIPTION ... REFRESH PUBLICATION WITH
	// (copy_data = true). Not kept in state.
	RefreshPublication []lang.TableRef
	// StopApplying lists the tables an update stops applying because the
	// publication dropped them for a re-copy by the table sync: apply
	// refreshes the subscription (pg_subscription_rel no longer lists
	// them) and waits until it has applied what was published before.
	// Not kept in state.
	StopApplying []lang.TableRef
	// SubscribeDDLLog is set when an update subscribes the DDL capture's
	// log, which the publication just added: apply runs ALTER
	// SUBSCRIPTION ... REFRESH PUBLICATION WITH (copy_data = false). Not
	// kept in state.
	SubscribeDDLLog bool
}

// Kind implements Attrs.
func (*SubscriptionAttrs) Kind() addrs.Kind { return addrs.Subscription }

func (a *SubscriptionAttrs) encode() map[string]any {
	m := map[string]any{"name": a.Name, "server": a.Server, "slot_name": a.SlotName,
		"publications": list(a.Publications), "enabled": a.Enabled, "connection": a.Connection, "options": a.Options}
	if a.StoresPassword {
		m["password_stored"] = true
	}
	if len(a.TableSync) > 0 {
		m["table_sync"] = refList(a.TableSync)
	}
	if len(a.RefreshPublication) > 0 {
		m["refresh_publication"] = refList(a.RefreshPublication)
	}
	if len(a.StopApplying) > 0 {
		m["stop_applying"] = refList(a.StopApplying)
	}
	if a.SubscribeDDLLog {
		m["subscribe_ddl_log"] = true
	}
	return m
}

func decodeSubscription(f *fields) *SubscriptionAttrs {
	return &SubscriptionAttrs{Name: f.str("name"), Server: f.str("server"), SlotName: f.str("slot_name"),
		Publications: f.strs("publications"), Enabled: f.boolean("enabled"), Connection: f.str("connection"),
		Options: f.str("options"), StoresPassword: f.boolean("password_stored"), TableSync: f.refs("table_sync"),
		RefreshPublication: f.refs("refresh_publication"), StopApplying: f.refs("stop_applying"),
		SubscribeDDLLog: f.boolean("subscribe_ddl_log")}
}
