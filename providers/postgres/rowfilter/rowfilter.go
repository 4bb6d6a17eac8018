package rowfilter

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Request names a configured row filter on one table.
type Request struct {
	Database, Schema, Table string
	// Filter is the SQL boolean expression as configured.
	Filter string
	// Stored is the filter the publication that the plan compares with
	// stores for the table ("" when it has none or does not carry the
	// table).
	Stored string
}

// Result is what the source server says about one row filter.
type Result struct {
	// Deparsed is Stored when the server reads the configured filter and
	// the stored one as the same expression (their query plans are equal),
	// else "": compare the configured filter with the stored one as text.
	Deparsed string
	// Invalid is the complaint when the filter is not one valid boolean
	// expression over the table, or "".
	Invalid string
	// NotPublishable says why a publication would refuse the valid filter
	// (PostgreSQL 15+ allows only columns, constants, built-in operators
	// and immutable built-in functions, no subqueries, no system
	// columns), or "". The check is read-only and conservative: what it
	// cannot decide (an overloaded function, a user-defined operator or
	// type, a user-defined SQL function the planner inlines) the server
	// refuses when apply creates the publication.
	NotPublishable string
	// OutsideReplicaIdentity names the columns the filter uses outside
	// the table's replica identity: once published, UPDATE and DELETE on
	// the table fail on the source (PostgreSQL 15+); or "".
	OutsideReplicaIdentity string
}

// Settings of the read-only transaction the checks run in.
const (
	statementTimeout = "30s"
	lockTimeout      = "10s"
)

// Check asks the source about each filter without changing anything: it
// refuses a filter that is not one expression (lang.CheckRowFilterSyntax)
// before sending it, then, in a READ ONLY transaction with a statement
// timeout, plans a query with the filter through the extended protocol
// (one statement only) and reads the plan and the catalogs. No CREATE, no
// DML: nothing is left behind, even when the process is killed midway.
func Check(ctx context.Context, info conninfo.Info, reqs []Request) (map[Request]Result, error) {
	byDB := map[string][]Request{}
	for _, r := range reqs {
		byDB[r.Database] = append(byDB[r.Database], r)
	}
	dbs := make([]string, 0, len(byDB))
	for db := range byDB {
		dbs = append(dbs, db)
	}
	sort.Strings(dbs)
	out := map[Request]Result{}
	for _, db := range dbs {
		if err := checkFiltersIn(ctx, info.WithDatabase(db), byDB[db], out); err != nil {
			return out, fmt.Errorf("check row filters in %s: %w", db, err)
		}
	}
	return out, nil
}

func checkFiltersIn(ctx context.Context, info conninfo.Info, reqs []Request, out map[Request]Result) error {
	conn, err := conninfo.Connect(ctx, info)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin a read-only transaction: %w", err)
	}
	defer tx.Rollback(context.Background())
	version, err := conninfo.ServerVersionNum(ctx, tx.Conn())
	if err != nil {
		return err
	}
	settings := []string{
		"statement_timeout = '" + statementTimeout + "'",
		"lock_timeout = '" + lockTimeout + "'",
		// Plans made only of sequential scans: the filter shows as one
		// Filter line, the same for equal expressions.
		"enable_indexscan = off", "enable_bitmapscan = off", "enable_indexonlyscan = off",
		"enable_tidscan = off", "max_parallel_workers_per_gather = 0",
	}
	if version >= 140000 {
		// A killed plan ends its backend at once, even mid-statement.
		settings = append(settings, "client_connection_check_interval = '1s'")
	}
	for _, s := range settings {
		if _, err := tx.Exec(ctx, "SET LOCAL "+s); err != nil {
			return fmt.Errorf("set %s: %w", s, err)
		}
	}
	c := &checker{tx: tx, conn: tx.Conn(), version: version}
	for _, r := range reqs {
		res, err := c.check(ctx, r)
		if err != nil {
			return err
		}
		out[r] = res
	}
	return nil
}

// checker runs the checks of one database inside its read-only transaction.
type checker struct {
	tx      pgx.Tx
	conn    *pgx.Conn
	version int
}

// check answers one request inside a savepoint, so that a refused filter
// does not end the transaction.
func (c *checker) check(ctx context.Context, r Request) (Result, error) {
	var res Result
	if err := lang.CheckRowFilterSyntax(r.Filter); err != nil {
		res.Invalid = err.Error()
		return res, nil
	}
	if _, err := c.tx.Exec(ctx, "SAVEPOINT filter_check"); err != nil {
		return res, fmt.Errorf("savepoint: %w", err)
	}
	table := pgx.Identifier{r.Schema, r.Table}.Sanitize()
	plan, err := c.explain(ctx, table, r.Filter)
	if err == nil {
		// Also before 15: the stream engine filters in its applier there,
		// and allows (and needs) what a publication would.
		err = c.publishable(ctx, table, plan, &res)
	}
	if err == nil && c.version >= 150000 {
		if r.Stored != "" && lang.CheckRowFilterSyntax(r.Stored) == nil {
			var stored []string
			if stored, err = c.explain(ctx, table, r.Stored); err == nil && strings.Join(stored, "\n") == strings.Join(plan, "\n") {
				res.Deparsed = r.Stored
			}
		}
	}
	if _, rerr := c.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT filter_check"); rerr != nil {
		return res, fmt.Errorf("rollback to savepoint: %w", errors.Join(err, rerr))
	}
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
	case ctx.Err() != nil || !errors.As(err, &pgErr):
		return res, err
	case pgErr.Code == "42501":
		// No privilege to plan a query on the table: the server cannot
		// tell; the filter is compared as text.
		return Result{}, nil
	case strings.HasPrefix(pgErr.Code, "57") || strings.HasPrefix(pgErr.Code, "55") ||
		strings.HasPrefix(pgErr.Code, "53") || strings.HasPrefix(pgErr.Code, "40") || strings.HasPrefix(pgErr.Code, "08"):
		// Timeout, lock timeout, resources, conflict, connection: not a
		// verdict on the filter.
		return res, fmt.Errorf("check the row filter of %s: %w", table, err)
	default:
		res.Invalid = conninfo.ServerMessage(err)
	}
	return res, nil
}

// explain returns the plan of a query over table with filter as its
// WHERE clause: EXPLAIN (VERBOSE, COSTS OFF), without ANALYZE (nothing is
// executed), as one statement through the extended protocol.
func (c *checker) explain(ctx context.Context, table, filter string) ([]string, error) {
	rows, err := conninfo.ExecOne(ctx, c.conn, "EXPLAIN (VERBOSE, COSTS OFF) SELECT 1 FROM "+table+" WHERE (\n"+filter+"\n)")
	if err != nil {
		return nil, err
	}
	plan := make([]string, len(rows))
	for i, row := range rows {
		if len(row) > 0 {
			plan[i] = row[0]
		}
	}
	return plan, nil
}
