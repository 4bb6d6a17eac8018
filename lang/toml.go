package lang

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
	"github.com/hashicorp/hcl/v2"

	"github.com/database-replicator/database-replicator/lang/diag"
)

// LoadTOML reads the predecessor's TOML configuration from path and decodes
// it with DecodeTOML.
func LoadTOML(path string, opts LoadOptions) (*Config, diag.Diagnostics) {
	cfg, hds := loadTOML(path, opts)
	return cfg, fromHCL(hds)
}

// loadTOML is LoadTOML with HCL diagnostics.
func loadTOML(path string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration file",
			Detail:   fmt.Sprintf("%s. Pass the configuration file with -c/--config.", err),
			Extra:    diag.WithCode(CodeUnreadable),
		}}
	}
	return decodeTOML(path, src, opts)
}

// DecodeTOML decodes the predecessor's TOML configuration:
//
//	[databases.myapp]
//	schema_only = ["audit_logs", "archive.old_events"]   # unqualified = schema public
//
//	[[databases.myapp.table_filters]]
//	table  = "events"
//	schema = "public"                                    # optional, default public
//	where  = "created_at > now() - interval '90 days'"
//
//	[[databases.myapp.time_filters]]
//	table  = "metrics"
//	column = "timestamp"
//	last   = "6 months"
//
// into the same typed Config as the HCL decoder: one replication "main"
// from source "source" to target "target" whose Databases are the sorted
// names of the [databases] tables (nil, meaning every database, when there
// are none). The predecessor took the connection strings from the command
// line, so the Config declares the sensitive variables source_url and
// target_url; their values come from opts.Vars or REPLICATOR_VAR_source_url
// / REPLICATOR_VAR_target_url, and the endpoint URLs are "" when neither is
// given (the CLI then supplies them from --source/--target).
//
// A filter's table is a table name in the schema given by schema; without
// schema it may be written "schema.table" (as in schema_only), and an
// unqualified table is in schema public.
//
// Diagnostics carry the file name and the line and column of the offending
// key or value. The Config is nil only when the file does not parse; after
// other errors it is partial, so callers must check diags.HasErrors().
func DecodeTOML(filename string, src []byte, opts LoadOptions) (*Config, diag.Diagnostics) {
	cfg, hds := decodeTOML(filename, src, opts)
	return cfg, fromHCL(hds)
}

// decodeTOML is DecodeTOML with HCL diagnostics.
func decodeTOML(filename string, src []byte, opts LoadOptions) (*Config, hcl.Diagnostics) {
	d := &tomlDecoder{filename: filename, src: src}
	var raw map[string]any
	if _, err := toml.Decode(string(src), &raw); err != nil {
		d.parseError(err)
		return nil, d.diags
	}
	d.locs = locateTOML(src)

	start := hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
	r := newFlagReplication()
	d.decodeRoot(raw, r)

	sourceURL := d.varValue(opts, SourceURLVar)
	targetURL := d.varValue(opts, TargetURLVar)
	var extra []string
	for name := range opts.Vars {
		if name != SourceURLVar && name != TargetURLVar {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Value for undeclared variable %q", name),
			Detail: fmt.Sprintf("--var %s=... sets a variable that the TOML configuration does not declare: it declares only %s and %s. Drop the --var, or convert the file to HCL with `database-replicator config convert %s` and declare the variable there.",
				name, SourceURLVar, TargetURLVar, filename),
			Extra: diag.WithCode(CodeUndeclaredVariableValue),
		})
	}
	cfg := newFlagConfig(&start, sourceURL, targetURL, r)
	cfg.Files = []string{filename}
	return cfg, d.diags
}

// varValue resolves source_url or target_url: --var, then the environment.
func (d *tomlDecoder) varValue(opts LoadOptions, name string) string {
	if s, ok := opts.Vars[name]; ok {
		return s
	}
	for _, env := range []string{VarEnvPrefix + name, VarEnvPrefix + strings.ToUpper(name)} {
		if s, ok := opts.lookupEnv(env); ok {
			return s
		}
	}
	return ""
}

// tomlDecoder walks the generic TOML value and builds the replication.
type tomlDecoder struct {
	filename string
	src      []byte
	locs     map[string]tomlSpan
	diags    hcl.Diagnostics
}

