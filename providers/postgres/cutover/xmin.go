package cutover

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/planner/plans"

	"github.com/database-replicator/database-replicator/providers/postgres/xminsync"
)

// MethodXmin is Database.Method for a database the xmin engine syncs.
const MethodXmin = "xmin"

// TableName is one table of an xmin database.
type TableName struct {
	// Key names the table in the xmin cursor table ("schema.table").
	Key          string
	Schema, Name string
}

// sql is the table's quoted, qualified name.
func (t TableName) sql() string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// preflightXmin checks one xmin database: every table has a cursor on the
// target whose last cycle completed no longer ago than StaleAfter, and the
// source has no prepared transaction.
func (r *run) preflightXmin(ctx context.Context, db *Database) (string, error) {
	if r.in.Options.Reverse {
		return "", fmt.Errorf("cutover --reverse is not supported for the xmin method yet: cut over without --reverse")
	}
	if len(db.Tables) == 0 {
		return "", fmt.Errorf("no table is synced by the xmin engine (is continuous sync paused? resume it first)")
	}
	dst, err := connectTarget(ctx, db)
	if err != nil {
		return "", err
	}
	defer dst.Close(context.Background())
	keys := make([]string, len(db.Tables))
	for i, t := range db.Tables {
		keys[i] = t.Key
	}
	cursorTable := pgx.Identifier{xminsync.CursorSchema, "xmin_cursor"}.Sanitize()
	var exists bool
	if err := dst.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", cursorTable).Scan(&exists); err != nil {
		return "", fmt.Errorf("look for %s on the target: %w", cursorTable, err)
	}
	if !exists {
		return "", fmt.Errorf("no xmin cycle has run yet (%s is missing on the target): run sync first", cursorTable)
	}
	rows, err := dst.Query(ctx, `SELECT k, extract(epoch FROM clock_timestamp() - c.last_cycle_at)::float8
		FROM unnest($2::text[]) k LEFT JOIN `+cursorTable+` c ON c.replication = $1 AND c.table_name = k ORDER BY 1`, db.Replication, keys)
	if err != nil {
		return "", fmt.Errorf("read the xmin cursors: %w", err)
	}
	var missing []string
	oldest := 0.0
	for rows.Next() {
		var k string
		var age *float64
		if err := rows.Scan(&k, &age); err != nil {
			rows.Close()
			return "", fmt.Errorf("read the xmin cursors: %w", err)
		}
		if age == nil {
			missing = append(missing, k)
		} else if *age > oldest {
			oldest = *age
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("read the xmin cursors: %w", err)
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("%d table(s) have not completed an xmin cycle yet: %s; run sync (or sync --once) first", len(missing), strings.Join(missing, ", "))
	}
	if db.StaleAfter > 0 && oldest > db.StaleAfter.Seconds() {
		return "", fmt.Errorf("the last xmin cycle completed %.0fs ago (more than %s): run sync --once (or let continuous sync run) right before the cutover, so that its final cycle is short",
			oldest, db.StaleAfter)
	}
	src, err := connectSource(ctx, db)
	if err != nil {
		return "", err
	}
	defer src.Close(context.Background())
	if err := r.sourceTransactions(ctx, src, db); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: xmin cursors of %d table(s), the oldest cycle completed %.1fs ago, no prepared transaction",
		db.Address(), len(db.Tables), oldest), nil
}

// xminWrites counts the rows written (inserted, updated, deleted) to the
// xmin tables (and their partitions) since statistics began.
func xminWrites(ctx context.Context, src *pgConn, tables []TableName) (int64, error) {
	schemas, names := make([]string, len(tables)), make([]string, len(tables))
	for i, t := range tables {
		schemas[i], names[i] = t.Schema, t.Name
	}
	var n int64
	// A partitioned table's rows are written to its partitions.
	err := src.QueryRow(ctx, `SELECT COALESCE(sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del), 0)::int8
		FROM unnest($1::text[], $2::text[]) t(sch, rel),
		  LATERAL pg_catalog.pg_partition_tree(pg_catalog.format('%I.%I', t.sch, t.rel)::regclass) p
		  JOIN pg_catalog.pg_stat_user_tables s ON s.relid = p.relid`, schemas, names).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("read the write statistics of the synced tables: %w", err)
	}
	return n, nil
}

// sourceWrites counts the rows written to db's replicated tables.
func sourceWrites(ctx context.Context, src *pgConn, db *Database) (int64, error) {
	if db.Xmin() {
		return xminWrites(ctx, src, db.Tables)
	}
	return publishedWrites(ctx, src, db.Publication)
}

// drainXmin runs db's final xmin cycle (after the fence).
func (r *run) drainXmin(ctx context.Context, db *Database) (string, error) {
	if r.in.XminDrain == nil {
		return "", fmt.Errorf("no xmin cycle available")
	}
	start := time.Now()
	detail, err := r.in.XminDrain(ctx, db)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s: final xmin cycle with reconciliation after the fence (%s, %.1fs)", db.Address(), detail, time.Since(start).Seconds()), nil
}

// detachXmin ends the xmin sync of one database: there is nothing to drop
// on the source; the cutover is recorded and the state forgets the
// tables' xmin records (the target's cursor rows stay, unused).
func (r *run) detachXmin(ctx context.Context, db *Database, p *PhaseResult) error {
	if err := r.record(ctx, db, plans.CutoverDone); err != nil {
		return err
	}
	if r.in.Forget != nil {
		if err := r.in.Forget(ctx, db, false); err != nil {
			return err
		}
	}
	p.Details = append(p.Details, fmt.Sprintf("%s: xmin sync of %d table(s) ended (nothing to drop on the source); the target is the primary", db.Address(), len(db.Tables)))
	return nil
}
