package syncloop

import (
	"context"
	"fmt"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
)

// ddlLogMaxQuery reads the highest sequence number of the DDL capture's log
// (policy.capture_ddl), 0 when the log is empty or missing.
var ddlLogMaxQuery = fmt.Sprintf(`SELECT CASE WHEN to_regclass('%s.%s') IS NULL THEN 0
	ELSE (SELECT coalesce(max(seq), 0) FROM %s.%s) END`,
	plans.DDLLogSchema, plans.DDLLogTable, plans.DDLLogSchema, plans.DDLLogTable)

// ddlLogMax reads the highest sequence number of one side's DDL log.
func ddlLogMax(ctx context.Context, info conninfo.Info) (int64, error) {
	conn, err := conninfo.Connect(ctx, info)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int64
	if err := conn.QueryRow(ctx, ddlLogMaxQuery).Scan(&n); err != nil {
		return 0, fmt.Errorf("read the DDL log: %w", err)
	}
	return n, nil
}

// ddlInFlight reports, for a job whose DDL is captured, whether captured
// statements are still on their way to the target (the source's log
// holds rows the target's lacks): a schema difference is then likely
// theirs, and repairing it first would make each of them fail when it
// arrives. replayed holds, per database, the target's log position at the
// previous postponement: a log that has not moved since is stuck (its
// stream stopped on something else), and the repair goes ahead. It
// returns the databases waited for.
func ddlInFlight(ctx context.Context, j *Job, replayed map[string]int64) ([]string, error) {
	var waiting []string
	for _, db := range j.Databases {
		src, err := ddlLogMax(ctx, j.Source.WithDatabase(db.Name))
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", db.Name, err)
		}
		dst, err := ddlLogMax(ctx, j.Target.WithDatabase(db.Name))
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", db.Name, err)
		}
		last, postponed := replayed[db.Name]
		switch {
		case src <= dst:
			delete(replayed, db.Name)
		case postponed && last == dst:
			// Not one captured statement arrived since: stuck.
			delete(replayed, db.Name)
		default:
			replayed[db.Name] = dst
			waiting = append(waiting, db.Name)
		}
	}
	return waiting, nil
}
