package views

import "testing"

// TestUnifiedDiff pins the fmt --diff rendering: headers, unchanged lines
// with a space, removed with "-", added with "+".
func TestUnifiedDiff(t *testing.T) {
	got := UnifiedDiff("a.hcl", "x = 1\ny=2\nz = 3\n", "x = 1\ny = 2\nz = 3\n")
	want := "--- a.hcl\n+++ a.hcl (formatted)\n x = 1\n-y=2\n+y = 2\n z = 3\n"
	if got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
	if got := UnifiedDiff("b.hcl", "same\n", "same\n"); got != "--- b.hcl\n+++ b.hcl (formatted)\n same\n" {
		t.Fatalf("identical input:\n%s", got)
	}
}