// parseError converts a TOML syntax error into a diagnostic.
func (d *tomlDecoder) parseError(err error) {
	hd := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid TOML", Extra: diag.WithCode(CodeTOMLSyntax)}
	var pe toml.ParseError
	if errors.As(err, &pe) {
		hd.Detail = pe.Message
		if pe.Usage != "" {
			hd.Detail += ".\n" + strings.TrimSpace(pe.Usage)
		}
		if !strings.HasSuffix(hd.Detail, ".") {
			hd.Detail += "."
		}
		line := max(pe.Position.Line, 1)
		col := max(pe.Position.Col, 1)
		startPos := hcl.Pos{Line: line, Column: col, Byte: pe.Position.Start}
		end := startPos
		if pe.Position.Len > 0 {
			end = d.pos(pe.Position.Start + pe.Position.Len)
			if end.Line != line {
				end = startPos
			}
		}
		hd.Subject = &hcl.Range{Filename: d.filename, Start: startPos, End: end}
	} else {
		hd.Detail = err.Error() + "."
		hd.Subject = &hcl.Range{Filename: d.filename, Start: hcl.InitialPos, End: hcl.InitialPos}
	}
	d.diags = append(d.diags, hd)
}

// errorf reports an error at the located path (or its nearest located
// ancestor).
func (d *tomlDecoder) errorf(code diag.Code, path []string, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  d.rangeOf(path).Ptr(),
		Extra:    diag.WithCode(code),
	})
}

// warnf reports a warning at the located path.
func (d *tomlDecoder) warnf(code diag.Code, path []string, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  d.rangeOf(path).Ptr(),
		Extra:    diag.WithCode(code),
	})
}

// rangeOf returns the source range of a key path, falling back to its
// ancestors and then to the start of the file.
func (d *tomlDecoder) rangeOf(path []string) hcl.Range {
	for n := len(path); n > 0; n-- {
		if sp, ok := d.locs[tomlPath(path[:n]...)]; ok {
			return hcl.Range{Filename: d.filename, Start: d.pos(sp.start), End: d.pos(sp.end)}
		}
	}
	return hcl.Range{Filename: d.filename, Start: hcl.InitialPos, End: hcl.InitialPos}
}

// line returns the line of a key path, for messages.
func (d *tomlDecoder) line(path []string) int { return d.rangeOf(path).Start.Line }

// pos converts a byte offset into a position; columns count characters.
func (d *tomlDecoder) pos(off int) hcl.Pos {
	off = min(max(off, 0), len(d.src))
	line, lineStart := 1, 0
	for i := 0; i < off; i++ {
		if d.src[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	return hcl.Pos{Line: line, Column: utf8.RuneCount(d.src[lineStart:off]) + 1, Byte: off}
}

// tomlTypeName names the TOML type of a decoded value.
func tomlTypeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a table"
	case []any, []map[string]any:
		return "an array"
	}
	return "a date or time"
}

// unknownKey reports a key that is not in allowed.
func (d *tomlDecoder) unknownKey(path []string, where string, allowed []string) {
	key := path[len(path)-1]
	detail := fmt.Sprintf("%s has no key %q. Allowed keys: %s.", where, key, strings.Join(allowed, ", "))
	if s := suggest(key, allowed); s != "" {
		detail += fmt.Sprintf(" Did you mean %s?", s)
	}
	d.errorf(CodeTOMLUnknownKey, path, "Unknown key "+strconv.Quote(key), "%s", detail)
}

