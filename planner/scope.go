package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

// Scope is what one replication covers on its source: databases, and in
// each the tables with their filters.
type Scope struct {
	Replication *lang.Replication
	Databases   []*DatabaseScope
}

// DatabaseScope is one database in scope.
type DatabaseScope struct {
	Name   string
	Source *catalog.Database
	Tables []*TableScope
}

// TableScope is one table in scope.
type TableScope struct {
	Ref    lang.TableRef
	Source *catalog.Table
	// SchemaOnly tables get their structure and no rows.
	SchemaOnly bool
	// Filter is the SQL row filter ("" copies every row).
	Filter string
	// Window is the time window behind Filter, when the filter is one.
	Window *lang.TimeWindow
	// ReplicaIdentity is the identity the configuration asks for ("" = leave).
	ReplicaIdentity string
	// Target is the table's name on the target: Ref, or the name a table
	// or schema block remaps it to (same database).
	Target lang.TableRef
}

// Remapped reports whether the table lands under another name.
func (t *TableScope) Remapped() bool { return t.Target != t.Ref }

// Table returns the scoped table by schema and name, or nil.
func (d *DatabaseScope) Table(schema, name string) *TableScope {
	for _, t := range d.Tables {
		if t.Ref.Schema == schema && t.Ref.Table == name {
			return t
		}
	}
	return nil
}

