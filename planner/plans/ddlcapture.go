package plans

import "github.com/database-replicator/database-replicator/planner/addrs"

// DDLLogSchema and DDLLogTable name the log table of captured DDL, in the
// tool's schema of each source and target database.
const (
	DDLLogSchema = "database_replicator"
	DDLLogTable  = "ddl_log"
)

// DDLCaptureAttrs describe the capture of DDL statements of one source
// database (policy.capture_ddl). On the source an event trigger records
// every DDL statement into Table, which the publication carries with the
// data; on the target a trigger on the copy of Table runs each statement
// as its row arrives, so every DDL is applied at its point in the stream.
type DDLCaptureAttrs struct {
	// Server is the source endpoint and Target the target endpoint.
	Server, Target string
	// Table is the qualified log table on both sides.
	Table string
	// EventTriggers are the source's event triggers (ddl_command_end,
	// sql_drop).
	EventTriggers []string
	// Replay says how the target runs the captured statements.
	Replay string
}

// Kind implements Attrs.
func (*DDLCaptureAttrs) Kind() addrs.Kind { return addrs.DDLCapture }

func (a *DDLCaptureAttrs) encode() map[string]any {
	return map[string]any{"server": a.Server, "target": a.Target, "table": a.Table,
		"event_triggers": list(a.EventTriggers), "replay": a.Replay}
}

func decodeDDLCapture(f *fields) *DDLCaptureAttrs {
	return &DDLCaptureAttrs{Server: f.str("server"), Target: f.str("target"), Table: f.str("table"),
		EventTriggers: f.strs("event_triggers"), Replay: f.str("replay")}
}
