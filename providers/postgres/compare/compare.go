package compare

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// How Rows compares a table on two servers:
//
//  1. One whole-table count and checksum per side (an equal table costs
//     one scan per side and stops here; so does a table without a
//     primary key, which can only be compared whole).
//  2. Rows are put in buckets by a hash of their primary key's text (the
//     bucket of a row does not depend on any other row), and each side is
//     read for per-bucket counts and checksums. Buckets that differ are
//     split again (Fanout per level, only inside the differing buckets)
//     while they hold more than DrillRows rows, down to MaxLevel.
//  3. The keys (per-column text) and row hashes of the differing buckets
//     are listed on both sides and compared by key equality in Go: no
//     ordering is ever compared, so the database's collation cannot
//     matter (ARCHITECTURE.md, rule 7).
//
// Both sides are read at the same time. Run TextSession on both sessions
// first, so that values have the same text on both servers.

// Querier runs a query on one side: *pgx.Conn and pgx.Tx satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Table names the rows to compare.
type Table struct {
	Schema, Name string
	// Only reads the table itself, without inheritance children (ONLY).
	Only bool
	// Columns are compared in this order on both sides.
	Columns []string
	// PrimaryKey identifies rows; without one only the whole-table count
	// and checksum are compared and no keys are returned.
	PrimaryKey []string
	// SourceFilter keeps only the source rows that belong on the target
	// (SQL condition, "" for every row).
	SourceFilter string
	// TargetSchema and TargetName name the table on the target when it
	// is remapped there; "" means Schema and Name.
	TargetSchema, TargetName string
}

// Options tune the drill-down; zero values take the defaults.
type Options struct {
	// Fanout is the number of buckets a level splits each bucket into
	// (default 256).
	Fanout int
	// DrillRows: the differing buckets are split again while they hold
	// more rows than this (default 20000).
	DrillRows int64
	// MaxLevel is the deepest level (default 2: up to Fanout³ buckets).
	MaxLevel int
	// MaxKeys caps each of Missing, Extra and Different (0: no cap); the
	// first keys in Key.String order are kept, the counts stay exact.
	MaxKeys int
}

const (
	defaultFanout    = 256
	defaultDrillRows = 20000
	defaultMaxLevel  = 2
)

// Key is a row's primary key, one text value per key column (the column
// type's output form, which its input accepts back).
type Key []string

// String renders the key as PostgreSQL renders ROW(key columns)::text:
// "(a,é10)", values quoted when they are empty or hold a space, a quote, a
// backslash, a parenthesis or a comma.
func (k Key) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, v := range k {
		if i > 0 {
			b.WriteByte(',')
		}
		if !needsQuotes(v) {
			b.WriteString(v)
			continue
		}
		b.WriteByte('"')
		for j := 0; j < len(v); j++ {
			if v[j] == '"' || v[j] == '\\' {
				b.WriteByte(v[j])
			}
			b.WriteByte(v[j])
		}
		b.WriteByte('"')
	}
	b.WriteByte(')')
	return b.String()
}

// needsQuotes is record_out's rule for quoting a field.
func needsQuotes(v string) bool {
	return v == "" || strings.ContainsAny(v, "\"\\(), \t\n\r\v\f")
}

// Result is the comparison of one table.
type Result struct {
	// SourceRows and TargetRows count the rows compared on each side.
	SourceRows, TargetRows int64
	// Equal is true when both sides hold the same rows.
	Equal bool
	// Missing keys are on the source only, Extra on the target only,
	// Different on both with other values; sorted by Key.String and capped
	// at Options.MaxKeys.
	Missing, Extra, Different []Key
	// MissingCount, ExtraCount and DifferentCount are the uncapped counts.
	MissingCount, ExtraCount, DifferentCount int
	// DifferingBuckets is how many buckets differed at the deepest level
	// read; Level is that level (0 for Fanout buckets).
	DifferingBuckets, Level int
}

