package streamapply

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// tableFilterTable is the qualified name of the table-filter table: the
// row filter each table was copied with, when the applier filters rows
// itself (sources before PostgreSQL 15, whose publications carry no row
// filters).
var tableFilterTable = pgx.Identifier{ProgressSchema, "stream_table_filter"}.Sanitize()

// tableFilterDDL creates the table-filter table when it is missing.
var tableFilterDDL = `CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{ProgressSchema}.Sanitize() + `;
CREATE TABLE IF NOT EXISTS ` + tableFilterTable + ` (
	replication text NOT NULL,
	schema_name text NOT NULL,
	table_name text NOT NULL,
	filter text NOT NULL,
	PRIMARY KEY (replication, schema_name, table_name)
)`

// RecordTableFilter records on the target the row filter that table
// schema.table (source names) is copied with, for the applier to apply to
// its changes exactly as the copy did ("" removes it: every row). The
// filter is data: it was checked to be one expression
// (lang.CheckRowFilterSyntax) and runs on the target only inside a
// statement of the applier's, through the extended protocol. Record it
// before the copy commits: a copy whose filter is missing would receive
// every row's changes.
func RecordTableFilter(ctx context.Context, dst *pgx.Conn, replication, schema, table, filter string) error {
	if filter == "" {
		var exists bool
		if err := dst.QueryRow(ctx, `SELECT pg_catalog.to_regclass($1) IS NOT NULL`, tableFilterTable).Scan(&exists); err != nil {
			return fmt.Errorf("clear the stream filter of %s.%s: %w", schema, table, err)
		}
		if !exists {
			return nil
		}
		if _, err := dst.Exec(ctx, `DELETE FROM `+tableFilterTable+` WHERE replication = $1 AND schema_name = $2 AND table_name = $3`,
			replication, schema, table); err != nil {
			return fmt.Errorf("clear the stream filter of %s.%s: %w", schema, table, err)
		}
		return nil
	}
	if err := createLocked(ctx, dst, tableFilterDDL); err != nil {
		return fmt.Errorf("create %s on the target: %w", tableFilterTable, err)
	}
	if _, err := dst.Exec(ctx, `INSERT INTO `+tableFilterTable+` (replication, schema_name, table_name, filter)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (replication, schema_name, table_name) DO UPDATE SET filter = EXCLUDED.filter`,
		replication, schema, table, filter); err != nil {
		return fmt.Errorf("record the stream filter of %s.%s: %w", schema, table, err)
	}
	return nil
}

// ReadTableFilters reads replication's table filters by source table
// (none when the table does not exist).
func ReadTableFilters(ctx context.Context, dst *pgx.Conn, replication string) (map[TableName]string, error) {
	out := map[TableName]string{}
	var exists bool
	if err := dst.QueryRow(ctx, `SELECT pg_catalog.to_regclass($1) IS NOT NULL`, tableFilterTable).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read stream table filters: %w", err)
	}
	if !exists {
		return out, nil
	}
	rows, err := dst.Query(ctx, `SELECT schema_name, table_name, filter FROM `+tableFilterTable+` WHERE replication = $1`, replication)
	if err != nil {
		return nil, fmt.Errorf("read stream table filters: %w", err)
	}
	var n TableName
	var f string
	if _, err := pgx.ForEachRow(rows, []any{&n.Schema, &n.Table, &f}, func() error {
		out[n] = f
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read stream table filters: %w", err)
	}
	return out, nil
}

// dropTableFilters deletes replication's table filters, and the table
// once no replication has one left.
func dropTableFilters(ctx context.Context, dst *pgx.Conn, replication string) error {
	var exists bool
	if err := dst.QueryRow(ctx, `SELECT pg_catalog.to_regclass($1) IS NOT NULL`, tableFilterTable).Scan(&exists); err != nil {
		return fmt.Errorf("drop stream table filters: %w", err)
	}
	if !exists {
		return nil
	}
	if _, err := dst.Exec(ctx, `DELETE FROM `+tableFilterTable+` WHERE replication = $1`, replication); err != nil {
		return fmt.Errorf("drop stream table filters of %q: %w", replication, err)
	}
	if _, err := dst.Exec(ctx, `DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM `+tableFilterTable+`) THEN DROP TABLE `+tableFilterTable+`; END IF; END$$`); err != nil {
		return fmt.Errorf("drop %s: %w", tableFilterTable, err)
	}
	return nil
}

// createLocked runs ddl (CREATE ... IF NOT EXISTS statements) under a
// transaction-level advisory lock: the copies of several tables run at
// once, and IF NOT EXISTS does not keep two sessions from creating the
// same schema or table at the same time (a unique violation).
func createLocked(ctx context.Context, dst *pgx.Conn, ddl string) error {
	return pgx.BeginFunc(ctx, dst, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('database_replicator schema'))`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, ddl)
		return err
	})
}
