package planner

import (
	"fmt"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
)

// ddlLogName is the log table of captured DDL as a published table.
var ddlLogName = plans.TableName{Schema: plans.DDLLogSchema, Table: plans.DDLLogTable}

// ddlCapture plans the capture of DDL statements of one database
// (policy.capture_ddl), or nil when it is off. Under logical replication
// the publication carries its log table, so it comes before the
// publication; under xmin each cycle replays the log first.
func (b *builder) ddlCapture(ds *DatabaseScope, schema *plans.Change) *plans.Change {
	if !b.r.Policy.CaptureDDL {
		return nil
	}
	a := b.addr(addrs.DDLCapture, ds.Name)
	if b.method != lang.SyncLogical && b.method != lang.SyncXmin && b.method != lang.SyncStream {
		b.diags.AddError(CodeDDLCaptureUnsupported, a.String(), "DDL capture is not available for this sync method",
			"policy.capture_ddl = true needs sync method \"logical\", \"stream\" or \"xmin\"; this replication syncs with %q. Remove capture_ddl (schema drift is still repaired per policy.on_schema_drift), or choose another sync method.", b.method)
		return nil
	}
	if !b.src.Privileges.Superuser {
		b.diags.AddError(CodeDDLCaptureNeedsSuperuser, a.String(), "DDL capture needs a superuser on the source",
			"policy.capture_ddl = true installs event triggers in %q on %s, and PostgreSQL lets only superusers create event triggers; user %s is not one. Connect as a superuser, or remove capture_ddl (schema drift is still repaired per policy.on_schema_drift).",
			ds.Name, b.srcName, b.src.CurrentUser)
		return nil
	}
	after := &plans.DDLCaptureAttrs{Server: b.srcName, Target: b.dstName, Table: lang.QuoteIdent(plans.DDLLogSchema) + "." + lang.QuoteIdent(plans.DDLLogTable),
		EventTriggers: []string{"database_replicator_ddl_end (ddl_command_end)", "database_replicator_ddl_drop (sql_drop)"},
		Replay:        "an ENABLE ALWAYS trigger on the target's log table runs each statement as its row arrives; a failure is recorded in the row, never stops the apply worker"}
	c := &plans.Change{Addr: a, Action: plans.NoOp, After: after, DependsOn: []addrs.Addr{schema.Addr}}
	if prior := b.priorAttrs(a); prior == nil {
		c.Action, c.Reason = plans.Create, fmt.Sprintf("record every DDL statement of %q on %s and replay it on %s in stream order", ds.Name, b.srcName, b.dstName)
	} else {
		c.Before = prior
	}
	return b.add(c)
}
