package planning

import (
	"testing"

	"github.com/database-replicator/database-replicator/planner/plans"
)

func TestDiagnosticsErrKeepsEveryErrorAndNoWarning(t *testing.T) {
	var ds plans.Diagnostics
	ds.Warnf("replication.main", "Slot not managed", "a warning's text")
	if err := DiagnosticsErr(ds); err != nil {
		t.Fatalf("warnings only: %v", err)
	}
	ds.Errorf("replication.main", "Database missing", "database app does not exist on source.prod")
	ds.Errorf("replication.main", "Table missing", "")
	got := DiagnosticsErr(ds)
	if got == nil || got.Error() != "database app does not exist on source.prod\nTable missing" {
		t.Fatalf("err = %q, want both errors, one a line, and no warning", got)
	}
}
