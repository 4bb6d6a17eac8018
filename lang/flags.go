package lang

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/database-replicator/database-replicator/lang/diag"
)

// Names of the synthesized parts of configurations built from flags or from
// the predecessor's TOML, where the connection strings come from the
// command line.
const (
	// FlagReplicationName names the single replication of such a config.
	FlagReplicationName = "main"
	// FlagSourceName and FlagTargetName name its endpoints.
	FlagSourceName = "source"
	FlagTargetName = "target"
	// SourceURLVar and TargetURLVar are the sensitive variables that hold
	// the connection strings.
	SourceURLVar = "source_url"
	TargetURLVar = "target_url"
)

const (
	tableFilterForm    = `"[db.]table:PREDICATE"`
	tableFilterExample = `"myapp.events:created_at > now() - interval '90 days'"`
	timeFilterForm     = `"[db.]table:column:window"`
	timeFilterExample  = `"myapp.metrics:timestamp:6 months"`
)

// ParseTableFilterFlag parses the value of --table-filter,
// "[db.]table:PREDICATE", into a table configuration with a Where filter.
//
// The table part is split from the predicate at the first colon that is not
// inside double quotes, so predicates may contain colons
// ("myapp.events:ts > '10:00'::time"). The table part is "table" (schema
// public), "db.table" (schema public) or "db.schema.table"; a part that
// contains a dot, a colon or a double quote is written in double quotes.
// Without a database part the returned Ref.Database is "": the filter
// applies to that table in every database in scope (FlagConfig expands it
// over --include-databases when that flag is given).
func ParseTableFilterFlag(s string) (*TableConfig, error) {
	bad := func(why string) error {
		return fmt.Errorf("--table-filter %q: %s; expected %s, e.g. %s", s, why, tableFilterForm, tableFilterExample)
	}
	if !utf8.ValidString(s) {
		return nil, bad("not valid UTF-8")
	}
	tablePart, rest, ok := cutUnquoted(s, ':')
	if !ok {
		return nil, bad("no colon between the table and the predicate")
	}
	ref, err := parseFlagTable(tablePart)
	if err != nil {
		return nil, bad(err.Error())
	}
	pred := strings.TrimSpace(rest)
	if pred == "" {
		return nil, bad("the predicate after the colon is empty")
	}
	if err := CheckRowFilterSyntax(pred); err != nil {
		return nil, bad("the predicate is not one SQL expression: " + err.Error())
	}
	return &TableConfig{Ref: ref, Where: pred}, nil
}

// ParseTimeFilterFlag parses the value of --time-filter,
// "[db.]table:column:window", into a table configuration with a
// TimeWindow, e.g. "myapp.metrics:timestamp:6 months".
//
// The table part follows the rules of ParseTableFilterFlag: without a
// database part Ref.Database is "" and the filter applies to that table in
// every database in scope. The column may be written in double quotes
// ("\"Created:At\"") when it contains a colon, a dot or a quote. The
// window is parsed by ParseWindow ("90 days", "6 months", "2w").
func ParseTimeFilterFlag(s string) (*TableConfig, error) {
	bad := func(why string) error {
		return fmt.Errorf("--time-filter %q: %s; expected %s, e.g. %s", s, why, timeFilterForm, timeFilterExample)
	}
	if !utf8.ValidString(s) {
		return nil, bad("not valid UTF-8")
	}
	tablePart, rest, ok := cutUnquoted(s, ':')
	if !ok {
		return nil, bad("no colon after the table")
	}
	ref, err := parseFlagTable(tablePart)
	if err != nil {
		return nil, bad(err.Error())
	}
	colPart, window, ok := cutUnquoted(rest, ':')
	if !ok {
		return nil, bad("no colon between the column and the window")
	}
	colPart = strings.TrimSpace(colPart)
	if colPart == "" {
		return nil, bad("the column is empty")
	}
	cols, err := SplitQualifiedName(colPart)
	if err != nil {
		return nil, bad("column: " + err.Error())
	}
	if len(cols) != 1 {
		return nil, bad(fmt.Sprintf("the column %s has %d dotted parts: name one column of the table, in double quotes if it contains a dot", colPart, len(cols)))
	}
	if err := checkName("column", cols[0]); err != nil {
		return nil, bad(err.Error())
	}
	w, err := ParseWindow(window)
	if err != nil {
		return nil, bad(err.Error())
	}
	return &TableConfig{Ref: ref, TimeWindow: &TimeWindow{Column: cols[0], Last: w}}, nil
}