// Database returns the scoped database by name, or nil.
func (s *Scope) Database(name string) *DatabaseScope {
	for _, d := range s.Databases {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// refMatches reports whether a configured reference names the table; a
// reference without a database (from a flag) matches in every database.
func refMatches(ref lang.TableRef, db, schema, table string) bool {
	return (ref.Database == "" || ref.Database == db) && ref.Schema == schema && ref.Table == table
}

// ResolveScope computes the databases and tables a replication covers on
// its source, and reports configured names that do not exist there.
func ResolveScope(r *lang.Replication, src *catalog.Server, sourceName string) (*Scope, diag.Diagnostics) {
	var diags diag.Diagnostics
	scope := &Scope{Replication: r}
	addr := "replication." + r.Name

	var names []string
	switch {
	case len(r.Databases) > 0:
		for _, n := range r.Databases {
			db := src.Database(n)
			if db == nil {
				diags.AddError(CodeDatabaseNotFound, addr, "Database not found on the source",
					"%q is listed in databases, but %s has no such database. Existing databases: %s.", n, sourceName, strings.Join(databaseNames(src), ", "))
				continue
			}
			if db.IsTemplate || !db.AllowConn {
				diags.AddError(CodeDatabaseNotReplicable, addr, "Database cannot be replicated",
					"%q on %s is a template or does not allow connections; remove it from databases.", n, sourceName)
				continue
			}
			names = append(names, n)
		}
	default:
		excluded := map[string]bool{}
		for _, n := range r.ExcludeDatabases {
			excluded[n] = true
			if src.Database(n) == nil {
				diags.AddWarning(CodeExcludedDatabaseMissing, addr, "Excluded database does not exist",
					"%q is listed in exclude_databases, but %s has no such database; the entry has no effect.", n, sourceName)
			}
		}
		for _, db := range src.Databases {
			if !db.IsTemplate && db.AllowConn && !excluded[db.Name] {
				names = append(names, db.Name)
			}
		}
	}
	sort.Strings(names)

	// Table-list entries written without a database (the predecessor's
	// --exclude-tables users) name the one database in scope that has the
	// table; the rest of planning sees the resolved copy.
	resolved := *r
	resolved.IncludeTables = resolveBareRefs(&diags, addr, "include_tables", r.IncludeTables, src, names, sourceName)
	resolved.ExcludeTables = resolveBareRefs(&diags, addr, "exclude_tables", r.ExcludeTables, src, names, sourceName)
	resolved.SchemaOnly = resolveBareRefs(&diags, addr, "schema_only", r.SchemaOnly, src, names, sourceName)
	r = &resolved
	scope.Replication = r

	for _, name := range names {
		db := src.Database(name)
		ds := &DatabaseScope{Name: name, Source: db}
		for _, t := range db.Tables {
			if t.Parent != "" {
				// Partitions are copied through their partitioned parent.
				continue
			}
			if t.Schema == plans.DDLLogSchema {
				// The tool's own schema (the DDL capture's log, carried by
				// the ddl_capture resource) is never a table in scope.
				continue
			}
			if !tableIncluded(r, name, t.Schema, t.Name) {
				continue
			}
			ts := &TableScope{Ref: lang.TableRef{Database: name, Schema: t.Schema, Table: t.Name}, Source: t}
			ts.Target = r.TargetOf(ts.Ref)
			for _, ref := range r.SchemaOnly {
				if refMatches(ref, name, t.Schema, t.Name) {
					ts.SchemaOnly = true
				}
			}
			for _, tc := range r.Tables {
				if refMatches(tc.Ref, name, t.Schema, t.Name) {
					if p := tc.Predicate(); p != "" {
						// A block with settings but no filter (e.g. only
						// replica_identity) leaves another block's filter.
						ts.Filter, ts.Window = p, tc.TimeWindow
					}
					if tc.ReplicaIdentity != "" {
						ts.ReplicaIdentity = tc.ReplicaIdentity
					}
				}
			}
			ds.Tables = append(ds.Tables, ts)
		}
		scope.Databases = append(scope.Databases, ds)
	}

	// Every configured table must exist where it is said to be.
	check := func(kind string, refs []lang.TableRef, severity diag.Severity) {
		for _, ref := range refs {
			if ref.Database == "" || refExists(src, names, ref) {
				continue // bare names were checked when resolved
			}
			d := diag.Diagnostic{Severity: severity, Code: CodeTableNotFound, Address: addr,
				Summary: "Table not found on the source",
				Detail: fmt.Sprintf("%s names %s, but %s has no such table in the databases in scope. Names are case-sensitive: check the spelling and the schema (unqualified names mean schema public).%s",
					kind, ref.String(), sourceName, schemaHint(src, names, ref))}
			diags = append(diags, d)
		}
	}
	check("include_tables", r.IncludeTables, diag.Error)
	// A misspelt exclusion would replicate the table it meant to leave out.
	check("exclude_tables", r.ExcludeTables, diag.Error)
	check("schema_only", r.SchemaOnly, diag.Error)
	var blockRefs []lang.TableRef
	for _, tc := range r.Tables {
		blockRefs = append(blockRefs, tc.Ref)
	}
	check("a table block", blockRefs, diag.Error)
	return scope, diags
}

// tableIncluded applies include_tables / exclude_tables.
func tableIncluded(r *lang.Replication, db, schema, table string) bool {
	if len(r.IncludeTables) > 0 {
		for _, ref := range r.IncludeTables {
			if refMatches(ref, db, schema, table) {
				return true
			}
		}
		return false
	}
	for _, ref := range r.ExcludeTables {
		if refMatches(ref, db, schema, table) {
			return false
		}
	}
	return true
}

// refExists reports whether ref names a table in one of the databases.
func refExists(src *catalog.Server, dbs []string, ref lang.TableRef) bool {
	for _, n := range dbs {
		if ref.Database != "" && ref.Database != n {
			continue
		}
		if db := src.Database(n); db != nil && db.Table(ref.Schema, ref.Table) != nil {
			return true
		}
	}
	return false
}

// databaseNames lists the connectable, non-template databases of a server.
func databaseNames(s *catalog.Server) []string {
	var out []string
	for _, d := range s.Databases {
		if !d.IsTemplate && d.AllowConn {
			out = append(out, d.Name)
		}
	}
	if len(out) == 0 {
		return []string{"(none)"}
	}
	return out
}

// resolveBareRefs returns refs with every entry that names no database
// replaced by the one database in scope that has its table; an entry that
// matches no database or several is reported as an error naming the
// candidates, and left out.
func resolveBareRefs(diags *diag.Diagnostics, addr, kind string, refs []lang.TableRef, src *catalog.Server, dbs []string, sourceName string) []lang.TableRef {
	var out []lang.TableRef
	for _, ref := range refs {
		if ref.Database != "" {
			out = append(out, ref)
			continue
		}
		var found []lang.TableRef
		for _, n := range dbs {
			if db := src.Database(n); db != nil && db.Table(ref.Schema, ref.Table) != nil {
				found = append(found, lang.TableRef{Database: n, Schema: ref.Schema, Table: ref.Table})
			}
		}
		switch len(found) {
		case 1:
			out = append(out, found[0])
		case 0:
			diags.AddError(CodeTableNotFound, addr, "Table not found on the source",
				"%s names %s without a database, and no database in scope on %s has that table (databases in scope: %s). Names are case-sensitive: check the spelling and the schema, or write DB.SCHEMA.TABLE.",
				kind, ref.String(), sourceName, strings.Join(dbs, ", "))
		default:
			names := make([]string, len(found))
			for i, f := range found {
				names[i] = f.String()
			}
			diags.AddError(CodeTableAmbiguous, addr, "Table name matches several databases",
				"%s names %s without a database, and several databases in scope have it: %s. Write the one you mean as DB.SCHEMA.TABLE (list each to mean all of them).",
				kind, ref.String(), strings.Join(names, ", "))
		}
	}
	return out
}

// schemaHint suggests, for a "db.table" reference that does not exist,
// the tables it may have meant as "schema.table" (the predecessor's
// reading of two dotted parts).
func schemaHint(src *catalog.Server, dbs []string, ref lang.TableRef) string {
	if ref.Schema != "public" {
		return ""
	}
	var cands []string
	for _, n := range dbs {
		if db := src.Database(n); db != nil && db.Table(ref.Database, ref.Table) != nil {
			cands = append(cands, lang.TableRef{Database: n, Schema: ref.Database, Table: ref.Table}.String())
		}
	}
	if len(cands) == 0 {
		return ""
	}
	return fmt.Sprintf(" Two dotted parts mean DATABASE.TABLE; if you meant schema %q, write %s.", ref.Database, strings.Join(cands, " or "))
}
