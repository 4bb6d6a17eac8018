package xminsync

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
)

// A table without a key is synced as a multiset of rows: two rows are the
// same row when their text (ROW(columns)::text) is equal, and a row is
// identified by two 64-bit hashes of that text (hashtextextended with
// seeds 0 and 1, 128 bits together).

// maxWindowHashes bounds the distinct first hashes of the rows in a
// cycle's window for which the diff is limited to those hashes; a larger
// window is compared whole.
const maxWindowHashes = 100_000

// multisetChunk is how many differing row hashes one DELETE or one source
// COPY handles.
const multisetChunk = 5000

// rowDiff is one row hash whose count differs between the sides: n more
// copies on the side it was collected for.
type rowDiff struct {
	h1, h2 int64
	n      int64
}

// multisetSync makes the target's rows of t, a table without a key, the
// same multiset of rows as the source's in the cycle's snapshot.
//
// With a window (the xid condition of the rows written since the cursor),
// only a part of the table is compared: the rows whose value in one column
// (the one with the most distinct values in the source's statistics) is
// one of the window rows' values, or, without statistics, whose first hash
// is one of theirs. Every row outside that part has an xmin below the
// cursor, so it was visible to the previous cycle, whose snapshot the
// target holds exactly; such rows can only have been deleted since, so
// equal counts outside the part mean equal rows. When the counts differ
// (an older row was deleted or updated), or the window is empty or large,
// the whole table is compared.
//
// Each side is read as (hash, hash, count) groups in hash order and merged;
// for every row the target holds n surplus copies of, n copies are deleted
// by their physical address (tableoid, ctid); for every row it lacks n
// copies of, n copies are read from the source inside the cycle's snapshot
// (from the window's rows when there is one: the missing rows are among
// them) and copied in. Deletes and inserts run in one target transaction.
func (r *run) multisetSync(ctx context.Context, t Table, window string) (inserted, deleted int64, err error) {
	src, err := r.readerReady(ctx)
	if err != nil {
		return 0, 0, err
	}
	// The part compared: rows matching pred (a condition on the
	// relation), or with a first hash in part.
	var pred string
	var part []int64
	if window != "" {
		pred, part, err = r.windowPart(ctx, src, t, window)
		if err != nil {
			return 0, 0, err
		}
		if pred == "" && part == nil {
			return r.multisetSync(ctx, t, "")
		}
	}
	tx, err := r.dst.Begin(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("target: begin: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // no-op after commit
	groups := func(filter string) string {
		return "SELECT dr_h1, dr_h2, count(*) FROM (" + t.hashed(and(filter, pred), nil, part) + ") g GROUP BY 1, 2 ORDER BY 1, 2"
	}
	srows, err := src.Query(ctx, groups(t.Filter))
	if err != nil {
		return 0, 0, fmt.Errorf("source: %w", err)
	}
	defer srows.Close()
	trows, err := tx.Query(ctx, groups(""))
	if err != nil {
		return 0, 0, fmt.Errorf("target: %w", err)
	}
	defer trows.Close()
	m, err := mergeGroups(srows, trows)
	if err != nil {
		return 0, 0, err
	}
	srows.Close()
	trows.Close()
	if window != "" {
		var sn, tn int64
		if err := src.QueryRow(ctx, "SELECT count(*) FROM "+t.relation()+where(t.Filter)).Scan(&sn); err != nil {
			return 0, 0, fmt.Errorf("source: %w", err)
		}
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+t.relation()).Scan(&tn); err != nil {
			return 0, 0, fmt.Errorf("target: %w", err)
		}
		if sn-m.srcRows != tn-m.dstRows {
			// Rows outside the window's hashes were deleted or updated.
			_ = tx.Rollback(ctx)
			return r.multisetSync(ctx, t, "")
		}
	}
	if len(m.missing) == 0 && len(m.surplus) == 0 {
		return 0, 0, tx.Commit(ctx)
	}
	for surplus := m.surplus; len(surplus) > 0; {
		chunk := surplus[:min(len(surplus), multisetChunk)]
		surplus = surplus[len(chunk):]
		h1, h2, n := splitDiffs(chunk)
		tag, err := tx.Exec(ctx, "DELETE FROM "+t.relation()+" AS dr_t USING (SELECT x.dr_toid, x.dr_tid FROM (SELECT dr_toid, dr_tid, dr_h1, dr_h2, "+
			"row_number() OVER (PARTITION BY dr_h1, dr_h2) AS dr_rn FROM ("+
			t.hashed(pred, []string{"tableoid AS dr_toid", "ctid AS dr_tid"}, h1)+") h) x "+
			"JOIN unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS d(h1, h2, n) ON d.h1 = x.dr_h1 AND d.h2 = x.dr_h2 WHERE x.dr_rn <= d.n) AS del "+
			"WHERE dr_t.tableoid = del.dr_toid AND dr_t.ctid = del.dr_tid", h1, h2, n)
		if err != nil {
			return 0, 0, fmt.Errorf("target: delete surplus rows of %s: %w", t.Key, err)
		}
		deleted += tag.RowsAffected()
	}
	cols := strings.Join(quoted(t.columnNames()), ", ")
	from := t.Filter
	if window != "" {
		from = and(window, t.Filter)
	}
	for missing := m.missing; len(missing) > 0; {
		chunk := missing[:min(len(missing), multisetChunk)]
		missing = missing[len(chunk):]
		n, err := r.stream(ctx, t.missingRows(from, chunk), func(batch []byte, _ int64, _ []byte) error {
			if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(batch), "COPY "+t.sqlName()+" ("+cols+") FROM STDIN"); err != nil {
				return fmt.Errorf("target: copy missing rows of %s: %w", t.Key, err)
			}
			return nil
		})
		if err != nil {
			return 0, 0, err
		}
		inserted += n
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, fmt.Errorf("target: commit the multiset diff of %s: %w", t.Key, err)
	}
	if r.opts.OnRows != nil {
		r.opts.OnRows(t.Key, inserted, deleted)
	}
	return inserted, deleted, nil
}