// cutUnquoted splits s at the first sep that is not inside double quotes.
func cutUnquoted(s string, sep byte) (before, after string, found bool) {
	inQuotes := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuotes = !inQuotes
		case sep:
			if !inQuotes {
				return s[:i], s[i+1:], true
			}
		}
	}
	return s, "", false
}

// splitUnquoted splits s at every sep that is not inside double quotes.
func splitUnquoted(s string, sep byte) []string {
	var out []string
	for {
		before, after, ok := cutUnquoted(s, sep)
		out = append(out, before)
		if !ok {
			return out
		}
		s = after
	}
}

// parseFlagTable parses the table part of a filter flag: "table",
// "db.table" or "db.schema.table".
func parseFlagTable(s string) (TableRef, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return TableRef{}, fmt.Errorf("the table before the colon is empty")
	}
	parts, err := SplitQualifiedName(s)
	if err != nil {
		return TableRef{}, err
	}
	var ref TableRef
	switch len(parts) {
	case 1:
		ref = TableRef{Schema: "public", Table: parts[0]}
	case 2:
		ref = TableRef{Database: parts[0], Schema: "public", Table: parts[1]}
	case 3:
		ref = TableRef{Database: parts[0], Schema: parts[1], Table: parts[2]}
	default:
		return TableRef{}, fmt.Errorf("table %s has %d dotted parts: write \"table\", \"db.table\" or \"db.schema.table\", and put a name that contains a dot in double quotes", s, len(parts))
	}
	for _, p := range []struct{ what, name string }{{"database", ref.Database}, {"schema", ref.Schema}, {"table", ref.Table}} {
		if p.what == "database" && len(parts) == 1 {
			continue
		}
		if err := checkName(p.what, p.name); err != nil {
			return TableRef{}, err
		}
	}
	return ref, nil
}

// checkName rejects names PostgreSQL cannot hold.
func checkName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("the %s name is empty", what)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("the %s name contains a NUL byte", what)
	}
	return nil
}

// ParseTableList parses the values of a table list flag (--include-tables,
// --exclude-tables, --schema-only-tables; flag is its name, with or
// without the leading dashes, for messages). Each value may hold several
// comma-separated references; each reference is "db.table" (schema
// public), "db.schema.table" or a bare "table" (no database: the planner
// resolves it to the one database in scope that has public.table, and
// refuses it when none or several do), with double quotes around a part
// that contains a dot, a comma or a quote. Duplicates are dropped; the
// order of first appearance is kept.
func ParseTableList(flag string, values []string) ([]TableRef, error) {
	flag = "--" + strings.TrimLeft(flag, "-")
	var out []TableRef
	seen := map[TableRef]bool{}
	for _, v := range values {
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("%s %q: not valid UTF-8", flag, v)
		}
		for _, item := range splitUnquoted(v, ',') {
			item = strings.TrimSpace(item)
			if item == "" {
				return nil, fmt.Errorf("%s %q: empty entry: write comma-separated tables such as \"myapp.users,myapp.sales.orders\" without empty entries", flag, v)
			}
			ref, err := parseFlagTableRef(item)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %s", flag, v, err)
			}
			for _, p := range []struct{ what, name string }{{"database", ref.Database}, {"schema", ref.Schema}, {"table", ref.Table}} {
				if p.what == "database" && ref.Database == "" {
					continue
				}
				if err := checkName(p.what, p.name); err != nil {
					return nil, fmt.Errorf("%s %q: %s: write \"db.table\" or \"db.schema.table\"", flag, v, err)
				}
			}
			if !seen[ref] {
				seen[ref] = true
				out = append(out, ref)
			}
		}
	}
	return out, nil
}