// sortedMapKeys returns the keys of a TOML table in name order.
func sortedMapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// decodeRoot decodes the top-level table.
func (d *tomlDecoder) decodeRoot(raw map[string]any, r *Replication) {
	for _, k := range sortedMapKeys(raw) {
		if k != "databases" {
			d.unknownKey([]string{k}, "The top level of the configuration", []string{"databases"})
		}
	}
	v, ok := raw["databases"]
	if !ok {
		return
	}
	dbs, ok := v.(map[string]any)
	if !ok {
		d.errorf(CodeWrongType, []string{"databases"}, "Invalid databases",
			"databases must be a table of databases, not %s: write [databases.myapp] sections.", tomlTypeName(v))
		return
	}
	names := sortedMapKeys(dbs)
	// Filters found so far, with the path where each was defined.
	filtered := map[TableRef][]string{}
	for _, db := range names {
		path := []string{"databases", db}
		if err := checkName("database", db); err != nil {
			d.errorf(CodeInvalidDatabaseName, path, "Invalid database name", "In [databases.%s]: %s.", db, err)
			continue
		}
		r.Databases = append(r.Databases, db)
		body, ok := dbs[db].(map[string]any)
		if !ok {
			d.errorf(CodeWrongType, path, "Invalid database section",
				"databases.%s must be a table, not %s: write a [databases.%s] section.", db, tomlTypeName(dbs[db]), db)
			continue
		}
		d.decodeDatabase(db, body, r, filtered)
	}
}

var tomlDatabaseKeys = []string{"schema_only", "table_filters", "time_filters"}

// decodeDatabase decodes one [databases.NAME] section.
func (d *tomlDecoder) decodeDatabase(db string, body map[string]any, r *Replication, filtered map[TableRef][]string) {
	base := []string{"databases", db}
	for _, k := range sortedMapKeys(body) {
		if !contains(tomlDatabaseKeys, k) {
			d.unknownKey(append(base, k), fmt.Sprintf("[databases.%s]", tomlKey(db)), tomlDatabaseKeys)
		}
	}
	schemaOnly := map[TableRef][]string{}
	if v, ok := body["schema_only"]; ok {
		path := append(append([]string{}, base...), "schema_only")
		list, ok := v.([]any)
		if !ok {
			d.errorf(CodeWrongType, path, "Invalid schema_only",
				"schema_only must be an array of table names, not %s: write schema_only = [\"audit_logs\", \"archive.old_events\"].", tomlTypeName(v))
		}
		for i, e := range list {
			epath := append(append([]string{}, path...), tomlIndex(i))
			s, ok := e.(string)
			if !ok {
				d.errorf(CodeWrongType, epath, "Invalid schema_only entry",
					"Every entry of schema_only must be a string naming a table, not %s: write \"audit_logs\" or \"archive.old_events\".", tomlTypeName(e))
				continue
			}
			ref, err := schemaTableRef(db, s)
			if err != nil {
				d.errorf(CodeInvalidTableReference, epath, "Invalid table in schema_only", "In schema_only: %s.", err)
				continue
			}
			if _, dup := schemaOnly[ref]; dup {
				d.warnf(CodeDuplicateEntry, epath, "Duplicate table", "%s is listed twice in schema_only: remove one.", ref)
				continue
			}
			schemaOnly[ref] = epath
			r.SchemaOnly = append(r.SchemaOnly, ref)
		}
	}
	for _, kind := range []string{"table_filters", "time_filters"} {
		v, ok := body[kind]
		if !ok {
			continue
		}
		path := append(append([]string{}, base...), kind)
		elems, ok := tomlTables(v)
		if !ok {
			d.errorf(CodeWrongType, path, "Invalid "+kind,
				"%s must be an array of tables, not %s: write one [[databases.%s.%s]] section per table.", kind, tomlTypeName(v), tomlKey(db), kind)
			continue
		}
		for i, e := range elems {
			epath := append(append([]string{}, path...), tomlIndex(i))
			if e == nil {
				d.errorf(CodeWrongType, epath, "Invalid "+kind+" entry",
					"Every entry of %s must be a table: write a [[databases.%s.%s]] section.", kind, tomlKey(db), kind)
				continue
			}
			tc := d.decodeFilter(db, kind, e, epath)
			if tc == nil {
				continue
			}
			if prev, ok := filtered[tc.Ref]; ok {
				d.errorf(CodeDuplicateFilter, epath, "Duplicate filter",
					"%s already has a filter at line %d. A table has one row filter: merge the two into one table_filters entry (combine conditions with AND), or remove one.", tc.Ref, d.line(prev))
				continue
			}
			filtered[tc.Ref] = epath
			if so, ok := schemaOnly[tc.Ref]; ok {
				d.errorf(CodeFilterOnSchemaOnly, epath, "Row filter on a schema-only table",
					"%s is listed in schema_only (line %d), so no rows are copied and this filter cannot apply. Remove the filter, or remove the table from schema_only to copy the filtered rows.", tc.Ref, d.line(so))
				continue
			}
			r.Tables = append(r.Tables, tc)
		}
	}
}

