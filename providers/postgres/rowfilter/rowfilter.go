package rowfilter

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Request names a configured row filter on one table.
type Request struct {
	Database, Schema, Table string
	// Filter is the SQL boolean expression as configured.
	Filter string
}

// Result is what the source server says about one row filter.
type Result struct {
	// Deparsed is the filter as PostgreSQL stores it in a publication
	// (15+), or "" when the server cannot tell (older server, no privilege).
	Deparsed string
	// Invalid is the server's complaint when the filter is not a valid
	// boolean expression over the table, or "".
	Invalid string
	// NotPublishable is the server's complaint when the filter is valid
	// but a publication refuses it (PostgreSQL 15+ allows only immutable
	// functions and simple expressions in row filters), or "".
	NotPublishable string
	// OutsideReplicaIdentity is the server's complaint when the filter
	// uses columns outside the table's replica identity: once published,
	// UPDATE and DELETE on the table fail on the source (PostgreSQL 15+).
	OutsideReplicaIdentity string
}

// Check asks the source, inside transactions that are rolled
// back, whether each filter is valid SQL for its table (by planning a
// query with it) and, on PostgreSQL 15+, how a publication would store it.
// Nothing is left behind on the server.
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
	var version int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return fmt.Errorf("read server version: %w", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.Background())
	for i, r := range reqs {
		table := pgx.Identifier{r.Schema, r.Table}.Sanitize()
		var check Result
		if _, err := tx.Exec(ctx, "SAVEPOINT filter_check"); err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		if _, err := tx.Exec(ctx, "EXPLAIN SELECT 1 FROM "+table+" WHERE ("+r.Filter+")"); err != nil {
			check.Invalid = conninfo.ServerMessage(err)
			if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT filter_check"); err != nil {
				return fmt.Errorf("rollback to savepoint: %w", err)
			}
			out[r] = check
			continue
		}
		if version >= 150000 {
			pub := fmt.Sprintf("replicator_filter_check_%d", i)
			_, err := tx.Exec(ctx, "CREATE PUBLICATION "+pgx.Identifier{pub}.Sanitize()+" FOR TABLE "+table+" WHERE ("+r.Filter+")")
			if err == nil {
				err = tx.QueryRow(ctx, "SELECT coalesce(rowfilter, '') FROM pg_catalog.pg_publication_tables WHERE pubname = $1", pub).Scan(&check.Deparsed)
			}
			if err == nil {
				check.OutsideReplicaIdentity, err = updateRefused(ctx, tx, table)
			}
			if err != nil {
				var pgErr *pgconn.PgError
				if errors.As(err, &pgErr) && pgErr.Code != "42501" {
					// Not a privilege problem: publications reject this filter.
					check.NotPublishable = conninfo.ServerMessage(err)
				}
			}
		}
		if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT filter_check"); err != nil {
			return fmt.Errorf("rollback to savepoint: %w", err)
		}
		out[r] = check
	}
	return nil
}

// updateRefused plans an UPDATE of no rows on a table that a publication
// with a row filter now carries: PostgreSQL refuses it at executor start
// when the filter uses columns outside the replica identity. It returns
// that complaint ("" when updates work) inside a savepoint.
func updateRefused(ctx context.Context, tx pgx.Tx, table string) (string, error) {
	var col string
	err := tx.QueryRow(ctx, `SELECT attname FROM pg_catalog.pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
		ORDER BY attnum LIMIT 1`, table).Scan(&col)
	if err != nil {
		return "", fmt.Errorf("pick a column of %s: %w", table, err)
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT update_check"); err != nil {
		return "", err
	}
	c := pgx.Identifier{col}.Sanitize()
	_, uerr := tx.Exec(ctx, "UPDATE "+table+" SET "+c+" = "+c+" WHERE false")
	if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT update_check"); err != nil {
		return "", err
	}
	var pgErr *pgconn.PgError
	if errors.As(uerr, &pgErr) && pgErr.Code == "42P10" {
		return conninfo.ServerMessage(uerr), nil
	}
	return "", nil
}

// OfPublication returns the row filter a publication stores for a
// table, as PostgreSQL deparsed it ("" when the table is published
// without one); published is false when the publication does not carry
// the table.
func OfPublication(ctx context.Context, conn *pgx.Conn, publication, schema, table string) (filter string, published bool, err error) {
	err = conn.QueryRow(ctx, `SELECT coalesce(rowfilter, '') FROM pg_catalog.pg_publication_tables
		WHERE pubname = $1 AND schemaname = $2 AND tablename = $3`, publication, schema, table).Scan(&filter)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("read the row filter of %s in publication %s: %w", pgx.Identifier{schema, table}.Sanitize(), publication, err)
	}
	return filter, true, nil
}