// Rows compares t on src and dst (see the top of this file) and returns
// the keys that differ.
func Rows(ctx context.Context, src, dst Querier, t Table, opts Options) (Result, error) {
	if opts.Fanout <= 1 {
		opts.Fanout = defaultFanout
	}
	if opts.DrillRows <= 0 {
		opts.DrillRows = defaultDrillRows
	}
	if opts.MaxLevel <= 0 {
		opts.MaxLevel = defaultMaxLevel
	}
	c := comparison{src: src, dst: dst, t: t, rel: relation(t), dstRel: relation(t)}
	if t.TargetName != "" {
		tt := t
		tt.Schema, tt.Name = t.TargetSchema, t.TargetName
		c.dstRel = relation(tt)
	}
	s, d, err := c.aggregate(ctx, "0", "")
	if err != nil {
		return Result{}, err
	}
	res := Result{SourceRows: total(s), TargetRows: total(d), Equal: sameBuckets(s, d)}
	if res.Equal || len(t.PrimaryKey) == 0 {
		return res, nil
	}
	hash := "abs(hashtext(ROW(" + strings.Join(quoted(t.PrimaryKey), ", ") + ")::text)::bigint)"
	var cond string
	for level, mod := 0, int64(opts.Fanout); ; level, mod = level+1, mod*int64(opts.Fanout) {
		bucket := fmt.Sprintf("(%s %% %d)", hash, mod)
		s, d, err := c.aggregate(ctx, bucket, cond)
		if err != nil {
			return res, err
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
		res.DifferingBuckets, res.Level = len(differing), level
		if len(differing) == 0 {
			// Every bucket agrees (the rows changed between the
			// reads): nothing to list.
			res.Equal = true
			return res, nil
		}
		sort.Strings(differing)
		cond = bucket + " IN (" + strings.Join(differing, ",") + ")"
		if rows <= opts.DrillRows || level >= opts.MaxLevel {
			break
		}
	}
	sr, dr, err := c.listRows(ctx, cond)
	if err != nil {
		return res, err
	}
	for k, srow := range sr {
		switch drow, ok := dr[k]; {
		case !ok:
			res.Missing = append(res.Missing, srow.key)
		case drow.hash != srow.hash:
			res.Different = append(res.Different, srow.key)
		}
	}
	for k, drow := range dr {
		if _, ok := sr[k]; !ok {
			res.Extra = append(res.Extra, drow.key)
		}
	}
	res.MissingCount, res.ExtraCount, res.DifferentCount = len(res.Missing), len(res.Extra), len(res.Different)
	res.Equal = res.MissingCount+res.ExtraCount+res.DifferentCount == 0
	for _, l := range []*[]Key{&res.Missing, &res.Extra, &res.Different} {
		sortKeys(*l)
		if opts.MaxKeys > 0 && len(*l) > opts.MaxKeys {
			*l = (*l)[:opts.MaxKeys]
		}
	}
	return res, nil
}

// comparison is one call of Rows.
type comparison struct {
	src, dst Querier
	t        Table
	// rel and dstRel name the table in FROM on the source and the target.
	rel, dstRel string
}

// bucketAgg is one bucket's row count and checksum.
type bucketAgg struct {
	n   int64
	sum string
}

// keyedRow is a row's key and hash.
type keyedRow struct {
	key  Key
	hash string
}

// aggregate reads per-bucket counts and checksums of the rows matching
// cond on both sides.
func (c comparison) aggregate(ctx context.Context, bucket, cond string) (s, d map[int64]bucketAgg, err error) {
	sql := func(rel, filter string) string {
		return "SELECT " + bucket + ", count(*), " + RowChecksum(c.t.Columns) + " FROM " + rel +
			where(cond, filter) + " GROUP BY 1"
	}
	return bothSides(ctx, c, sql, func(rows pgx.Rows) (map[int64]bucketAgg, error) {
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

// listRows reads the keys and row hashes of the rows matching cond on both
// sides, keyed by the key's columns joined with NUL (which text cannot
// hold).
func (c comparison) listRows(ctx context.Context, cond string) (s, d map[string]keyedRow, err error) {
	keys := make([]string, len(c.t.PrimaryKey))
	for i, k := range quoted(c.t.PrimaryKey) {
		keys[i] = "format('%s', " + k + ")"
	}
	sql := func(rel, filter string) string {
		return "SELECT " + strings.Join(keys, ", ") + ", " + rowHash(c.t.Columns) + " FROM " + rel + where(cond, filter)
	}
	n := len(c.t.PrimaryKey)
	return bothSides(ctx, c, sql, func(rows pgx.Rows) (map[string]keyedRow, error) {
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
			out[strings.Join(vals[:n], "\x00")] = keyedRow{key: Key(vals[:n]), hash: vals[n]}
		}
		return out, rows.Err()
	})
}

// bothSides runs the query sql renders on the source (with the source
// filter) and on the target (without) at the same time, and scans each.
func bothSides[T any](ctx context.Context, c comparison, sql func(rel, filter string) string, scan func(pgx.Rows) (T, error)) (s, d T, err error) {
	query := func(q Querier, stmt string) (T, error) {
		rows, err := q.Query(ctx, stmt)
		if err != nil {
			var zero T
			return zero, err
		}
		defer rows.Close()
		return scan(rows)
	}
	var g errgroup.Group
	g.Go(func() (err error) {
		if s, err = query(c.src, sql(c.rel, c.t.SourceFilter)); err != nil {
			err = fmt.Errorf("source: compare %s: %w", c.rel, err)
		}
		return err
	})
	g.Go(func() (err error) {
		if d, err = query(c.dst, sql(c.dstRel, "")); err != nil {
			err = fmt.Errorf("target: compare %s: %w", c.dstRel, err)
		}
		return err
	})
	return s, d, g.Wait()
}

// RowChecksum is an aggregate over rows of the given columns that is the
// same on two servers exactly when they hold the same rows (up to a 64-bit
// hash collision), whatever their order: the sum of a 64-bit hash of each
// row's text. Run TextSession on both sides first.
func RowChecksum(cols []string) string {
	return "coalesce(sum(hashtextextended(ROW(" + strings.Join(quoted(cols), ", ") + ")::text, 0)), 0)::text"
}

// rowHash is the md5 of a row's text.
func rowHash(cols []string) string {
	return "md5(ROW(" + strings.Join(quoted(cols), ", ") + ")::text)"
}

// relation names t in FROM.
func relation(t Table) string {
	rel := pgx.Identifier{t.Schema, t.Name}.Sanitize()
	if t.Only {
		return "ONLY " + rel
	}
	return rel
}

// where renders " WHERE cond AND (filter)", leaving out the empty parts.
func where(cond, filter string) string {
	var w []string
	if cond != "" {
		w = append(w, cond)
	}
	if strings.TrimSpace(filter) != "" {
		w = append(w, "("+filter+")")
	}
	if len(w) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w, " AND ")
}

// quoted returns quoted identifiers.
func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pgx.Identifier{n}.Sanitize()
	}
	return out
}

// total is the number of rows over all buckets.
func total(m map[int64]bucketAgg) int64 {
	var n int64
	for _, a := range m {
		n += a.n
	}
	return n
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

// sortKeys sorts keys by their String form (the order verify has always
// listed them in; any fixed order would do, none is compared).
func sortKeys(keys []Key) {
	type keyText struct {
		key  Key
		text string
	}
	kt := make([]keyText, len(keys))
	for i, k := range keys {
		kt[i] = keyText{k, k.String()}
	}
	sort.Slice(kt, func(i, j int) bool { return kt[i].text < kt[j].text })
	for i := range kt {
		keys[i] = kt[i].key
	}
}
