package picker

import (
	"slices"

	"github.com/zclconf/go-cty/cty"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

// Filter keeps only some rows of a table: a SQL condition (Where) or a
// time window, never both.
type Filter struct {
	// Table is the filtered table.
	Table lang.TableRef
	// Where is a SQL boolean expression over the table's columns.
	Where string
	// Window keeps the rows whose column lies in the last window.
	Window *lang.TimeWindow
}

// Choices are the answers of the picker.
type Choices struct {
	// Databases are the databases to replicate.
	Databases []string
	// Exclude are the tables left out.
	Exclude []lang.TableRef
	// SchemaOnly are the tables copied as structure only, without rows.
	SchemaOnly []lang.TableRef
	// Filters keep only some rows of a table.
	Filters []Filter
	// ReplicaIdentityFull are the tables published with REPLICA
	// IDENTITY FULL (tables without a primary key, under logical sync).
	ReplicaIdentityFull []lang.TableRef
	// Method is the sync method; "" or auto lets the tool decide.
	Method lang.SyncMethod
	// SubscriptionPassword is sync.subscription_password; "" keeps the
	// default.
	SubscriptionPassword lang.SubscriptionPassword
}

// Variable descriptions of the written configuration: they say where the
// URLs come from, since the file never holds them.
const (
	SourceURLDescription = "Connection string of the source server (not stored in this file): set REPLICATOR_VAR_source_url or pass --var source_url=..."
	TargetURLDescription = "Connection string of the target server (not stored in this file): set REPLICATOR_VAR_target_url or pass --var target_url=..."
)

// Config turns the choices into a configuration of one replication
// "main" from source "source" to target "target", whose URLs are the
// sensitive variables source_url and target_url (given the values
// sourceURL and targetURL, which lang.WriteHCL never writes). Lists are
// sorted; the table blocks (filters, replica identity) are in table
// order.
func (c Choices) Config(sourceURL, targetURL string) *lang.Config {
	r := &lang.Replication{
		Name:     lang.FlagReplicationName,
		Source:   lang.FlagSourceName,
		Target:   lang.FlagTargetName,
		Snapshot: lang.DefaultSnapshot(),
		Sync:     lang.DefaultSync(),
		Policy:   lang.DefaultPolicy(),
	}
	r.Databases = slices.Sorted(slices.Values(c.Databases))
	r.ExcludeTables = sortedRefs(c.Exclude)
	r.SchemaOnly = sortedRefs(c.SchemaOnly)
	blocks := map[lang.TableRef]*lang.TableConfig{}
	block := func(ref lang.TableRef) *lang.TableConfig {
		if b := blocks[ref]; b != nil {
			return b
		}
		b := &lang.TableConfig{Ref: ref}
		blocks[ref] = b
		return b
	}
	for _, f := range c.Filters {
		b := block(f.Table)
		b.Where, b.TimeWindow = f.Where, f.Window
	}
	for _, ref := range c.ReplicaIdentityFull {
		block(ref).ReplicaIdentity = catalog.ReplicaIdentityFull
	}
	for _, ref := range sortedRefs(mapKeys(blocks)) {
		r.Tables = append(r.Tables, blocks[ref])
	}
	if c.Method != "" {
		r.Sync.Method = c.Method
	}
	if c.SubscriptionPassword != "" {
		r.Sync.SubscriptionPassword = c.SubscriptionPassword
	}
	variable := func(name, url, description string) *lang.Variable {
		return &lang.Variable{Name: name, Description: description, Default: cty.NilVal, Sensitive: true, Value: cty.StringVal(url)}
	}
	return &lang.Config{
		Variables: map[string]*lang.Variable{
			lang.SourceURLVar: variable(lang.SourceURLVar, sourceURL, SourceURLDescription),
			lang.TargetURLVar: variable(lang.TargetURLVar, targetURL, TargetURLDescription),
		},
		Sources: map[string]*lang.Endpoint{
			lang.FlagSourceName: {Kind: lang.KindSource, Name: lang.FlagSourceName, URL: sourceURL, Sensitive: true},
		},
		Targets: map[string]*lang.Endpoint{
			lang.FlagTargetName: {Kind: lang.KindTarget, Name: lang.FlagTargetName, URL: targetURL, Sensitive: true},
		},
		Replications: []*lang.Replication{r},
		State:        lang.DefaultState(),
	}
}

// replication is the replication the choices describe, for the
// planner's decisions (the URLs play no part in them).
func (c Choices) replication() *lang.Replication {
	return c.Config("", "").Replications[0]
}

// MethodDecision is the sync method the choices lead to on src, and why:
// the planner's own decision (planner.DecideMethod).
func (c Choices) MethodDecision(src *catalog.Server) planner.MethodDecision {
	return planner.DecideMethod(c.replication(), src)
}

// Copied lists the tables of the chosen databases whose rows are copied
// (neither excluded nor schema-only), in database, schema and table
// order.
func (c Choices) Copied(src *catalog.Server) []Table {
	var out []Table
	for _, db := range slices.Sorted(slices.Values(c.Databases)) {
		for _, t := range Tables(src, db) {
			if !slices.Contains(c.Exclude, t.Ref) && !slices.Contains(c.SchemaOnly, t.Ref) {
				out = append(out, t)
			}
		}
	}
	return out
}

// NeedsIdentity lists the copied tables that logical replication would
// publish although UPDATE and DELETE on them would then fail on the
// source (no primary key, no other usable replica identity), and that
// the choices do not yet publish with REPLICA IDENTITY FULL. Empty when
// the sync method is not logical.
func (c Choices) NeedsIdentity(src *catalog.Server) []lang.TableRef {
	if m := c.MethodDecision(src).Method; m != lang.SyncLogical && m != lang.SyncStream {
		return nil
	}
	var out []lang.TableRef
	for _, t := range c.Copied(src) {
		if !t.UsableIdentity && !slices.Contains(c.ReplicaIdentityFull, t.Ref) {
			out = append(out, t.Ref)
		}
	}
	return out
}

// WindowsOutsideKey lists the time-window filters, under logical sync,
// whose column is not part of the table's primary key: once published,
// UPDATE and DELETE on such a table fail on the source unless it has
// REPLICA IDENTITY FULL. Tables already chosen for FULL are left out.
func (c Choices) WindowsOutsideKey(src *catalog.Server) []lang.TableRef {
	if m := c.MethodDecision(src).Method; m != lang.SyncLogical && m != lang.SyncStream {
		return nil
	}
	var out []lang.TableRef
	for _, f := range c.Filters {
		if f.Window == nil || slices.Contains(c.ReplicaIdentityFull, f.Table) {
			continue
		}
		t := findTable(src, f.Table)
		if t != nil && t.UsableIdentity && !slices.Contains(t.PrimaryKey, f.Window.Column) {
			out = append(out, f.Table)
		}
	}
	return out
}

// findTable returns the offered table ref names, or nil.
func findTable(src *catalog.Server, ref lang.TableRef) *Table {
	for _, t := range Tables(src, ref.Database) {
		if t.Ref == ref {
			return &t
		}
	}
	return nil
}

// sortedRefs returns a sorted copy of refs, nil when empty.
func sortedRefs(refs []lang.TableRef) []lang.TableRef {
	if len(refs) == 0 {
		return nil
	}
	out := slices.Clone(refs)
	slices.SortFunc(out, func(a, b lang.TableRef) int {
		switch {
		case a.Less(b):
			return -1
		case b.Less(a):
			return 1
		}
		return 0
	})
	return slices.Compact(out)
}

// mapKeys returns the keys of m.
func mapKeys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
