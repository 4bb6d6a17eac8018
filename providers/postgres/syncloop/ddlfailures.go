package syncloop

import (
	"context"
	"fmt"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
)

// ddlFailuresQuery lists the captured DDL statements (policy.capture_ddl)
// that failed on the target after sequence number $1.
var ddlFailuresQuery = `SELECT seq, coalesce(command_tag, ''), coalesce(object_identity, ''), coalesce(error, '')
FROM ` + pgx.Identifier{plans.DDLLogSchema, plans.DDLLogTable}.Sanitize() + `
WHERE outcome = 'failed' AND seq > $1 ORDER BY seq`

// logDDLFailures logs the captured DDL statements that failed on the
// target since the highest sequence number in *seen, and moves *seen past
// them: once each per sync process (a new process logs them again). A failure is not an error of the sync: it usually
// means drift repair made the change first, and whatever difference is
// left is repaired per policy.on_schema_drift by the schema comparison.
func logDDLFailures(ctx context.Context, dst conninfo.Info, seen *int64, log hclog.Logger) error {
	conn, err := conninfo.Connect(ctx, dst)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, ddlFailuresQuery, *seen)
	if err != nil {
		return fmt.Errorf("read the DDL log: %w", err)
	}
	var seq int64
	var tag, object, msg string
	_, err = pgx.ForEachRow(rows, []any{&seq, &tag, &object, &msg}, func() error {
		log.Warn("captured DDL failed on the target; schema drift repair handles what is left", "seq", seq, "command", tag, "object", object, "error", msg)
		*seen = seq
		return nil
	})
	if err != nil {
		return fmt.Errorf("read the DDL log: %w", err)
	}
	return nil
}
