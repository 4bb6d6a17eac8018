// Package schemacompare compares the schema of a source and a target
// database: it reads both sides' catalogs into comparable records (Read:
// every object with its normalised definition, owner, grants and comment)
// and diffs them (Diff), limited to the objects of the tables in scope.
package schemacompare

import (
	"fmt"
	"sort"
)

// Problems of a Difference.
const (
	Missing   = "missing on the target"
	Extra     = "extra on the target"
	Different = "different"
)

// Difference is one object that differs between source and target.
type Difference struct {
	// Kind and Object name the object (Object.Kind, Object.Name).
	Kind   string `json:"kind"`
	Object string `json:"object"`
	// Problem is Missing, Extra or Different.
	Problem string `json:"problem"`
	// Attributes are the properties that differ (Different only).
	Attributes []AttributeDifference `json:"attributes,omitempty"`
}

// AttributeDifference is one property of an object with both sides'
// values.
type AttributeDifference struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Target string `json:"target"`
}

// Sequence value rules for Diff.
const (
	// ValuesIgnored compares no sequence value.
	ValuesIgnored = ""
	// ValuesEqual wants the target's value equal to the source's (a copy
	// without sync: nothing moves them afterwards but the application).
	ValuesEqual = "equal"
	// ValuesNotBehind wants the target's value at or past the source's in
	// the direction of the sequence's increment (where sync runs, the
	// target's sequences are set from the source every cycle, and the
	// source's may have moved since).
	ValuesNotBehind = "not behind"
)

// Scope chooses what Diff compares.
type Scope struct {
	// Tables decides whether a table (a partition root, by schema and
	// name, literally) is in scope; nil means every table. Objects that
	// belong to a table out of scope, and views and foreign keys that use
	// one, are not compared: the schema copy leaves them out.
	Tables func(schema, name string) bool
	// TablesOnly compares only objects that belong to a table in scope
	// (verify --table).
	TablesOnly bool
	// SequenceValues is ValuesIgnored, ValuesEqual or ValuesNotBehind.
	SequenceValues string
}

func (s Scope) has(r relName) bool {
	return s.Tables == nil || r.Name == "" || s.Tables(r.Schema, r.Name)
}

// compared reports whether o takes part in the comparison (nil does).
func (s Scope) compared(o *Object) bool {
	if o == nil {
		return true
	}
	if s.TablesOnly && o.rel.Name == "" {
		return false
	}
	if !s.has(o.rel) {
		return false
	}
	for _, d := range o.deps {
		if !s.has(d) {
			return false
		}
	}
	return true
}

// Diff compares src with dst within scope and returns the differences,
// sorted by kind and name, and how many objects were compared. An object
// whose relation is missing (or extra) is reported with its relation
// only, not once per column, index or constraint.
func Diff(src, dst *Schema, scope Scope) ([]Difference, int) {
	keys := map[string]bool{}
	for k, o := range src.Objects {
		if scope.compared(o) && scope.compared(src.parentOf(o)) {
			keys[k] = true
		}
	}
	for k, o := range dst.Objects {
		if _, onSource := src.Objects[k]; !onSource && scope.compared(o) && scope.compared(dst.parentOf(o)) {
			keys[k] = true
		}
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)

	// Relations on one side only: their parts are not listed again.
	gone := map[string]bool{}
	for _, k := range sorted {
		s, d := src.Objects[k], dst.Objects[k]
		if (s == nil) != (d == nil) {
			if o := firstOf(s, d); o.Kind == "table" || o.Kind == "view" || o.Kind == "materialized view" {
				gone[o.Name] = true
			}
		}
	}
	var out []Difference
	for _, k := range sorted {
		s, d := src.Objects[k], dst.Objects[k]
		o := firstOf(s, d)
		if o.Parent != "" && gone[o.Parent] {
			continue
		}
		switch {
		case d == nil:
			out = append(out, Difference{Kind: o.Kind, Object: o.Name, Problem: Missing})
		case s == nil:
			out = append(out, Difference{Kind: o.Kind, Object: o.Name, Problem: Extra})
		default:
			if attrs := diffAttributes(s, d, scope); len(attrs) > 0 {
				out = append(out, Difference{Kind: o.Kind, Object: o.Name, Problem: Different, Attributes: attrs})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return kindRank(out[i].Kind) < kindRank(out[j].Kind)
		}
		return out[i].Object < out[j].Object
	})
	return out, len(sorted)
}

// parentOf returns the relation (table, view, materialized view) o
// belongs to, or nil: a view's columns are compared as the view is.
func (s *Schema) parentOf(o *Object) *Object {
	if o.Parent == "" {
		return nil
	}
	for _, kind := range []string{"view", "materialized view"} {
		if p := s.Objects[key(kind, o.Parent)]; p != nil {
			return p
		}
	}
	return nil
}

func firstOf(a, b *Object) *Object {
	if a != nil {
		return a
	}
	return b
}

// diffAttributes lists the differing attributes of one object, in name
// order, then the sequence value when the rule finds it wrong.
func diffAttributes(s, d *Object, scope Scope) []AttributeDifference {
	names := map[string]bool{}
	for n := range s.Attributes {
		names[n] = true
	}
	for n := range d.Attributes {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var out []AttributeDifference
	for _, n := range sorted {
		if n == "owned by" && !scope.has(s.ownedBy) {
			// OWNED BY a table out of scope: the copy keeps the sequence
			// without it.
			continue
		}
		if n == "position" && (s.Attributes[n] == "" || d.Attributes[n] == "") {
			// Compared only between tables without a parent on both
			// sides (a dump recreates a child's columns in its parent's
			// order).
			continue
		}
		if s.Attributes[n] != d.Attributes[n] {
			out = append(out, AttributeDifference{Name: n, Source: s.Attributes[n], Target: d.Attributes[n]})
		}
	}
	if s.Kind == "sequence" && !sequenceValueOK(s, d, scope.SequenceValues) {
		out = append(out, AttributeDifference{Name: "last value", Source: valueText(s.value), Target: valueText(d.value)})
	}
	return out
}

// sequenceValueOK applies the sequence value rule.
func sequenceValueOK(s, d *Object, rule string) bool {
	switch rule {
	case ValuesEqual:
		return valueText(s.value) == valueText(d.value)
	case ValuesNotBehind:
		if s.value == nil {
			return true // never used on the source
		}
		if d.value == nil {
			return false
		}
		if s.increment < 0 {
			return *d.value <= *s.value
		}
		return *d.value >= *s.value
	}
	return true
}

func valueText(v *int64) string {
	if v == nil {
		return "(not used)"
	}
	return fmt.Sprint(*v)
}

// kindOrder is the order differences are listed in: containers first.
var kindOrder = []string{"database", "schema", "extension", "type", "sequence", "function", "procedure", "aggregate",
	"table", "column", "constraint", "index", "trigger", "rule", "policy", "view", "materialized view", "default privileges"}

func kindRank(kind string) int {
	for i, k := range kindOrder {
		if k == kind {
			return i
		}
	}
	return len(kindOrder)
}
