package schemadump

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
)

// backfillBatch is how many source rows one UPDATE on the target carries.
const backfillBatch = 1000

// valueSession renders and parses values the same way on both servers:
// a value read as text on the source is cast back to its type on the
// target.
const valueSession = "SET LOCAL DateStyle = ISO, YMD; SET LOCAL IntervalStyle = postgres; SET LOCAL extra_float_digits = 3; SET LOCAL TimeZone = UTC; SET LOCAL bytea_output = hex"

// keyColumn is a column of a target table's primary key.
type keyColumn struct{ name, typ string }

// primaryKey reads the primary key of tbl in tx, in key order; nil when
// the table has none.
func primaryKey(ctx context.Context, tx pgx.Tx, tbl QualifiedName) ([]keyColumn, error) {
	rows, err := tx.Query(ctx, `
		SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
		  FROM pg_catalog.pg_index i
		  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		 WHERE i.indrelid = $1::regclass AND i.indisprimary
		 ORDER BY pg_catalog.array_position(i.indkey::int2[], a.attnum)`, tbl.String())
	if err != nil {
		return nil, fmt.Errorf("read the primary key of %s: %w", tbl, err)
	}
	var out []keyColumn
	var k keyColumn
	if _, err := pgx.ForEachRow(rows, []any{&k.name, &k.typ}, func() error { out = append(out, k); return nil }); err != nil {
		return nil, fmt.Errorf("read the primary key of %s: %w", tbl, err)
	}
	return out, nil
}

// backfill gives the rows the target already holds in tbl the values the
// source's rows hold in cols (columns just added in tx, which holds the
// ADD COLUMN's ACCESS EXCLUSIVE lock: no replicated write reaches the
// table until tx commits), matched by the target's primary key, in
// batches of backfillBatch rows. srcTx is a REPEATABLE READ transaction
// on the source whose snapshot was taken after the lock: every change
// the target has applied to tbl is in it, and every later one is still
// ahead in the stream (or the next xmin cycle) and carries whole rows, so
// the table converges. Only source rows with a non-NULL value are read
// (the new columns are NULL on the target). It reports the rows updated,
// and ok = false, doing nothing, when the target table has no primary
// key.
func backfill(ctx context.Context, tx, srcTx pgx.Tx, tbl QualifiedName, cols []ColumnDef) (updated int64, ok bool, err error) {
	key, err := primaryKey(ctx, tx, tbl)
	if err != nil || len(key) == 0 {
		return 0, false, err
	}
	if _, err := tx.Exec(ctx, valueSession); err != nil {
		return 0, false, fmt.Errorf("backfill %s: %w", tbl, err)
	}
	if _, err := srcTx.Exec(ctx, valueSession); err != nil {
		return 0, false, fmt.Errorf("backfill %s: %w", tbl, err)
	}
	var sel, nonNull, args, alias, where, set []string
	for i, k := range key {
		sel = append(sel, pgx.Identifier{k.name}.Sanitize()+"::text")
		args = append(args, fmt.Sprintf("$%d::text[]", i+1))
		alias = append(alias, fmt.Sprintf("k%d", i))
		where = append(where, fmt.Sprintf("t.%s = v.k%d::%s", pgx.Identifier{k.name}.Sanitize(), i, k.typ))
	}
	for i, c := range cols {
		col := pgx.Identifier{c.Name}.Sanitize()
		sel = append(sel, col+"::text")
		nonNull = append(nonNull, col+" IS NOT NULL")
		args = append(args, fmt.Sprintf("$%d::text[]", len(key)+i+1))
		alias = append(alias, fmt.Sprintf("c%d", i))
		set = append(set, fmt.Sprintf("%s = v.c%d::%s", col, i, c.Type))
	}
	// One cursor name per table: pgx caches a statement's result
	// description by its text, and each table's FETCH returns other
	// columns.
	cursor := pgx.Identifier{"database_replicator_backfill_" + tbl.String()}.Sanitize()
	from := tbl
	if cols[0].SourceTable != (QualifiedName{}) {
		from = cols[0].SourceTable // a remapped table: read it under its source name
	}
	if _, err := srcTx.Exec(ctx, "DECLARE "+cursor+" NO SCROLL CURSOR FOR SELECT "+strings.Join(sel, ", ")+
		" FROM "+from.String()+" WHERE "+strings.Join(nonNull, " OR ")); err != nil {
		return 0, false, fmt.Errorf("backfill %s: read the source: %w", tbl, err)
	}
	update := "UPDATE " + tbl.String() + " AS t SET " + strings.Join(set, ", ") +
		" FROM unnest(" + strings.Join(args, ", ") + ") AS v(" + strings.Join(alias, ", ") + ") WHERE " + strings.Join(where, " AND ")
	n := len(key) + len(cols)
	for {
		rows, err := srcTx.Query(ctx, fmt.Sprintf("FETCH FORWARD %d FROM %s", backfillBatch, cursor))
		if err != nil {
			return updated, false, fmt.Errorf("backfill %s: read the source: %w", tbl, err)
		}
		values := make([][]*string, n)
		got := 0
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				rows.Close()
				return updated, false, fmt.Errorf("backfill %s: read the source: %w", tbl, err)
			}
			for i, v := range vals {
				var s *string
				if v != nil {
					str := v.(string)
					s = &str
				}
				values[i] = append(values[i], s)
			}
			got++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return updated, false, fmt.Errorf("backfill %s: read the source: %w", tbl, err)
		}
		if got == 0 {
			break
		}
		batch := make([]any, n)
		for i := range values {
			batch[i] = values[i]
		}
		tag, err := tx.Exec(ctx, update, batch...)
		if err != nil {
			return updated, false, fmt.Errorf("backfill %s: update the target: %w", tbl, err)
		}
		updated += tag.RowsAffected()
	}
	if _, err := srcTx.Exec(ctx, "CLOSE "+cursor); err != nil {
		return updated, false, fmt.Errorf("backfill %s: %w", tbl, err)
	}
	return updated, true, nil
}