// parseFlagTableRef parses one table-list entry: ParseTableRef's forms,
// or a bare "table" without database (resolved by the planner).
func parseFlagTableRef(s string) (TableRef, error) {
	parts, err := SplitQualifiedName(s)
	if err != nil {
		return TableRef{}, err
	}
	if len(parts) == 1 {
		return TableRef{Schema: "public", Table: parts[0]}, nil
	}
	return ParseTableRef(s)
}

// parseDatabaseList parses the values of --include-databases or
// --exclude-databases: comma-separated database names, duplicates dropped.
// A name that contains a comma is written in double quotes.
func parseDatabaseList(flag string, values []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, v := range values {
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("%s %q: not valid UTF-8", flag, v)
		}
		for _, item := range splitUnquoted(v, ',') {
			item = strings.TrimSpace(item)
			if item == "" {
				return nil, fmt.Errorf("%s %q: empty entry: write comma-separated database names such as \"myapp,analytics\" without empty entries", flag, v)
			}
			if strings.HasPrefix(item, `"`) {
				parts, err := SplitQualifiedName(item)
				if err != nil || len(parts) != 1 {
					return nil, fmt.Errorf("%s %q: %s is not one quoted name: write \"my,db\" with the quotes around the whole name", flag, v, item)
				}
				item = parts[0]
			}
			if err := checkName("database", item); err != nil {
				return nil, fmt.Errorf("%s %q: %s", flag, v, err)
			}
			if !seen[item] {
				seen[item] = true
				out = append(out, item)
			}
		}
	}
	return out, nil
}

// FilterFlags holds the raw values of the filter flags shared by the
// commands that take --source/--target instead of a configuration file.
// Every list flag may be repeated and may hold comma-separated values.
type FilterFlags struct {
	// IncludeDatabases and ExcludeDatabases are database names; they are
	// mutually exclusive.
	IncludeDatabases, ExcludeDatabases []string
	// IncludeTables, ExcludeTables and SchemaOnlyTables are "db.table" or
	// "db.schema.table" references; include and exclude are mutually
	// exclusive.
	IncludeTables, ExcludeTables, SchemaOnlyTables []string
	// TableFilters are "[db.]table:PREDICATE" values (--table-filter) and
	// TimeFilters are "[db.]table:column:window" values (--time-filter).
	TableFilters, TimeFilters []string
	// ReplicaIdentityFull are "db.table" or "db.schema.table" references
	// (--replica-identity-full) to publish with REPLICA IDENTITY FULL, as
	// replica_identity = "full" in a table block.
	ReplicaIdentityFull []string
}

