package compare

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// VerifyRequest names one table to compare.
type VerifyRequest struct {
	Schema, Table string
	// Columns are compared in this order on both sides (the source's).
	Columns []string
	// PrimaryKey is empty for a table without one (whole-table comparison).
	PrimaryKey []string
	// SourceFilter keeps only the rows that should be on the target.
	SourceFilter string
	// Buckets is the number of hash buckets (default 256).
	Buckets int
	// MaxKeys caps the differing keys listed per kind.
	MaxKeys int
}

// VerifyResult is the comparison of one table.
type VerifyResult struct {
	SourceRows int64 `json:"source_rows"`
	TargetRows int64 `json:"target_rows"`
	Equal      bool  `json:"equal"`
	// Missing keys are on the source only, Extra on the target only,
	// Different on both with other values (primary-key text, first MaxKeys).
	Missing   []string `json:"missing,omitempty"`
	Extra     []string `json:"extra,omitempty"`
	Different []string `json:"different,omitempty"`
	// DifferingBuckets is how many buckets were drilled into.
	DifferingBuckets int `json:"differing_buckets,omitempty"`
	// Note explains a whole-table comparison.
	Note string `json:"note,omitempty"`
}

// TextSession makes the text form of every value identical on two
// servers whatever their configured defaults (dates, intervals, time zone,
// floats, bytea): run it on both sessions before comparing or moving rows
// as text.
const TextSession = "SET DateStyle = ISO, YMD; SET IntervalStyle = postgres; SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET bytea_output = hex"

// RowChecksum is an aggregate over rows of the given columns that is the
// same on two servers exactly when they hold the same rows (up to a 64-bit
// hash collision), whatever their order: the sum of a 64-bit hash of each
// row's text. Run TextSession on both sides first.
func RowChecksum(cols []string) string {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	return "coalesce(sum(hashtextextended(ROW(" + strings.Join(quoted, ", ") + ")::text, 0)), 0)::text"
}