// windowPart returns the part of t a cycle with this window compares:
// pred, the rows whose value of t's most distinct column is one of the
// window rows' values, or, when the statistics name no such column, part,
// the first hashes of the window rows. Both are empty when the window
// holds no rows or too many distinct values.
func (r *run) windowPart(ctx context.Context, src pgx.Tx, t Table, window string) (pred string, part []int64, err error) {
	col, err := mostDistinctColumn(ctx, src, t)
	if err != nil {
		return "", nil, err
	}
	if col == "" {
		rows, err := src.Query(ctx, "SELECT DISTINCT dr_h1 FROM ("+t.hashed(and(window, t.Filter), nil, nil)+") w LIMIT "+
			strconv.Itoa(maxWindowHashes+1))
		if err != nil {
			return "", nil, fmt.Errorf("source: %w", err)
		}
		part, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return "", nil, fmt.Errorf("source: %w", err)
		}
		if len(part) == 0 || len(part) > maxWindowHashes {
			return "", nil, nil
		}
		return "", part, nil
	}
	q := pgx.Identifier{col}.Sanitize()
	rows, err := src.Query(ctx, "SELECT DISTINCT "+q+"::text FROM "+t.relation()+where(and(window, t.Filter))+" LIMIT "+
		strconv.Itoa(maxWindowHashes+1))
	if err != nil {
		return "", nil, fmt.Errorf("source: %w", err)
	}
	values, err := pgx.CollectRows(rows, pgx.RowTo[*string])
	if err != nil {
		return "", nil, fmt.Errorf("source: %w", err)
	}
	if len(values) == 0 || len(values) > maxWindowHashes {
		return "", nil, nil
	}
	var lits []string
	null := false
	for _, v := range values {
		if v == nil {
			null = true
			continue
		}
		lits = append(lits, conninfo.QuoteLiteral(*v))
	}
	var or []string
	if len(lits) > 0 {
		or = append(or, q+"::text = ANY(ARRAY["+strings.Join(lits, ", ")+"]::text[])")
	}
	if null {
		or = append(or, q+" IS NULL")
	}
	return strings.Join(or, " OR "), nil, nil
}

