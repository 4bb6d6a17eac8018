package compare

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// VerifyRequest names one table to compare.
type VerifyRequest struct {
	Schema, Table string
	// TargetSchema and TargetTable name the table on the target when it
	// is remapped; "" means Schema and Table.
	TargetSchema, TargetTable string
	// Columns are compared in this order on both sides (the source's).
	Columns []string
	// PrimaryKey is empty for a table without one (whole-table comparison).
	PrimaryKey []string
	// SourceFilter keeps only the rows that should be on the target.
	SourceFilter string
	// Buckets is the number of hash buckets per level (default 256).
	Buckets int
	// MaxKeys caps the differing keys listed per kind (default 20).
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

// VerifyTable compares a table on source and target with Rows (after
// TextSession on both connections) and reports the differing keys as
// ROW(primary key)::text, the first MaxKeys of each kind.
func VerifyTable(ctx context.Context, src, dst *pgx.Conn, req VerifyRequest) (VerifyResult, error) {
	for _, c := range []*pgx.Conn{src, dst} {
		if _, err := c.Exec(ctx, TextSession); err != nil {
			return VerifyResult{}, fmt.Errorf("verify: session settings: %w", err)
		}
	}
	if req.MaxKeys <= 0 {
		req.MaxKeys = 20
	}
	res, err := Rows(ctx, src, dst, Table{Schema: req.Schema, Name: req.Table, Columns: req.Columns,
		PrimaryKey: req.PrimaryKey, SourceFilter: req.SourceFilter, TargetSchema: req.TargetSchema, TargetName: req.TargetTable},
		Options{Fanout: req.Buckets, MaxKeys: req.MaxKeys})
	if err != nil {
		return VerifyResult{}, fmt.Errorf("verify: %w", err)
	}
	out := VerifyResult{SourceRows: res.SourceRows, TargetRows: res.TargetRows, Equal: res.Equal,
		DifferingBuckets: res.DifferingBuckets,
		Missing:          keyTexts(res.Missing), Extra: keyTexts(res.Extra), Different: keyTexts(res.Different)}
	if len(req.PrimaryKey) == 0 {
		out.Note = "no primary key: whole-table count and checksum, no key list"
	}
	return out, nil
}

// keyTexts renders keys as ROW(...)::text, nil for none.
func keyTexts(keys []Key) []string {
	if len(keys) == 0 {
		return nil
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.String()
	}
	return out
}