// tomlTables returns the elements of an array of tables; a nil element
// is an entry that is not a table.
func tomlTables(v any) ([]map[string]any, bool) {
	switch v := v.(type) {
	case []map[string]any:
		return v, true
	case []any:
		out := make([]map[string]any, len(v))
		for i, e := range v {
			out[i], _ = e.(map[string]any)
		}
		return out, true
	}
	return nil, false
}

// decodeFilter decodes one table_filters or time_filters entry.
func (d *tomlDecoder) decodeFilter(db, kind string, e map[string]any, path []string) *TableConfig {
	allowed := []string{"table", "schema", "where"}
	example := `table = "events" and where = "created_at > now() - interval '90 days'"`
	if kind == "time_filters" {
		allowed = []string{"table", "schema", "column", "last"}
		example = `table = "metrics", column = "timestamp" and last = "6 months"`
	}
	section := fmt.Sprintf("[[databases.%s.%s]]", tomlKey(db), kind)
	ok := true
	for _, k := range sortedMapKeys(e) {
		if !contains(allowed, k) {
			hint := ""
			if kind == "time_filters" && k == "where" {
				hint = " (a where condition belongs in table_filters)"
			} else if kind == "table_filters" && (k == "column" || k == "last") {
				hint = " (column and last belong in time_filters)"
			}
			d.unknownKey(append(append([]string{}, path...), k), section+hint, allowed)
			ok = false
		}
	}
	str := func(key string, required bool) (string, bool) {
		v, has := e[key]
		kpath := append(append([]string{}, path...), key)
		if !has {
			if required {
				d.errorf(CodeMissingAttribute, path, "Missing "+key,
					"A %s entry needs %s: write %s.", section, key, example)
			}
			return "", !required
		}
		s, isStr := v.(string)
		if !isStr {
			d.errorf(CodeWrongType, kpath, "Invalid "+key, "%s must be a string, not %s: write %s = \"...\".", key, tomlTypeName(v), key)
			return "", false
		}
		if strings.TrimSpace(s) == "" {
			d.errorf(CodeEmptyValue, kpath, "Empty "+key, "%s is empty in %s: write %s.", key, section, example)
			return "", false
		}
		return s, true
	}
	table, okT := str("table", true)
	schema, okS := str("schema", false)
	ok = ok && okT && okS
	var ref TableRef
	if okT && okS {
		var err error
		if _, has := e["schema"]; has {
			ref = TableRef{Database: db, Schema: schema, Table: table}
			if err = checkName("schema", schema); err == nil {
				err = checkName("table", table)
			}
		} else {
			ref, err = schemaTableRef(db, table)
		}
		if err != nil {
			d.errorf(CodeInvalidTableReference, append(append([]string{}, path...), "table"), "Invalid table", "In %s: %s.", section, err)
			ok = false
		}
	}
	tc := &TableConfig{Ref: ref, DeclRange: d.rangeOf(path)}
	if kind == "table_filters" {
		where, okW := str("where", true)
		if okW {
			if err := CheckRowFilterSyntax(where); err != nil {
				d.errorf(CodeInvalidFilter, append(append([]string{}, path...), "where"), "Invalid where", "In %s: the row filter is not one SQL expression: %s.", section, err)
				okW = false
			}
		}
		tc.Where = where
		ok = ok && okW
	} else {
		column, okC := str("column", true)
		last, okL := str("last", true)
		if okC {
			if err := checkName("column", column); err != nil {
				d.errorf(CodeInvalidFilter, append(append([]string{}, path...), "column"), "Invalid column", "In %s: %s.", section, err)
				okC = false
			}
		}
		var w Window
		if okL {
			var err error
			if w, err = ParseWindow(last); err != nil {
				d.errorf(CodeInvalidTimeWindow, append(append([]string{}, path...), "last"), "Invalid time window", "In %s, last: %s.", section, err)
				okL = false
			}
		}
		tc.TimeWindow = &TimeWindow{Column: column, Last: w}
		ok = ok && okC && okL
	}
	if !ok {
		return nil
	}
	return tc
}

