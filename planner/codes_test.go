package planner

import (
	"testing"

	"github.com/database-replicator/database-replicator/lang/diag/diagtest"
)

// TestCodesDocumented checks that every code of codes.go is unique, starts with plan. and
// has a row in docs/diagnostics.md.
func TestCodesDocumented(t *testing.T) {
	if n := diagtest.CodesDocumented(t, "codes.go", "../docs/diagnostics.md", "plan."); n < 25 {
		t.Errorf("found only %d codes in codes.go", n)
	}
}