// backfillAll fills the columns of fill (per table) on the target in tx
// from one REPEATABLE READ snapshot of src's database, taken now: after
// tx's ADD COLUMNs locked the tables. A table without a primary key keeps
// its new columns NULL, with a warning.
func backfillAll(ctx context.Context, tx pgx.Tx, src conninfo.Info, fill map[QualifiedName][]ColumnDef, warn func(string)) error {
	if len(fill) == 0 {
		return nil
	}
	conn, err := conninfo.Connect(ctx, src)
	if err != nil {
		return fmt.Errorf("backfill the new columns: %w", err)
	}
	defer conn.Close(context.Background())
	srcTx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("backfill the new columns: %w", err)
	}
	defer func() { _ = srcTx.Rollback(context.Background()) }()
	if _, err := srcTx.Exec(ctx, "SELECT pg_catalog.set_config('search_path', '', true)"); err != nil {
		return fmt.Errorf("backfill the new columns: %w", err)
	}
	tables := make([]QualifiedName, 0, len(fill))
	for t := range fill {
		tables = append(tables, t)
	}
	sort.Slice(tables, func(i, j int) bool { return tables[i].String() < tables[j].String() })
	for _, t := range tables {
		_, ok, err := backfill(ctx, tx, srcTx, t, fill[t])
		if err != nil {
			return err
		}
		if !ok {
			var names []string
			for _, c := range fill[t] {
				names = append(names, pgx.Identifier{c.Name}.Sanitize())
			}
			warn(fmt.Sprintf("%s has no primary key on the target: its existing rows cannot be matched with the source's, so the new column(s) %s stay NULL in them where the source's rows may hold values (verify reports it); copy the table again to fix it", t, strings.Join(names, ", ")))
		}
	}
	return nil
}
