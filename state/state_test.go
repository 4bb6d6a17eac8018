package state

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestStateResources(t *testing.T) {
	s := New()
	if s.Version != FormatVersion || s.Lineage != "" || s.Serial != 0 || !s.Empty() {
		t.Fatalf("New() = %+v", s)
	}
	for _, a := range []string{`replication.main.table["myapp.public.users"]`, `replication.main.database["myapp"]`, `replication.main.slot["myapp"]`} {
		s.SetResource(&Resource{Address: a, Kind: "x"})
	}
	want := []string{`replication.main.database["myapp"]`, `replication.main.slot["myapp"]`, `replication.main.table["myapp.public.users"]`}
	if got := s.Addresses(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Addresses() = %q, want %q", got, want)
	}
	r := s.Resource(`replication.main.slot["myapp"]`)
	if r == nil || r.UpdatedAt.IsZero() {
		t.Fatalf("Resource() = %+v, want a resource with UpdatedAt set", r)
	}
	if !s.RemoveResource(`replication.main.slot["myapp"]`) || s.RemoveResource(`replication.main.slot["myapp"]`) {
		t.Fatal("RemoveResource: want true then false")
	}
	if s.Resource(`replication.main.slot["myapp"]`) != nil || len(s.Addresses()) != 2 {
		t.Fatal("resource still present after RemoveResource")
	}
}

func TestDeepCopyIsIndependent(t *testing.T) {
	s := New()
	s.Lineage, s.Serial = "l", 7
	s.SetResource(&Resource{Address: "a", Kind: "table", Status: StatusDone, UpdatedAt: time.Unix(1, 0),
		Attributes: map[string]any{"columns": []any{"id", "name"}, "nested": map[string]any{"k": "v"}, "tags": []string{"x"}}})
	c := s.DeepCopy()
	if !reflect.DeepEqual(s, c) {
		t.Fatalf("copy differs:\n%#v\n%#v", s, c)
	}
	c.Resources["a"].Attributes["columns"].([]any)[0] = "changed"
	c.Resources["a"].Attributes["nested"].(map[string]any)["k"] = "changed"
	c.Resources["a"].Attributes["tags"].([]string)[0] = "changed"
	c.Resources["a"].Status = "changed"
	c.SetResource(&Resource{Address: "b"})
	r := s.Resources["a"]
	if r.Attributes["columns"].([]any)[0] != "id" || r.Attributes["nested"].(map[string]any)["k"] != "v" ||
		r.Attributes["tags"].([]string)[0] != "x" || r.Status != StatusDone || s.Resource("b") != nil {
		t.Fatalf("changing the copy changed the original: %+v", r)
	}
}

func TestAttributeAccessors(t *testing.T) {
	s, err := Decode([]byte(`{"version":1,"lineage":"l","serial":1,"resources":[{"address":"a","kind":"slot","updated_at":"2026-01-01T00:00:00Z",
		"attributes":{"lsn":18446744073709551615,"xmin":9007199254740993,"name":"s","neg":-3,"frac":1.5}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := s.Resource("a")
	if v, ok := r.Uint("lsn"); !ok || v != 18446744073709551615 {
		t.Fatalf("Uint(lsn) = %d, %v", v, ok)
	}
	if v, ok := r.Int("xmin"); !ok || v != 9007199254740993 {
		t.Fatalf("Int(xmin) = %d, %v (precision lost?)", v, ok)
	}
	if _, ok := r.Uint("neg"); ok {
		t.Fatal("Uint(neg) ok")
	}
	if _, ok := r.Int("frac"); ok {
		t.Fatal("Int(frac) ok")
	}
	if r.String("name") != "s" || r.String("lsn") != "" {
		t.Fatal("String accessor")
	}
	live := &Resource{Attributes: map[string]any{"n": json.Number("42"), "u": json.Number("9223372036854775808"), "go": 42}}
	if v, ok := live.Int("n"); !ok || v != 42 {
		t.Fatal("Int on a json.Number")
	}
	if v, ok := live.Uint("u"); !ok || v != 1<<63 {
		t.Fatal("Uint on a json.Number")
	}
	if _, ok := live.Int("go"); ok {
		t.Fatal("Int accepted a Go int: attributes hold json.Number only")
	}
}

func TestNewLineage(t *testing.T) {
	a, err := NewLineage()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewLineage()
	if a == b || len(a) != 36 || a[14] != '4' {
		t.Fatalf("lineages %q, %q", a, b)
	}
}
