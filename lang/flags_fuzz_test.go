package lang

import (
	"reflect"
	"strings"
	"testing"
)

// fuzzFilterSeeds are the documented examples and the tricky shapes.
var fuzzFilterSeeds = []string{
	"events:created_at > now() - interval '90 days'",
	"myapp.events:created_at > now() - interval '90 days'",
	"myapp.events:ts > '10:00'::time",
	"myapp.sales.orders:status = 'open'",
	`"my.db"."we""ird".t:true`,
	`myapp."odd:name".t:a::text = 'x:y'`,
	"metrics:timestamp:6 months",
	"analytics.metrics:ts:90d",
	`a.t:"Created:At":2w`,
	"日本.表:列:7 days",
	"",
	":",
	`"`,
	"a..b:x",
}

// checkFlagRef asserts that a parsed reference survives
// TableRef.String and SplitQualifiedName.
func checkFlagRef(t *testing.T, in string, tc *TableConfig) {
	t.Helper()
	ref := tc.Ref
	want := []string{ref.Schema, ref.Table}
	if ref.Database != "" {
		want = append([]string{ref.Database}, want...)
	}
	parts, err := SplitQualifiedName(ref.String())
	if err != nil {
		t.Fatalf("%q: %v does not split back: %v", in, ref, err)
	}
	if !reflect.DeepEqual(parts, want) {
		t.Fatalf("%q: %q split back into %q, want %q", in, ref.String(), parts, want)
	}
	if ref.Database != "" {
		back, err := ParseTableRef(ref.String())
		if err != nil || back != ref {
			t.Fatalf("%q: ParseTableRef(%q) = %v, %v", in, ref.String(), back, err)
		}
	}
}

func FuzzTableFilterFlag(f *testing.F) {
	for _, s := range fuzzFilterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tc, err := ParseTableFilterFlag(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--table-filter ") {
				t.Fatalf("%q: error does not name the flag: %v", s, err)
			}
			return
		}
		if strings.TrimSpace(tc.Where) == "" || tc.Where != strings.TrimSpace(tc.Where) || tc.TimeWindow != nil {
			t.Fatalf("%q: bad predicate %q", s, tc.Where)
		}
		checkFlagRef(t, s, tc)
	})
}

func FuzzTimeFilterFlag(f *testing.F) {
	for _, s := range fuzzFilterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tc, err := ParseTimeFilterFlag(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--time-filter ") {
				t.Fatalf("%q: error does not name the flag: %v", s, err)
			}
			return
		}
		tw := tc.TimeWindow
		if tw == nil || tw.Column == "" || tc.Where != "" {
			t.Fatalf("%q: bad time window %+v", s, tc)
		}
		if w, err := ParseWindow(tw.Last.String()); err != nil || w != tw.Last {
			t.Fatalf("%q: window %v does not round-trip: %v %v", s, tw.Last, w, err)
		}
		// The quoted column splits back to itself.
		if parts, err := SplitQualifiedName(quotePart(tw.Column)); err != nil || len(parts) != 1 || parts[0] != tw.Column {
			t.Fatalf("%q: column %q does not round-trip: %q %v", s, tw.Column, parts, err)
		}
		checkFlagRef(t, s, tc)
	})
}
