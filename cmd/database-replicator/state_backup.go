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
// (whose fix already names import and destroy) the way back when the state
// file was lost, the backup of the previous state kept next to a local
// state file, and how to remove a leftover by hand.
func pointToStateBackup(backend state.Backend, diags diag.Diagnostics) {
	for i, d := range diags {
		drop, ok := notManaged[d.Code]
		if !ok {
			continue
		}
		var fix string
		if l, ok := backend.(*state.Local); ok {
			if _, err := os.Stat(l.BackupPath()); err == nil {
				fix = fmt.Sprintf("If the state file was deleted or damaged, the previous state is in %s: copy it to %s and run the command again (destroy then removes what the state records). ", l.BackupPath(), l.Path())
			}
		}
		fix += "If it is a leftover, you can also remove it by hand (" + drop + ")."
		if diags[i].Fix != "" {
			diags[i].Fix += " "
		}
		diags[i].Fix += fix
	}
}
