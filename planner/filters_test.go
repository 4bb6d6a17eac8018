package planner

import "testing"

func TestFiltersEqual(t *testing.T) {
	equal := [][2]string{
		{"id <= 10", "(id <= 10)"},
		{"id<=10", "((id <= 10))"},
		{"created_at > now() - interval '90 days'", "(created_at > (now() - '90 days'::interval))"},
		{"Status = 'Active'", "(status = 'Active')"},
		{"a = 1 AND b = 2", "((a = 1) and (b = 2))"},
	}
	for _, p := range equal[:2] {
		if !FiltersEqual(p[0], p[1], "") {
			t.Errorf("FiltersEqual(%q, %q) = false, want true", p[0], p[1])
		}
	}
	// The server's deparsed form stands in for the configured text.
	if !FiltersEqual("created_at > now() - interval '90 days'", equal[2][1], equal[2][1]) {
		t.Errorf("deparsed form not used")
	}
	if !FiltersEqual(equal[3][0], equal[3][1], "") {
		t.Errorf("case of names should not matter outside quotes")
	}
	different := [][2]string{
		{"id <= 10", "id <= 100"},
		{"status = 'active'", "status = 'Active'"},
		{`"Name" = 'x'`, `"name" = 'x'`},
		{"(a) or (b)", "a or b and c"},
		{"a = 'x y'", "a = 'xy'"},
	}
	for _, p := range different {
		if FiltersEqual(p[0], p[1], "") {
			t.Errorf("FiltersEqual(%q, %q) = true, want false", p[0], p[1])
		}
	}
	// "(a) or (b)" must not lose its parentheses: they are not one group.
	if got := NormalizeFilter("(a) or (b)"); got != "(a)or(b)" {
		t.Errorf("NormalizeFilter = %q", got)
	}
}
