package addrs

import (
	"sort"
	"strings"
	"testing"
)

func TestStringParseRoundTrip(t *testing.T) {
	for _, a := range []Addr{
		New("main", Database, "myapp"),
		New("main", Table, "myapp.public.users"),
		New("main", Table, `myapp."we.ird".Tab "le"`),
		New("fan-out", Subscription, "données"),
		{Replication: "main", Kind: Globals},
	} {
		s := a.String()
		back, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if back != a {
			t.Fatalf("Parse(%q) = %#v, want %#v", s, back, a)
		}
	}
	if got := New("main", Table, "myapp.public.users").String(); got != `replication.main.table["myapp.public.users"]` {
		t.Fatalf("String = %s", got)
	}
	if got := (Addr{Replication: "main", Kind: Globals}).String(); got != "replication.main.globals" {
		t.Fatalf("String = %s", got)
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		"main.table[\"x\"]":               "must start with",
		"replication.main":                "expected replication.NAME.KIND",
		"replication.main.widget[\"x\"]":  "unknown kind",
		"replication.main.table":          "needs a key",
		"replication.main.globals[\"x\"]": "takes no key",
		"replication.main.table[x]":       "double-quoted",
		"replication.main.table[\"x\"":    "must end with ]",
	} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v, want containing %q", in, err, want)
		}
	}
}

func TestLessFollowsCreationOrder(t *testing.T) {
	as := []Addr{
		New("main", Subscription, "a"), New("main", Table, "a.public.b"), New("main", Database, "a"),
		{Replication: "main", Kind: Globals}, New("main", Table, "a.public.a"), New("b", Subscription, "x"),
	}
	sort.Slice(as, func(i, j int) bool { return as[i].Less(as[j]) })
	var got []string
	for _, a := range as {
		got = append(got, a.String())
	}
	want := []string{
		`replication.b.subscription["x"]`, `replication.main.database["a"]`, `replication.main.globals`,
		`replication.main.table["a.public.a"]`, `replication.main.table["a.public.b"]`, `replication.main.subscription["a"]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("sorted:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMatch(t *testing.T) {
	a := New("main", Table, "myapp.public.users")
	for p, want := range map[string]bool{
		"replication.main":       true,
		"replication.main.table": true,
		a.String():               true,
		"replication.mai":        false,
		"replication.main.tab":   false,
		"replication.other":      false,
	} {
		if got := Match(p, a); got != want {
			t.Errorf("Match(%q) = %v, want %v", p, got, want)
		}
	}
}
