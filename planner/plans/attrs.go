package plans

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
)

// Attrs are the typed attributes of one resource: one struct per resource
// kind (DatabaseAttrs, TableAttrs, PublicationAttrs, ...). A change holds
// them as Before and After; the state records them, and plan JSON shows
// them, in the generic form EncodeAttrs writes and DecodeAttrs reads.
type Attrs interface {
	// Kind is the resource kind the attributes describe.
	Kind() addrs.Kind
	// encode renders the attributes in their wire form.
	encode() map[string]any
}

// EncodeAttrs renders attributes in their wire form, the one state files,
// saved plans and plan JSON hold: a map of generic JSON values (strings,
// bools, json.Number, []any and map[string]any), so that it encodes to the
// same bytes however often it is decoded and encoded again. nil gives nil.
func EncodeAttrs(a Attrs) map[string]any {
	if a == nil {
		return nil
	}
	return a.encode()
}

// DecodeAttrs reads the wire form of a kind's attributes (EncodeAttrs, or
// a state written by an earlier version). Keys it does not know are
// ignored; a known key of the wrong type is an error. nil gives nil.
func DecodeAttrs(kind addrs.Kind, m map[string]any) (Attrs, error) {
	if m == nil {
		return nil, nil
	}
	f := &fields{kind: kind, m: m}
	var a Attrs
	switch kind {
	case addrs.Database:
		a = decodeDatabase(f)
	case addrs.Globals:
		a = decodeGlobals(f)
	case addrs.Schema:
		a = decodeSchema(f)
	case addrs.Table:
		a = decodeTable(f)
	case addrs.PostData:
		a = decodePostData(f)
	case addrs.Sequences:
		a = decodeSequences(f)
	case addrs.Publication:
		a = decodePublication(f)
	case addrs.Slot:
		a = decodeSlot(f)
	case addrs.Subscription:
		a = decodeSubscription(f)
	case addrs.Xmin:
		a = decodeXmin(f)
	case addrs.Cutover:
		a = decodeCutover(f)
	case addrs.DDLCapture:
		a = decodeDDLCapture(f)
	default:
		return nil, fmt.Errorf("attributes of unknown kind %q", kind)
	}
	if f.err != nil {
		return nil, f.err
	}
	return a, nil
}

// TableName names a table inside a database. It is never pre-quoted: the
// SQL that uses it quotes it where the statement is built.
type TableName struct {
	Schema, Table string
}

// Less orders names by schema, then table.
func (t TableName) Less(o TableName) bool {
	if t.Schema != o.Schema {
		return t.Schema < o.Schema
	}
	return t.Table < o.Table
}

// In returns the reference of the table in database db.
func (t TableName) In(db string) lang.TableRef {
	return lang.TableRef{Database: db, Schema: t.Schema, Table: t.Table}
}

// wire renders the name as the wire form shows it: "schema"."table".
func (t TableName) wire() string { return lang.QuoteIdent(t.Schema) + "." + lang.QuoteIdent(t.Table) }

// parseTableName reads the wire form of a table name.
func parseTableName(s string) (TableName, error) {
	parts, err := lang.SplitQualifiedName(s)
	if err != nil || len(parts) != 2 {
		return TableName{}, fmt.Errorf("table name %q: want \"schema\".\"table\"", s)
	}
	return TableName{Schema: parts[0], Table: parts[1]}, nil
}

// SortTableNames sorts names in place by schema, then table.
func SortTableNames(ts []TableName) {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Less(ts[j]) })
}

// TimeWindow is a moving row filter on a timestamp column: the rows of
// the last Last (an interval, e.g. "90 days").
type TimeWindow struct {
	Column string
	Last   string
}

// encode helpers: every value is a generic JSON value.

func number[T int | int64 | uint64](n T) json.Number {
	switch v := any(n).(type) {
	case uint64:
		return json.Number(strconv.FormatUint(v, 10))
	case int:
		return json.Number(strconv.Itoa(v))
	default:
		return json.Number(strconv.FormatInt(any(n).(int64), 10))
	}
}