// schemaTableRef parses "table" (schema public) or "schema.table" within db.
func schemaTableRef(db, s string) (TableRef, error) {
	parts, err := SplitQualifiedName(s)
	if err != nil {
		return TableRef{}, err
	}
	var ref TableRef
	switch len(parts) {
	case 1:
		ref = TableRef{Database: db, Schema: "public", Table: parts[0]}
	case 2:
		ref = TableRef{Database: db, Schema: parts[0], Table: parts[1]}
	default:
		return TableRef{}, fmt.Errorf("table %q has %d dotted parts: write \"table\" (schema public) or \"schema.table\", and put a name that contains a dot in double quotes", s, len(parts))
	}
	if err := checkName("schema", ref.Schema); err != nil {
		return TableRef{}, err
	}
	if err := checkName("table", ref.Table); err != nil {
		return TableRef{}, err
	}
	return ref, nil
}

// tomlKey renders one TOML key part, quoting it when it is not bare.
func tomlKey(s string) string {
	return toml.Key{s}.String()
}

// ---- key locations ------------------------------------------------------

// tomlSpan is a byte range in the source.
type tomlSpan struct{ start, end int }

// tomlPath joins key parts into a map key for locations.
func tomlPath(parts ...string) string { return strings.Join(parts, "\x1f") }

// tomlIndex is the path part of the i-th element of an array.
func tomlIndex(i int) string { return "\x00" + strconv.Itoa(i) }

// locateTOML records where keys, table headers and array elements of a
// TOML document are. It assumes the document parsed; on anything it does
// not understand it stops early, and positions fall back to ancestors.
func locateTOML(src []byte) map[string]tomlSpan {
	l := &tomlLocator{src: src, locs: map[string]tomlSpan{}, aot: map[string]int{}}
	l.run()
	return l.locs
}

type tomlLocator struct {
	src  []byte
	i    int
	locs map[string]tomlSpan
	// aot counts the elements of each array of tables seen so far.
	aot map[string]int
}

func (l *tomlLocator) record(path []string, start, end int) {
	k := tomlPath(path...)
	if _, ok := l.locs[k]; !ok {
		l.locs[k] = tomlSpan{start, end}
	}
}

func (l *tomlLocator) eof() bool { return l.i >= len(l.src) }

// skipSpace skips blanks; with newlines, also line breaks and comments.
func (l *tomlLocator) skipSpace(newlines bool) {
	for !l.eof() {
		switch c := l.src[l.i]; {
		case c == ' ' || c == '\t':
			l.i++
		case newlines && (c == '\n' || c == '\r'):
			l.i++
		case newlines && c == '#':
			for !l.eof() && l.src[l.i] != '\n' {
				l.i++
			}
		default:
			return
		}
	}
}

func (l *tomlLocator) run() {
	var cur []string
	for {
		l.skipSpace(true)
		if l.eof() {
			return
		}
		start := l.i
		if l.src[l.i] == '[' {
			arr := l.i+1 < len(l.src) && l.src[l.i+1] == '['
			l.i++
			if arr {
				l.i++
			}
			keys, ok := l.key()
			if !ok {
				return
			}
			l.skipSpace(false)
			for !l.eof() && l.src[l.i] == ']' {
				l.i++
			}
			cur = append([]string(nil), keys...)
			if arr {
				plain := tomlPath(keys...)
				n := l.aot[plain]
				l.aot[plain] = n + 1
				cur = append(cur, tomlIndex(n))
			}
			l.record(cur, start, l.i)
			continue
		}
		if !l.keyValue(cur) {
			return
		}
	}
}

// keyValue reads `key = value` under prefix.
func (l *tomlLocator) keyValue(prefix []string) bool {
	start := l.i
	keys, ok := l.key()
	if !ok {
		return false
	}
	end := l.i
	path := append(append([]string(nil), prefix...), keys...)
	for n := len(prefix) + 1; n <= len(path); n++ {
		l.record(path[:n], start, end)
	}
	l.skipSpace(false)
	if l.eof() || l.src[l.i] != '=' {
		return false
	}
	l.i++
	l.skipSpace(false)
	return l.value(path)
}

