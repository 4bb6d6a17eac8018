package xminsync

import (
	"context"
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/compare"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
)

// Reconciliation compares a table with compare.Rows (whole-table count
// and checksum first, then primary-key buckets drilled down while large,
// keys compared by equality in Go) and repairs from the keys it returns.
const (
	fanout    = 256
	drillRows = 20000
	maxLevel  = 2
	// keyChunk is the number of keys per DELETE or re-read.
	keyChunk = 1000
)

// reconcile makes t on the target equal to the source in the cycle's
// snapshot: rows only on the target are deleted, rows missing or different
// are read again and upserted. An equal table costs one aggregate scan per
// side.
func (r *run) reconcile(ctx context.Context, t Table) (upserted, deleted int64, err error) {
	src, err := r.readerReady(ctx)
	if err != nil {
		return 0, 0, err
	}
	diff, err := compare.Rows(ctx, src, r.dst, compare.Table{Schema: t.Schema, Name: t.Name, Only: !t.Partitioned,
		Columns: t.columnNames(), PrimaryKey: t.PrimaryKey, SourceFilter: t.Filter},
		compare.Options{Fanout: fanout, DrillRows: drillRows, MaxLevel: maxLevel})
	if err != nil {
		return 0, 0, fmt.Errorf("reconcile %s: %w", t.Key, err)
	}
	if diff.Equal {
		return 0, 0, nil
	}
	extra := keyColumns(diff.Extra)
	refetch := append(keyColumns(diff.Missing), keyColumns(diff.Different)...)
	r.opts.Log.Debug("reconciliation", "table", t.Key, "extra", len(extra), "missing_or_different", len(refetch))
	// Deletes first: a deleted row may hold a unique value a new row takes.
	for i := 0; i < len(extra); i += keyChunk {
		n, err := r.deleteKeys(ctx, t, extra[i:min(i+keyChunk, len(extra))])
		if err != nil {
			return upserted, deleted, err
		}
		deleted += n
		if r.opts.OnRows != nil {
			r.opts.OnRows(t.Key, 0, n)
		}
	}
	for i := 0; i < len(refetch); i += keyChunk {
		chunk := refetch[i:min(i+keyChunk, len(refetch))]
		sel := "SELECT " + strings.Join(quoted(t.columnNames()), ", ") + " FROM " + t.relation() +
			" WHERE " + t.keyIn(literalArrays(chunk)) + andFilter(t.Filter)
		n, err := r.stream(ctx, sel, func(batch []byte, lines int64, _ []byte) error {
			return r.applyBatch(ctx, t, batch, lines, nil)
		})
		upserted += n
		if err != nil {
			return upserted, deleted, err
		}
	}
	return upserted, deleted, nil
}

// keyColumns turns compare keys into per-column text values.
func keyColumns(keys []compare.Key) [][]string {
	out := make([][]string, len(keys))
	for i, k := range keys {
		out[i] = k
	}
	return out
}

// deleteKeys deletes rows by primary key on the target.
func (r *run) deleteKeys(ctx context.Context, t Table, keys [][]string) (int64, error) {
	tag, err := r.dst.Exec(ctx, "DELETE FROM "+t.relation()+" WHERE "+t.keyIn(literalArrays(keys)))
	if err != nil {
		return 0, fmt.Errorf("target: delete rows of %s that the source no longer has: %w", t.Key, err)
	}
	return tag.RowsAffected(), nil
}

// literalArrays turns keys (one []string per row) into one SQL text-array
// literal per key column.
func literalArrays(keys [][]string) []string {
	if len(keys) == 0 {
		return nil
	}
	out := make([]string, len(keys[0]))
	for col := range out {
		vals := make([]string, len(keys))
		for i, k := range keys {
			vals[i] = conninfo.QuoteLiteral(k[col])
		}
		out[col] = "ARRAY[" + strings.Join(vals, ",") + "]::text[]"
	}
	return out
}

// keyIn renders "primary key IN (the keys of the arrays)", each key column
// cast from text to its type.
func (t Table) keyIn(arrays []string) string {
	cols := make([]string, len(t.PrimaryKey))
	casts := make([]string, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		cols[i] = fmt.Sprintf("c%d", i)
		casts[i] = fmt.Sprintf("u.c%d::%s", i, t.typeOf(k))
	}
	return "ROW(" + strings.Join(quoted(t.PrimaryKey), ", ") + ") IN (SELECT " + strings.Join(casts, ", ") +
		" FROM unnest(" + strings.Join(arrays, ", ") + ") AS u(" + strings.Join(cols, ", ") + "))"
}

// andFilter renders a filter as an additional condition.
func andFilter(filter string) string {
	if strings.TrimSpace(filter) == "" {
		return ""
	}
	return " AND (" + filter + ")"
}
