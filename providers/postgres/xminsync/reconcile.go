package xminsync

import (
	"context"
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/compare"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// Reconciliation puts rows in buckets by a hash of their primary key and
// compares per-bucket counts and checksums on both sides. Buckets that
// differ are split again (fanout per level) while they hold more than
// drillRows rows, then their keys and row hashes are listed and compared
// by key equality in Go — never by ordering, so collations cannot matter.
// A whole-table count and checksum come first: an equal table costs one
// scan per side.
const (
	fanout    = 256
	drillRows = 20000
	maxLevel  = 2
	// keyChunk is the number of keys per DELETE or re-read.
	keyChunk = 1000
)

// sumExpr is an order-independent checksum of the rows' text.
func sumExpr(cols []string) string { return compare.RowChecksum(cols) }

// rowHash is the md5 of a row's text.
func rowHash(cols []string) string {
	return "md5(ROW(" + strings.Join(quoted(cols), ", ") + ")::text)"
}

// bucketAgg is one bucket's row count and checksum.
type bucketAgg struct {
	n   int64
	sum string
}

// keyedRow is a row's primary key (as text) and hash.
type keyedRow struct {
	key  []string
	hash string
}

// reconcile makes t on the target equal to the source in the cycle's
// snapshot: rows only on the target are deleted, rows missing or different
// are read again and upserted. An equal table costs one aggregate scan per
// side.
func (r *run) reconcile(ctx context.Context, t Table) (upserted, deleted int64, err error) {
	src, err := r.readerReady(ctx)
	if err != nil {
		return 0, 0, err
	}
	// An equal table costs one whole-table scan per side.
	if s, d, err := r.aggregate(ctx, src, t, "0", ""); err != nil || sameBuckets(s, d) {
		return 0, 0, err
	}
	hash := "abs(hashtext(ROW(" + strings.Join(quoted(t.PrimaryKey), ", ") + ")::text)::bigint)"
	var cond string
	for level, mod := 0, int64(fanout); ; level, mod = level+1, mod*fanout {
		bucket := fmt.Sprintf("(%s %% %d)", hash, mod)
		s, d, err := r.aggregate(ctx, src, t, bucket, cond)
		if err != nil {
			return 0, 0, err
		}
		var differing []string
		var rows int64
		for b, sa := range s {
			if d[b] != sa {
				differing = append(differing, fmt.Sprint(b))
				rows += max(sa.n, d[b].n)
			}
		}
		for b, da := range d {
			if _, ok := s[b]; !ok {
				differing = append(differing, fmt.Sprint(b))
				rows += da.n
			}
		}
		if len(differing) == 0 {
			return 0, 0, nil
		}
		cond = bucket + " IN (" + strings.Join(differing, ",") + ")"
		if rows <= drillRows || level == maxLevel {
			break
		}
	}
	srcRows, dstRows, err := r.listRows(ctx, src, t, cond)
	if err != nil {
		return 0, 0, err
	}
	var extra, refetch [][]string
	for k, dr := range dstRows {
		if _, ok := srcRows[k]; !ok {
			extra = append(extra, dr.key)
		}
	}
	for k, sr := range srcRows {
		if dr, ok := dstRows[k]; !ok || dr.hash != sr.hash {
			refetch = append(refetch, sr.key)
		}
	}
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

// sameBuckets reports whether two bucket aggregates are equal.
func sameBuckets(s, d map[int64]bucketAgg) bool {
	if len(s) != len(d) {
		return false
	}
	for b, a := range s {
		if d[b] != a {
			return false
		}
	}
	return true
}

// aggregate reads per-bucket counts and checksums on both sides at once.
func (r *run) aggregate(ctx context.Context, src pgx.Tx, t Table, bucket, cond string) (s, d map[int64]bucketAgg, err error) {
	q := func(filter string) string {
		var w []string
		if cond != "" {
			w = append(w, cond)
		}
		if strings.TrimSpace(filter) != "" {
			w = append(w, "("+filter+")")
		}
		sql := "SELECT " + bucket + ", count(*), " + sumExpr(t.columnNames()) + " FROM " + t.relation()
		if len(w) > 0 {
			sql += " WHERE " + strings.Join(w, " AND ")
		}
		return sql + " GROUP BY 1"
	}
	return bothSides(ctx, r, src, t, q, func(rows pgx.Rows) (map[int64]bucketAgg, error) {
		out := map[int64]bucketAgg{}
		for rows.Next() {
			var b, n int64
			var sum string
			if err := rows.Scan(&b, &n, &sum); err != nil {
				return nil, err
			}
			out[b] = bucketAgg{n, sum}
		}
		return out, rows.Err()
	})
}

// listRows reads the primary keys and row hashes of the rows matching cond
// on both sides.
func (r *run) listRows(ctx context.Context, src pgx.Tx, t Table, cond string) (s, d map[string]keyedRow, err error) {
	keys := make([]string, len(t.PrimaryKey))
	for i, k := range quoted(t.PrimaryKey) {
		keys[i] = k + "::text"
	}
	q := func(filter string) string {
		return "SELECT " + strings.Join(keys, ", ") + ", " + rowHash(t.columnNames()) + " FROM " + t.relation() +
			" WHERE " + cond + andFilter(filter)
	}
	n := len(t.PrimaryKey)
	return bothSides(ctx, r, src, t, q, func(rows pgx.Rows) (map[string]keyedRow, error) {
		out := map[string]keyedRow{}
		for rows.Next() {
			vals := make([]string, n+1)
			ptrs := make([]any, n+1)
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return nil, err
			}
			out[strings.Join(vals[:n], "\x00")] = keyedRow{key: vals[:n], hash: vals[n]}
		}
		return out, rows.Err()
	})
}

// bothSides runs the query sql renders on the source (with the table's
// filter) and on the target (without) at the same time, and scans each.
func bothSides[T any](ctx context.Context, r *run, src pgx.Tx, t Table, sql func(filter string) string, scan func(pgx.Rows) (T, error)) (s, d T, err error) {
	query := func(q func(context.Context, string, ...any) (pgx.Rows, error), stmt string) (T, error) {
		rows, err := q(ctx, stmt)
		if err != nil {
			var zero T
			return zero, err
		}
		defer rows.Close()
		return scan(rows)
	}
	var g errgroup.Group
	g.Go(func() (err error) {
		if s, err = query(src.Query, sql(t.Filter)); err != nil {
			err = fmt.Errorf("source: reconcile %s: %w", t.Key, err)
		}
		return err
	})
	g.Go(func() (err error) {
		if d, err = query(r.dst.Query, sql("")); err != nil {
			err = fmt.Errorf("target: reconcile %s: %w", t.Key, err)
		}
		return err
	})
	return s, d, g.Wait()
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