// mostDistinctColumn returns the synced column of t with the most
// distinct values in the source's statistics, or "" without statistics.
func mostDistinctColumn(ctx context.Context, src pgx.Tx, t Table) (string, error) {
	rows, err := src.Query(ctx, `SELECT s.attname::text FROM pg_stats s
		JOIN pg_namespace n ON n.nspname = s.schemaname
		JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename
		WHERE s.schemaname = $1 AND s.tablename = $2 AND s.avg_width <= 64
		ORDER BY CASE WHEN s.n_distinct < 0 THEN -s.n_distinct * greatest(c.reltuples, 1) ELSE s.n_distinct END DESC, s.inherited DESC`,
		t.Schema, t.Name)
	if err != nil {
		return "", fmt.Errorf("source: statistics of %s: %w", t.Key, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("source: statistics of %s: %w", t.Key, err)
	}
	synced := map[string]bool{}
	for _, c := range t.columnNames() {
		synced[c] = true
	}
	for _, n := range names {
		if synced[n] {
			return n, nil
		}
	}
	return "", nil
}

// hashed selects the two hashes of every row of t matching filter (""
// for all) as dr_h1 and dr_h2, with extra ("expr AS name") after them by
// name; with h1In, only the rows whose first hash is one of those. The
// OFFSET 0 fences keep the row text computed once per row and the second
// hash computed only for the rows h1In keeps.
func (t Table) hashed(filter string, extra []string, h1In []int64) string {
	names := make([]string, len(extra))
	for i, e := range extra {
		names[i] = e[strings.LastIndex(e, " ")+1:]
	}
	inner := append([]string{"ROW(" + strings.Join(quoted(t.columnNames()), ", ") + ")::text AS dr_text"}, extra...)
	middle := append([]string{"hashtextextended(dr_text, 0) AS dr_h1", "dr_text"}, names...)
	outer := append([]string{"dr_h1", "hashtextextended(dr_text, 1) AS dr_h2"}, names...)
	q := "SELECT " + strings.Join(outer, ", ") + " FROM (SELECT " + strings.Join(middle, ", ") + " FROM (SELECT " +
		strings.Join(inner, ", ") + " FROM " + t.relation() + where(filter) + " OFFSET 0) dr_r OFFSET 0) dr_m"
	if h1In != nil {
		q += " WHERE dr_h1 = ANY(" + int64Array(h1In) + ")"
	}
	return q
}

// missingRows selects, on the source, n rows matching filter of each row
// hash in diffs.
func (t Table) missingRows(filter string, diffs []rowDiff) string {
	h1, h2, n := splitDiffs(diffs)
	q := quoted(t.columnNames())
	extra := make([]string, len(q))
	sel := make([]string, len(q))
	for i, c := range q {
		extra[i] = c + " AS " + c
		sel[i] = "s." + c
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM (SELECT *, row_number() OVER (PARTITION BY dr_h1, dr_h2) AS dr_rn FROM (" +
		t.hashed(filter, extra, h1) + ") h) s JOIN unnest(" + int64Array(h1) + ", " +
		int64Array(h2) + ", " + int64Array(n) + ") AS dr_want(dr_w1, dr_w2, dr_n) ON dr_want.dr_w1 = s.dr_h1 AND dr_want.dr_w2 = s.dr_h2 " +
		"WHERE s.dr_rn <= dr_want.dr_n"
}

// merged is the difference of two multisets of row hashes.
type merged struct {
	// missing and surplus are the rows the target lacks and holds too
	// many copies of.
	missing, surplus []rowDiff
	// srcRows and dstRows count the rows read on each side.
	srcRows, dstRows int64
}

// mergeGroups merges two streams of (h1, h2, count) ordered by (h1, h2).
func mergeGroups(src, dst pgx.Rows) (merged, error) {
	var m merged
	type group struct {
		h1, h2, n int64
		ok        bool
	}
	next := func(rows pgx.Rows, side string, total *int64) (group, error) {
		var g group
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return g, fmt.Errorf("%s: %w", side, err)
			}
			return g, nil
		}
		if err := rows.Scan(&g.h1, &g.h2, &g.n); err != nil {
			return g, fmt.Errorf("%s: %w", side, err)
		}
		g.ok = true
		*total += g.n
		return g, nil
	}
	less := func(a, b group) bool { return a.h1 < b.h1 || (a.h1 == b.h1 && a.h2 < b.h2) }
	s, err := next(src, "source", &m.srcRows)
	if err != nil {
		return m, err
	}
	d, err := next(dst, "target", &m.dstRows)
	if err != nil {
		return m, err
	}
	for s.ok || d.ok {
		switch {
		case d.ok && (!s.ok || less(d, s)):
			m.surplus = append(m.surplus, rowDiff{d.h1, d.h2, d.n})
			if d, err = next(dst, "target", &m.dstRows); err != nil {
				return m, err
			}
		case s.ok && (!d.ok || less(s, d)):
			m.missing = append(m.missing, rowDiff{s.h1, s.h2, s.n})
			if s, err = next(src, "source", &m.srcRows); err != nil {
				return m, err
			}
		default: // the same row on both sides
			if s.n > d.n {
				m.missing = append(m.missing, rowDiff{s.h1, s.h2, s.n - d.n})
			} else if d.n > s.n {
				m.surplus = append(m.surplus, rowDiff{s.h1, s.h2, d.n - s.n})
			}
			if s, err = next(src, "source", &m.srcRows); err != nil {
				return m, err
			}
			if d, err = next(dst, "target", &m.dstRows); err != nil {
				return m, err
			}
		}
	}
	return m, nil
}

// splitDiffs returns the hashes and counts of diffs as three arrays.
func splitDiffs(diffs []rowDiff) (h1, h2, n []int64) {
	h1, h2, n = make([]int64, len(diffs)), make([]int64, len(diffs)), make([]int64, len(diffs))
	for i, d := range diffs {
		h1[i], h2[i], n[i] = d.h1, d.h2, d.n
	}
	return h1, h2, n
}

// int64Array renders vs as a bigint[] literal (digits and signs only, so
// it can be inlined, also into a COPY, which takes no parameters).
func int64Array(vs []int64) string {
	var b strings.Builder
	b.WriteString("'{")
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(v, 10))
	}
	b.WriteString("}'::bigint[]")
	return b.String()
}

// and joins two conditions, either of which may be empty.
func and(a, b string) string {
	switch {
	case strings.TrimSpace(a) == "":
		return b
	case strings.TrimSpace(b) == "":
		return a
	}
	return "(" + a + ") AND (" + b + ")"
}