// FlagConfig builds the whole in-memory configuration that the filter
// flags and the --source/--target connection strings describe: one
// replication "main" from source "source" to target "target", whose URLs
// are the values of the sensitive variables source_url and target_url, with
// the default snapshot, sync, policy and state settings.
//
// The rules are those of the HCL decoder: --include-databases and
// --exclude-databases are mutually exclusive, so are --include-tables and
// --exclude-tables; every table reference names a database in scope;
// schema-only tables and filtered tables must be replicated at all; a
// schema-only table takes no filter; a table has at most one filter.
//
// A filter without a database part applies to the table in every database
// in scope: with --include-databases it becomes one TableConfig per listed
// database (skipping databases where the table is excluded or not
// included); without it, it stays a single TableConfig whose Ref.Database
// is "", which consumers apply to every database.
//
// Errors are diagnostics without a source range whose detail names the
// flag and what to write instead. The Config is nil when there are errors.
func FlagConfig(f FilterFlags, sourceURL, targetURL string) (*Config, diag.Diagnostics) {
	var diags diag.Diagnostics
	errf := func(code diag.Code, summary, format string, args ...any) {
		diags.AddError(code, "", summary, format, args...)
	}
	if strings.TrimSpace(sourceURL) == "" {
		errf(CodeMissingEndpoint, "Missing --source", "Write --source with the source server's connection string, e.g. --source \"postgres://replicator@prod:5432/postgres\", or use a configuration file with -c/--config.")
	}
	if strings.TrimSpace(targetURL) == "" {
		errf(CodeMissingEndpoint, "Missing --target", "Write --target with the target server's connection string, e.g. --target \"postgres://admin@replica:5432/postgres\", or use a configuration file with -c/--config.")
	}

	r := newFlagReplication()
	include, err := parseDatabaseList("--include-databases", f.IncludeDatabases)
	if err != nil {
		errf(CodeInvalidDatabaseName, "Invalid --include-databases", "%s.", err)
	}
	exclude, err := parseDatabaseList("--exclude-databases", f.ExcludeDatabases)
	if err != nil {
		errf(CodeInvalidDatabaseName, "Invalid --exclude-databases", "%s.", err)
	}
	if len(include) > 0 && len(exclude) > 0 {
		errf(CodeMutuallyExclusive, "--include-databases and --exclude-databases are mutually exclusive",
			"--include-databases lists the only databases to replicate; --exclude-databases replicates every database but the listed ones. Keep one of the two.")
	}
	if len(include) > 0 {
		r.Databases = include
	}
	if len(exclude) > 0 {
		r.ExcludeDatabases = exclude
	}

	inScope := func(flag string, ref TableRef) bool {
		if ref.Database == "" {
			return true // resolved against the source by the planner
		}
		if r.Databases != nil && !contains(r.Databases, ref.Database) {
			errf(CodeTableNotInDatabases, "Table outside the replicated databases",
				"%s names %s in database %q, which is not in --include-databases %s. Add %q to --include-databases, or fix the database part.",
				flag, ref, ref.Database, strings.Join(r.Databases, ","), ref.Database)
			return false
		}
		if contains(r.ExcludeDatabases, ref.Database) {
			errf(CodeTableInExcludedDatabase, "Table in an excluded database",
				"%s names %s in database %q, which --exclude-databases leaves out. Remove %q from --exclude-databases, or drop this table.",
				flag, ref, ref.Database, ref.Database)
			return false
		}
		return true
	}
	tableList := func(flag string, values []string) []TableRef {
		refs, err := ParseTableList(flag, values)
		if err != nil {
			errf(CodeInvalidTableReference, "Invalid "+flag, "%s.", err)
			return nil
		}
		var out []TableRef
		for _, ref := range refs {
			if inScope(flag, ref) {
				out = append(out, ref)
			}
		}
		return out
	}
	r.IncludeTables = tableList("--include-tables", f.IncludeTables)
	r.ExcludeTables = tableList("--exclude-tables", f.ExcludeTables)
	r.SchemaOnly = tableList("--schema-only-tables", f.SchemaOnlyTables)
	if len(f.IncludeTables) > 0 && len(f.ExcludeTables) > 0 {
		errf(CodeMutuallyExclusive, "--include-tables and --exclude-tables are mutually exclusive",
			"--include-tables lists the only tables to replicate; --exclude-tables replicates every table but the listed ones. Keep one of the two.")
	}

	included := refSet(r.IncludeTables)
	excluded := refSet(r.ExcludeTables)
	schemaOnly := refSet(r.SchemaOnly)
	for _, ref := range r.SchemaOnly {
		switch {
		case excluded[ref]:
			errf(CodeSchemaOnlyExcluded, "Schema-only table is excluded",
				"--schema-only-tables lists %s, which --exclude-tables leaves out, so neither its structure nor its rows are copied. Remove it from one of the two flags.", ref)
		case len(included) > 0 && !included[ref]:
			errf(CodeSchemaOnlyNotIncluded, "Schema-only table is not included",
				"--schema-only-tables lists %s, but --include-tables lists the only tables to replicate and it is not among them. Add %q to --include-tables, or remove it from --schema-only-tables.", ref, ref.String())
		}
	}

	type parsedFilter struct {
		flag, value string
		tc          *TableConfig
	}
	var filters []parsedFilter
	for _, v := range f.TableFilters {
		tc, err := ParseTableFilterFlag(v)
		if err != nil {
			errf(CodeInvalidFilter, "Invalid --table-filter", "%s.", err)
			continue
		}
		filters = append(filters, parsedFilter{"--table-filter", v, tc})
	}
	for _, v := range f.TimeFilters {
		tc, err := ParseTimeFilterFlag(v)
		if err != nil {
			errf(CodeInvalidFilter, "Invalid --time-filter", "%s.", err)
			continue
		}
		filters = append(filters, parsedFilter{"--time-filter", v, tc})
	}

	// checkTable applies the per-table rules; quiet skips a table that is
	// excluded or not included (for expanded wildcard filters).
	checkTable := func(p parsedFilter, tc *TableConfig, quiet bool) bool {
		ref := tc.Ref
		switch {
		case excluded[ref]:
			if !quiet {
				errf(CodeSettingsExcludedTable, "Filter on an excluded table",
					"%s %q filters %s, which --exclude-tables leaves out. Remove the filter, or remove %q from --exclude-tables.", p.flag, p.value, ref, ref.String())
			}
			return false
		case len(included) > 0 && !included[ref]:
			if !quiet {
				errf(CodeSettingsNotIncludedTable, "Filter on a table that is not included",
					"%s %q filters %s, but --include-tables lists the only tables to replicate and it is not among them. Add %q to --include-tables, or remove the filter.", p.flag, p.value, ref, ref.String())
			}
			return false
		case schemaOnly[ref]:
			errf(CodeFilterOnSchemaOnly, "Row filter on a schema-only table",
				"%s %q filters %s, which --schema-only-tables copies without rows, so the filter cannot apply. Remove the filter, or remove %q from --schema-only-tables.", p.flag, p.value, ref, ref.String())
			return false
		}
		return true
	}
	seen := map[TableRef]string{}
	add := func(p parsedFilter, tc *TableConfig) {
		if prev, ok := seen[tc.Ref]; ok {
			errf(CodeDuplicateFilter, "Two filters for one table",
				"%s %q and %s both filter %s. A table has one row filter: combine the conditions into one --table-filter with AND, or drop one.", p.flag, p.value, prev, describeFlagRef(tc.Ref))
			return
		}
		seen[tc.Ref] = fmt.Sprintf("%s %q", p.flag, p.value)
		r.Tables = append(r.Tables, tc)
	}
	// Explicit references first, so that wildcards can be checked against them.
	for _, p := range filters {
		if p.tc.Ref.Database == "" || !inScope(p.flag, p.tc.Ref) {
			continue
		}
		if checkTable(p, p.tc, false) {
			add(p, p.tc)
		}
	}
	for _, p := range filters {
		if p.tc.Ref.Database != "" {
			continue
		}
		if r.Databases == nil {
			for _, t := range r.Tables {
				ref, prev := t.Ref, seen[t.Ref]
				if ref.Database != "" && ref.Schema == p.tc.Ref.Schema && ref.Table == p.tc.Ref.Table {
					errf(CodeDuplicateFilter, "Two filters for one table",
						"%s %q applies to %s.%s in every database, and %s filters it in database %q. A table has one row filter: give the first one a database part (\"db.%s\"), or drop one.",
						p.flag, p.value, quotePart(ref.Schema), quotePart(ref.Table), prev, ref.Database, p.tc.Ref.Table)
				}
			}
			if checkTable(p, p.tc, false) {
				add(p, p.tc)
			}
			continue
		}
		n := 0
		for _, db := range r.Databases {
			tc := *p.tc
			tc.Ref.Database = db
			if tw := p.tc.TimeWindow; tw != nil {
				cp := *tw
				tc.TimeWindow = &cp
			}
			if checkTable(p, &tc, true) {
				add(p, &tc)
				n++
			}
		}
		if n == 0 && !diags.HasErrors() {
			errf(CodeFilterMatchesNoTable, "Filter applies to no table",
				"%s %q names no database, so it applies to %s.%s in each of --include-databases %s, but that table is excluded or not included in every one of them. Remove the filter, or fix --include-tables/--exclude-tables.",
				p.flag, p.value, quotePart(p.tc.Ref.Schema), quotePart(p.tc.Ref.Table), strings.Join(r.Databases, ","))
		}
	}
	for _, ref := range tableList("--replica-identity-full", f.ReplicaIdentityFull) {
		if excluded[ref] {
			errf(CodeSettingsExcludedTable, "Replica identity for an excluded table",
				"--replica-identity-full names %s, which --exclude-tables leaves out. Remove it from one of the two flags.", ref)
			continue
		}
		setFullIdentity(r, ref)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return newFlagConfig(nil, sourceURL, targetURL, r), diags
}

// SetReplicaIdentityFull gives each table of values (the
// --replica-identity-full flag's entries) replica_identity = "full" in
// every replication of cfg: the flag next to a predecessor TOML file,
// whose format cannot say it.
func SetReplicaIdentityFull(cfg *Config, values []string) error {
	refs, err := ParseTableList("--replica-identity-full", values)
	if err != nil {
		return err
	}
	for _, r := range cfg.Replications {
		for _, ref := range refs {
			setFullIdentity(r, ref)
		}
	}
	return nil
}

// setFullIdentity gives ref replica_identity = "full": in its table
// settings when it has some (a filter), in new ones otherwise.
func setFullIdentity(r *Replication, ref TableRef) {
	for _, tc := range r.Tables {
		if tc.Ref == ref {
			tc.ReplicaIdentity = "full"
			return
		}
	}
	r.Tables = append(r.Tables, &TableConfig{Ref: ref, ReplicaIdentity: "full"})
}

// describeFlagRef renders a reference, saying "every database" for a
// wildcard one.
func describeFlagRef(ref TableRef) string {
	if ref.Database == "" {
		return ref.String() + " in every database"
	}
	return ref.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func refSet(refs []TableRef) map[TableRef]bool {
	m := make(map[TableRef]bool, len(refs))
	for _, r := range refs {
		m[r] = true
	}
	return m
}

// newFlagReplication returns replication "main" from "source" to "target"
// with default settings.
func newFlagReplication() *Replication {
	return &Replication{
		Name:     FlagReplicationName,
		Source:   FlagSourceName,
		Target:   FlagTargetName,
		Snapshot: DefaultSnapshot(),
		Sync:     DefaultSync(),
		Policy:   DefaultPolicy(),
	}
}

// newFlagConfig wraps one replication into a Config whose endpoints take
// their URLs from the sensitive variables source_url and target_url. An
// empty URL leaves the variable without a value. rng is the declaration
// range given to the synthesized parts (empty for flags).
func newFlagConfig(rng *hcl.Range, sourceURL, targetURL string, r *Replication) *Config {
	var decl hcl.Range
	if rng != nil {
		decl = *rng
	}
	variable := func(name, url, what string) *Variable {
		v := &Variable{Name: name, Description: what, Default: cty.NilVal, Sensitive: true, DeclRange: decl}
		if url != "" {
			v.Value = cty.StringVal(url)
		}
		return v
	}
	cfg := &Config{
		Variables: map[string]*Variable{
			SourceURLVar: variable(SourceURLVar, sourceURL, ""),
			TargetURLVar: variable(TargetURLVar, targetURL, ""),
		},
		Sources: map[string]*Endpoint{
			FlagSourceName: {Kind: KindSource, Name: FlagSourceName, URL: sourceURL, Sensitive: true, DeclRange: decl},
		},
		Targets: map[string]*Endpoint{
			FlagTargetName: {Kind: KindTarget, Name: FlagTargetName, URL: targetURL, Sensitive: true, DeclRange: decl},
		},
		Replications: []*Replication{r},
		State:        DefaultState(),
		FlagMode:     true,
	}
	r.DeclRange = decl
	return cfg
}
