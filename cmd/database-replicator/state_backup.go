package main

import (
	"fmt"
	"os"

	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/state"
)

// notManaged are the plan errors about replication objects that exist on
// a server while the state does not record them.
var notManaged = map[diag.Code]string{
	planner.CodePublicationNotManaged:  "DROP PUBLICATION on the source",
	planner.CodeSlotNotManaged:         "SELECT pg_drop_replication_slot(...) on the source",
	planner.CodeSubscriptionNotManaged: "ALTER SUBSCRIPTION ... DISABLE, ... SET (slot_name = NONE), DROP SUBSCRIPTION on the target",
}

// pointToStateBackup adds to every "exists and is not managed here" error
// the way back when the state file was lost: the backup of the previous
// state kept next to a local state file, then destroy; or removing the
// objects by hand.
func pointToStateBackup(backend state.Backend, diags diag.Diagnostics) {
	for i, d := range diags {
		drop, ok := notManaged[d.Code]
		if !ok {
			continue
		}
		fix := "If the state was lost, restore it and run plan again (or destroy, which removes what the state records)"
		if l, ok := backend.(*state.Local); ok {
			if _, err := os.Stat(l.BackupPath()); err == nil {
				fix = fmt.Sprintf("If the state file was deleted or damaged, the previous state is in %s: copy it to %s and run plan again (or destroy, which removes what the state records)", l.BackupPath(), l.Path())
			}
		}
		fix += "; if the object is a leftover, remove it by hand (" + drop + ")."
		if diags[i].Fix != "" {
			diags[i].Fix += " "
		}
		diags[i].Fix += fix
	}
}