// key reads a dotted key; it stops before '=', ']' or anything else.
func (l *tomlLocator) key() ([]string, bool) {
	var parts []string
	for {
		l.skipSpace(false)
		if l.eof() {
			return nil, false
		}
		var part string
		switch c := l.src[l.i]; c {
		case '"':
			s, ok := l.basicString()
			if !ok {
				return nil, false
			}
			part = s
		case '\'':
			j := l.i + 1
			for j < len(l.src) && l.src[j] != '\'' && l.src[j] != '\n' {
				j++
			}
			if j >= len(l.src) || l.src[j] != '\'' {
				return nil, false
			}
			part = string(l.src[l.i+1 : j])
			l.i = j + 1
		default:
			j := l.i
			for j < len(l.src) && !strings.ContainsRune(" \t=.[]#\r\n\"'", rune(l.src[j])) {
				j++
			}
			if j == l.i {
				return nil, false
			}
			part = string(l.src[l.i:j])
			l.i = j
		}
		parts = append(parts, part)
		l.skipSpace(false)
		if l.eof() || l.src[l.i] != '.' {
			return parts, true
		}
		l.i++
	}
}

// basicString reads a one-line "..." string and returns its value.
func (l *tomlLocator) basicString() (string, bool) {
	j := l.i + 1
	for j < len(l.src) && l.src[j] != '"' && l.src[j] != '\n' {
		if l.src[j] == '\\' {
			j++
		}
		j++
	}
	if j >= len(l.src) || l.src[j] != '"' {
		return "", false
	}
	raw := string(l.src[l.i : j+1])
	l.i = j + 1
	if s, err := strconv.Unquote(raw); err == nil {
		return s, true
	}
	return raw[1 : len(raw)-1], true
}

// value skips one value, recording array elements and inline table keys.
func (l *tomlLocator) value(path []string) bool {
	if l.eof() {
		return false
	}
	switch l.src[l.i] {
	case '"', '\'':
		return l.skipString()
	case '[':
		l.i++
		for n := 0; ; n++ {
			l.skipSpace(true)
			if l.eof() {
				return false
			}
			if l.src[l.i] == ']' {
				l.i++
				return true
			}
			start := l.i
			epath := append(append([]string(nil), path...), tomlIndex(n))
			if !l.value(epath) {
				return false
			}
			l.record(epath, start, l.i)
			l.skipSpace(true)
			if !l.eof() && l.src[l.i] == ',' {
				l.i++
			}
		}
	case '{':
		l.i++
		for {
			l.skipSpace(true)
			if l.eof() {
				return false
			}
			switch l.src[l.i] {
			case '}':
				l.i++
				return true
			case ',':
				l.i++
				continue
			}
			if !l.keyValue(path) {
				return false
			}
		}
	}
	start := l.i
	for !l.eof() && !strings.ContainsRune(",]}#\r\n", rune(l.src[l.i])) {
		l.i++
	}
	return l.i > start
}

// skipString skips a basic, literal or multi-line string.
func (l *tomlLocator) skipString() bool {
	q := l.src[l.i]
	if l.i+2 < len(l.src) && l.src[l.i+1] == q && l.src[l.i+2] == q {
		l.i += 3
		for !l.eof() {
			if q == '"' && l.src[l.i] == '\\' {
				l.i += 2
				continue
			}
			if l.src[l.i] == q && l.i+2 < len(l.src) && l.src[l.i+1] == q && l.src[l.i+2] == q {
				l.i += 3
				// Up to two more quotes belong to the content.
				for k := 0; k < 2 && !l.eof() && l.src[l.i] == q; k++ {
					l.i++
				}
				return true
			}
			l.i++
		}
		return false
	}
	l.i++
	for !l.eof() && l.src[l.i] != q && l.src[l.i] != '\n' {
		if q == '"' && l.src[l.i] == '\\' {
			l.i++
		}
		l.i++
	}
	if l.eof() || l.src[l.i] != q {
		return false
	}
	l.i++
	return true
}
