package streamapply

import (
	"context"
	"fmt"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// tableStartTable is the qualified name of the table-start table: for a
// table copied again in a newer snapshot than the slot's (a resumed
// snapshot), the LSN from which the stream applies its changes.
var tableStartTable = pgx.Identifier{ProgressSchema, "stream_table_start"}.Sanitize()

// tableStartDDL creates the table-start table when it is missing.
var tableStartDDL = `CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{ProgressSchema}.Sanitize() + `;
CREATE TABLE IF NOT EXISTS ` + tableStartTable + ` (
	replication text NOT NULL,
	schema_name text NOT NULL,
	table_name text NOT NULL,
	start_lsn pg_lsn NOT NULL,
	PRIMARY KEY (replication, schema_name, table_name)
)`

// TableName names a target table.
type TableName struct{ Schema, Table string }

// RecordTableStart records on the target that the stream applies the
// changes of table schema.table (target names) only from source
// transactions whose commit record lies at or after start: the table is
// copied in a snapshot that holds exactly the transactions that committed
// before start (the consistent point of the slot that exported it). It
// must commit before the copy does (apply records it first): a copy whose
// start is missing would receive changes it already holds.
func RecordTableStart(ctx context.Context, dst *pgx.Conn, replication, schema, table string, start pglogrepl.LSN) error {
	if err := createLocked(ctx, dst, tableStartDDL); err != nil {
		return fmt.Errorf("create %s on the target: %w", tableStartTable, err)
	}
	if _, err := dst.Exec(ctx, `INSERT INTO `+tableStartTable+` (replication, schema_name, table_name, start_lsn)
		VALUES ($1, $2, $3, $4::pg_lsn)
		ON CONFLICT (replication, schema_name, table_name) DO UPDATE SET start_lsn = EXCLUDED.start_lsn`,
		replication, schema, table, start.String()); err != nil {
		return fmt.Errorf("record the stream start of %s.%s: %w", schema, table, err)
	}
	return nil
}

// ReadTableStarts reads replication's table starts (none when the table
// does not exist).
func ReadTableStarts(ctx context.Context, dst *pgx.Conn, replication string) (map[TableName]pglogrepl.LSN, error) {
	out := map[TableName]pglogrepl.LSN{}
	var exists bool
	if err := dst.QueryRow(ctx, `SELECT pg_catalog.to_regclass($1) IS NOT NULL`, tableStartTable).Scan(&exists); err != nil {
		return nil, fmt.Errorf("read stream table starts: %w", err)
	}
	if !exists {
		return out, nil
	}
	rows, err := dst.Query(ctx, `SELECT schema_name, table_name, start_lsn::text FROM `+tableStartTable+` WHERE replication = $1`, replication)
	if err != nil {
		return nil, fmt.Errorf("read stream table starts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var n TableName
		var lsn string
		if err := rows.Scan(&n.Schema, &n.Table, &lsn); err != nil {
			return nil, fmt.Errorf("read stream table starts: %w", err)
		}
		l, err := pglogrepl.ParseLSN(lsn)
		if err != nil {
			return nil, fmt.Errorf("read stream table start of %s.%s: %w", n.Schema, n.Table, err)
		}
		out[n] = l
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stream table starts: %w", err)
	}
	return out, nil
}

// dropTableStarts deletes replication's table starts, and the table once
// no replication has one left.
func dropTableStarts(ctx context.Context, dst *pgx.Conn, replication string) error {
	var exists bool
	if err := dst.QueryRow(ctx, `SELECT pg_catalog.to_regclass($1) IS NOT NULL`, tableStartTable).Scan(&exists); err != nil {
		return fmt.Errorf("drop stream table starts: %w", err)
	}
	if !exists {
		return nil
	}
	if _, err := dst.Exec(ctx, `DELETE FROM `+tableStartTable+` WHERE replication = $1`, replication); err != nil {
		return fmt.Errorf("drop stream table starts of %q: %w", replication, err)
	}
	var left bool
	if err := dst.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+tableStartTable+`)`).Scan(&left); err != nil {
		return fmt.Errorf("drop stream table starts: %w", err)
	}
	if !left {
		if _, err := dst.Exec(ctx, `DROP TABLE IF EXISTS `+tableStartTable); err != nil {
			return fmt.Errorf("drop %s: %w", tableStartTable, err)
		}
	}
	return nil
}