// VerifyTable compares a table on source and target. Each side is first
// read once for a whole-table count and checksum; when they differ, rows
// are put in hash buckets by primary key (stable whatever other rows
// exist) and each side is read for per-bucket counts and checksums; only
// buckets that differ are read again, row by row, and compared by key
// equality in Go (no ordering, so collations never matter).
func VerifyTable(ctx context.Context, src, dst *pgx.Conn, req VerifyRequest) (VerifyResult, error) {
	for _, c := range []*pgx.Conn{src, dst} {
		if _, err := c.Exec(ctx, TextSession); err != nil {
			return VerifyResult{}, fmt.Errorf("verify: session settings: %w", err)
		}
	}
	if req.Buckets <= 0 {
		req.Buckets = 256
	}
	if req.MaxKeys <= 0 {
		req.MaxKeys = 20
	}
	table := pgx.Identifier{req.Schema, req.Table}.Sanitize()
	cols := make([]string, len(req.Columns))
	for i, c := range req.Columns {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	rowHash := "md5(ROW(" + strings.Join(cols, ", ") + ")::text)"
	sum := RowChecksum(req.Columns)
	where := func(filter string) string {
		if filter == "" {
			return ""
		}
		return " WHERE (" + filter + ")"
	}
	// The common case, an equal table, costs one scan per side: a
	// whole-table count and checksum. Only a difference is bucketed.
	whole := func(conn *pgx.Conn, filter string) (n int64, checksum string, err error) {
		err = conn.QueryRow(ctx, "SELECT count(*), "+sum+" FROM "+table+where(filter)).Scan(&n, &checksum)
		return n, checksum, err
	}
	var sn, tn int64
	var ssum, tsum string
	var wg errgroup.Group
	wg.Go(func() (err error) {
		if sn, ssum, err = whole(src, req.SourceFilter); err != nil {
			err = fmt.Errorf("verify %s on source: %w", table, err)
		}
		return err
	})
	wg.Go(func() (err error) {
		if tn, tsum, err = whole(dst, ""); err != nil {
			err = fmt.Errorf("verify %s on target: %w", table, err)
		}
		return err
	})
	if err := wg.Wait(); err != nil {
		return VerifyResult{}, err
	}
	equal := sn == tn && ssum == tsum
	if len(req.PrimaryKey) == 0 {
		return VerifyResult{SourceRows: sn, TargetRows: tn, Equal: equal,
			Note: "no primary key: whole-table count and checksum, no key list"}, nil
	}
	if equal {
		return VerifyResult{SourceRows: sn, TargetRows: tn, Equal: true}, nil
	}
	pk := make([]string, len(req.PrimaryKey))
	for i, c := range req.PrimaryKey {
		pk[i] = pgx.Identifier{c}.Sanitize()
	}
	keyText := "ROW(" + strings.Join(pk, ", ") + ")::text"
	bucket := fmt.Sprintf("(abs(hashtext(%s)::bigint) %% %d)", keyText, req.Buckets)
	type agg struct {
		n   int64
		sum string
	}
	read := func(conn *pgx.Conn, filter string) (map[int64]agg, int64, error) {
		rows, err := conn.Query(ctx, "SELECT "+bucket+", count(*), "+sum+" FROM "+table+where(filter)+" GROUP BY 1")
		if err != nil {
			return nil, 0, err
		}
		out := map[int64]agg{}
		var total int64
		for rows.Next() {
			var b, n int64
			var s string
			if err := rows.Scan(&b, &n, &s); err != nil {
				return nil, 0, err
			}
			out[b] = agg{n, s}
			total += n
		}
		return out, total, rows.Err()
	}
	// Both sides are read at the same time.
	var sa, ta map[int64]agg
	var sTotal, tTotal int64
	var g errgroup.Group
	g.Go(func() (err error) {
		if sa, sTotal, err = read(src, req.SourceFilter); err != nil {
			err = fmt.Errorf("verify %s on source: %w", table, err)
		}
		return err
	})
	g.Go(func() (err error) {
		if ta, tTotal, err = read(dst, ""); err != nil {
			err = fmt.Errorf("verify %s on target: %w", table, err)
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return VerifyResult{}, err
	}
	res := VerifyResult{SourceRows: sTotal, TargetRows: tTotal, Equal: true}
	var differing []int64
	for b := int64(0); b < int64(req.Buckets); b++ {
		if sa[b] != ta[b] {
			differing = append(differing, b)
		}
	}
	if len(differing) == 0 {
		return res, nil
	}
	res.Equal, res.DifferingBuckets = false, len(differing)
	list := make([]string, len(differing))
	for i, b := range differing {
		list[i] = fmt.Sprint(b)
	}
	rowsOf := func(conn *pgx.Conn, filter string) (map[string]string, error) {
		cond := bucket + " IN (" + strings.Join(list, ",") + ")"
		w := " WHERE " + cond
		if filter != "" {
			w += " AND (" + filter + ")"
		}
		rows, err := conn.Query(ctx, "SELECT "+keyText+", "+rowHash+" FROM "+table+w)
		if err != nil {
			return nil, err
		}
		out := map[string]string{}
		for rows.Next() {
			var k, h string
			if err := rows.Scan(&k, &h); err != nil {
				return nil, err
			}
			out[k] = h
		}
		return out, rows.Err()
	}
	var sr, tr map[string]string
	g.Go(func() (err error) {
		if sr, err = rowsOf(src, req.SourceFilter); err != nil {
			err = fmt.Errorf("verify %s on source: %w", table, err)
		}
		return err
	})
	g.Go(func() (err error) {
		if tr, err = rowsOf(dst, ""); err != nil {
			err = fmt.Errorf("verify %s on target: %w", table, err)
		}
		return err
	})
	if err := g.Wait(); err != nil {
		return res, err
	}
	for k, h := range sr {
		th, ok := tr[k]
		switch {
		case !ok:
			res.Missing = append(res.Missing, k)
		case th != h:
			res.Different = append(res.Different, k)
		}
	}
	for k := range tr {
		if _, ok := sr[k]; !ok {
			res.Extra = append(res.Extra, k)
		}
	}
	for _, l := range []*[]string{&res.Missing, &res.Extra, &res.Different} {
		sort.Strings(*l)
		if len(*l) > req.MaxKeys {
			*l = (*l)[:req.MaxKeys]
		}
	}
	return res, nil
}