// list renders strings; nil stays nil (JSON null), empty is [].
func list(ss []string) any {
	if ss == nil {
		return nil
	}
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// refList renders table references as "db.schema.table" strings.
func refList(rs []lang.TableRef) any {
	if rs == nil {
		return nil
	}
	out := make([]any, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

func (w *TimeWindow) wire() map[string]any {
	return map[string]any{"column": w.Column, "last": w.Last}
}

// fields reads a wire map, keeping the first type error.
type fields struct {
	kind addrs.Kind
	m    map[string]any
	err  error
}

func (f *fields) fail(key, want string, v any) {
	if f.err == nil {
		f.err = fmt.Errorf("attribute %q of a %s: want %s, got %T", key, f.kind, want, v)
	}
}

func (f *fields) has(key string) bool { _, ok := f.m[key]; return ok && f.m[key] != nil }

func (f *fields) str(key string) string {
	v, ok := f.m[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		f.fail(key, "a string", v)
	}
	return s
}

func (f *fields) boolean(key string) bool {
	v, ok := f.m[key]
	if !ok || v == nil {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		f.fail(key, "a bool", v)
	}
	return b
}

// integer reads a number: json.Number as decoded from JSON, or a Go int
// or int64 as written by hand in tests.
func (f *fields) integer(key string) int64 {
	v, ok := f.m[key]
	if !ok || v == nil {
		return 0
	}
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			f.fail(key, "an integer", v)
		}
		return i
	case int64:
		return n
	case int:
		return int64(n)
	}
	f.fail(key, "an integer", v)
	return 0
}

func (f *fields) unsigned(key string) uint64 {
	v, ok := f.m[key]
	if !ok || v == nil {
		return 0
	}
	if n, ok := v.(json.Number); ok {
		u, err := strconv.ParseUint(n.String(), 10, 64)
		if err != nil {
			f.fail(key, "an unsigned integer", v)
		}
		return u
	}
	i := f.integer(key)
	if i < 0 {
		f.fail(key, "an unsigned integer", v)
	}
	return uint64(i)
}

func (f *fields) optInt64(key string) *int64 {
	if !f.has(key) {
		return nil
	}
	n := f.integer(key)
	return &n
}

func (f *fields) optInt(key string) *int {
	if !f.has(key) {
		return nil
	}
	n := int(f.integer(key))
	return &n
}

// strs reads a list of strings; absent or null gives nil.
func (f *fields) strs(key string) []string {
	return f.strList(key, f.m[key])
}

func (f *fields) strList(key string, v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case []string:
		return append([]string{}, x...)
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				f.fail(key, "a list of strings", v)
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	f.fail(key, "a list of strings", v)
	return nil
}

// refs reads a list of "db.schema.table" references.
func (f *fields) refs(key string) []lang.TableRef {
	ss := f.strs(key)
	if ss == nil {
		return nil
	}
	out := make([]lang.TableRef, 0, len(ss))
	for _, s := range ss {
		r, err := lang.ParseTableRef(s)
		if err != nil {
			if f.err == nil {
				f.err = fmt.Errorf("attribute %q of a %s: %w", key, f.kind, err)
			}
			return nil
		}
		out = append(out, r)
	}
	return out
}

// object reads a JSON object; absent or null gives nil.
func (f *fields) object(key string) map[string]any {
	return f.objectOf(key, f.m[key])
}

func (f *fields) objectOf(key string, v any) map[string]any {
	switch x := v.(type) {
	case nil:
		return nil
	case map[string]any:
		return x
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e
		}
		return out
	}
	f.fail(key, "an object", v)
	return nil
}

// window reads a {column, last} object.
func (f *fields) window(key string, v any) *TimeWindow {
	m := f.objectOf(key, v)
	if m == nil {
		return nil
	}
	sub := &fields{kind: f.kind, m: m}
	w := &TimeWindow{Column: sub.str("column"), Last: sub.str("last")}
	if sub.err != nil && f.err == nil {
		f.err = fmt.Errorf("attribute %q: %w", key, sub.err)
	}
	return w
}

// tableName reads a wire table name, recording a parse error.
func (f *fields) tableName(key, s string) TableName {
	t, err := parseTableName(s)
	if err != nil && f.err == nil {
		f.err = fmt.Errorf("attribute %q of a %s: %w", key, f.kind, err)
	}
	return t
}
