package xminsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/compare"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// errUniqueConflict is returned when a batch violates a unique constraint
// on the target that is not the primary key, even when applied as delete
// and insert: a row deleted on the source still holds the value there.
var errUniqueConflict = errors.New("unique constraint conflict on the target")

// maxBatchBytes caps the COPY text held for one batch.
const maxBatchBytes = 64 << 20

// cursorMove is the cursor position a batch commits with.
type cursorMove struct {
	goal    uint64
	lastKey []string
}

// changed reads the rows of t written in the transaction window cond (every
// row when full) and upserts them in batches, in primary-key order, after
// primary key resume when an earlier cycle stopped part way.
func (r *run) changed(ctx context.Context, t Table, cond string, full bool, goal uint64, resume []string) (int64, error) {
	var where []string
	if !full {
		if cond == "false" {
			return 0, nil // no transaction ended since the cursor
		}
		where = append(where, cond)
	}
	if strings.TrimSpace(t.Filter) != "" {
		where = append(where, "("+t.Filter+")")
	}
	if len(resume) > 0 && len(resume) == len(t.PrimaryKey) {
		where = append(where, t.keyAfter(resume))
	}
	pk := strings.Join(quoted(t.PrimaryKey), ", ")
	sel := "SELECT " + strings.Join(quoted(t.columnNames()), ", ") + " FROM " + t.relation()
	if len(where) > 0 {
		sel += " WHERE " + strings.Join(where, " AND ")
	}
	sel += " ORDER BY " + pk
	keyAt := t.keyPositions()
	return r.stream(ctx, sel, func(batch []byte, lines int64, last []byte) error {
		fields, err := copyFields(last)
		if err != nil {
			return err
		}
		key := make([]string, len(keyAt))
		for i, p := range keyAt {
			if p >= len(fields) || fields[p] == nil {
				return fmt.Errorf("primary key column %s is missing from a row", t.PrimaryKey[i])
			}
			key[i] = string(fields[p])
		}
		return r.applyBatch(ctx, t, batch, lines, &cursorMove{goal: goal, lastKey: key})
	})
}

// keyPositions returns the positions of the primary-key columns among the
// table's columns.
func (t Table) keyPositions() []int {
	out := make([]int, len(t.PrimaryKey))
	for i, k := range t.PrimaryKey {
		out[i] = -1
		for j, c := range t.Columns {
			if c.Name == k {
				out[i] = j
			}
		}
	}
	return out
}

// keyAfter renders "primary key > the given key" (row comparison, in the
// source's ordering).
func (t Table) keyAfter(key []string) string {
	vals := make([]string, len(key))
	for i, v := range key {
		vals[i] = conninfo.QuoteLiteral(v) + "::" + t.typeOf(t.PrimaryKey[i])
	}
	return "ROW(" + strings.Join(quoted(t.PrimaryKey), ", ") + ") > ROW(" + strings.Join(vals, ", ") + ")"
}

// stream runs a source SELECT as COPY TO inside the cycle's snapshot and
// hands its rows to apply in batches of Options.BatchSize.
func (r *run) stream(ctx context.Context, sel string, apply func(batch []byte, lines int64, last []byte) error) (int64, error) {
	tx, err := r.readerReady(ctx)
	if err != nil {
		return 0, err
	}
	b := &batcher{size: int64(r.opts.BatchSize), apply: apply}
	_, err = tx.Conn().PgConn().CopyTo(ctx, b, "COPY ("+sel+") TO STDOUT")
	if b.err != nil {
		return b.applied, b.err // the source connection was closed: reopened on next use
	}
	if err != nil {
		return b.applied, fmt.Errorf("source: %w", err)
	}
	if err := b.flush(); err != nil {
		return b.applied, err
	}
	return b.applied, nil
}

// batcher collects COPY text rows and applies them in batches.
type batcher struct {
	size    int64
	apply   func(batch []byte, lines int64, last []byte) error
	buf     bytes.Buffer
	partial []byte
	lines   int64
	last    []byte
	applied int64
	err     error
}

// Write implements io.Writer for CopyTo.
func (b *batcher) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			b.partial = append(b.partial, p...)
			break
		}
		line := p[:i+1]
		if len(b.partial) > 0 {
			b.partial = append(b.partial, line...)
			line = b.partial
		}
		b.buf.Write(line)
		b.last = append(b.last[:0], line...)
		b.lines++
		b.partial = b.partial[:0]
		p = p[i+1:]
		if b.lines >= b.size || b.buf.Len() >= maxBatchBytes {
			if err := b.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// flush applies the collected rows.
func (b *batcher) flush() error {
	if b.lines == 0 {
		return nil
	}
	if err := b.apply(b.buf.Bytes(), b.lines, b.last); err != nil {
		b.err = err
		return err
	}
	b.applied += b.lines
	b.buf.Reset()
	b.lines = 0
	return nil
}

// staging returns t's staging table on the target session, creating it:
// a temporary table with the copied columns, emptied at each commit.
func (r *run) staging(ctx context.Context, t Table) (string, error) {
	if name, ok := r.temp[t.Key]; ok {
		return name, nil
	}
	name := pgx.Identifier{fmt.Sprintf("xmin_stage_%d", len(r.temp))}.Sanitize()
	sql := "CREATE TEMP TABLE IF NOT EXISTS " + name + " ON COMMIT DELETE ROWS AS SELECT " +
		strings.Join(quoted(t.columnNames()), ", ") + " FROM " + t.relation() + " WITH NO DATA"
	if _, err := r.dst.Exec(ctx, sql); err != nil {
		return "", fmt.Errorf("target: staging table for %s: %w", t.Key, err)
	}
	r.temp[t.Key] = name
	return name, nil
}

// applyMode is how a batch is written.
type applyMode int

const (
	// upsert is INSERT … ON CONFLICT (primary key) DO UPDATE.
	upsert applyMode = iota
	// replace deletes the batch's keys, then inserts: it also applies a
	// batch in which two rows swapped a unique value.
	replace
)

// applyBatch writes one batch of COPY text rows to t on the target, with
// the cursor move in the same transaction. A unique-constraint conflict
// (not the primary key) makes it try once more as delete and insert.
func (r *run) applyBatch(ctx context.Context, t Table, data []byte, lines int64, move *cursorMove) error {
	stage, err := r.staging(ctx, t)
	if err != nil {
		return err
	}
	err = r.writeBatch(ctx, t, stage, data, move, upsert)
	if isUniqueViolation(err) {
		err = r.writeBatch(ctx, t, stage, data, move, replace)
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: %w", errUniqueConflict, err)
		}
	}
	if err != nil {
		return err
	}
	if r.opts.OnRows != nil {
		r.opts.OnRows(t.Key, lines, 0)
	}
	if r.stopped() {
		return ErrStopped
	}
	return nil
}

// writeBatch runs one batch transaction on the target.
func (r *run) writeBatch(ctx context.Context, t Table, stage string, data []byte, move *cursorMove, mode applyMode) error {
	tx, err := r.dst.Begin(ctx)
	if err != nil {
		return fmt.Errorf("target: begin: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // no-op after commit
	cols := strings.Join(quoted(t.columnNames()), ", ")
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data), "COPY "+stage+" ("+cols+") FROM STDIN"); err != nil {
		return fmt.Errorf("target: stage rows of %s: %w", t.Key, err)
	}
	insert := "INSERT INTO " + t.sqlName() + " (" + cols + ") OVERRIDING SYSTEM VALUE SELECT " + cols + " FROM " + stage
	switch mode {
	case upsert:
		insert += " ON CONFLICT (" + strings.Join(quoted(t.PrimaryKey), ", ") + ") " + t.onConflictUpdate()
	case replace:
		var eq []string
		for _, k := range quoted(t.PrimaryKey) {
			eq = append(eq, "t."+k+" = s."+k)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM "+t.relation()+" AS t USING "+stage+" AS s WHERE "+strings.Join(eq, " AND ")); err != nil {
			return fmt.Errorf("target: delete rows of %s before inserting them again: %w", t.Key, err)
		}
	}
	if _, err := tx.Exec(ctx, insert); err != nil {
		return fmt.Errorf("target: upsert into %s: %w", t.Key, err)
	}
	if move != nil {
		if _, err := tx.Exec(ctx, "UPDATE "+cursorTable+" SET cycle_target = $3, resume_after = $4 WHERE replication = $1 AND table_name = $2",
			r.opts.Replication, t.Key, int64(move.goal), move.lastKey); err != nil {
			return fmt.Errorf("target: move the xmin cursor of %s: %w", t.Key, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("target: commit a batch of %s: %w", t.Key, err)
	}
	return nil
}

// onConflictUpdate is the DO clause of the upsert.
func (t Table) onConflictUpdate() string {
	isKey := map[string]bool{}
	for _, k := range t.PrimaryKey {
		isKey[k] = true
	}
	var set []string
	for _, c := range t.Columns {
		if !isKey[c.Name] && !c.IdentityAlways {
			q := pgx.Identifier{c.Name}.Sanitize()
			set = append(set, q+" = EXCLUDED."+q)
		}
	}
	if len(set) == 0 {
		return "DO NOTHING"
	}
	return "DO UPDATE SET " + strings.Join(set, ", ")
}

// isUniqueViolation reports a unique_violation (23505).
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// noKeyTable syncs a table without a primary key: rows cannot be told
// apart by a key, so when any row was written since the cursor, the row
// counts differ (deletes) or, when reconciling, the whole-table checksums
// differ, the two sides are compared as multisets of rows and the
// difference is applied (multisetSync).
func (r *run) noKeyTable(ctx context.Context, t Table, cond string, full, reconcile bool) (diffed bool, inserted, deleted int64, err error) {
	tx, err := r.readerReady(ctx)
	if err != nil {
		return false, 0, 0, err
	}
	changed := full
	if !changed && cond != "false" {
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+t.relation()+" WHERE "+cond+")").Scan(&changed); err != nil {
			return false, 0, 0, fmt.Errorf("source: %w", err)
		}
	}
	if !changed {
		// Deleted rows leave no xmin behind, but they change the count.
		count := "SELECT count(*), '' FROM " + t.relation()
		if reconcile {
			count = "SELECT count(*), " + compare.RowChecksum(t.columnNames()) + " FROM " + t.relation()
		}
		sum := count
		var sn, tn int64
		var ss, ts string
		if err := tx.QueryRow(ctx, sum+where(t.Filter)).Scan(&sn, &ss); err != nil {
			return false, 0, 0, fmt.Errorf("source: %w", err)
		}
		if err := r.dst.QueryRow(ctx, sum).Scan(&tn, &ts); err != nil {
			return false, 0, 0, fmt.Errorf("target: %w", err)
		}
		changed = sn != tn || ss != ts
	}
	if !changed {
		return false, 0, 0, nil
	}
	// Rows written since the cursor narrow the comparison (see
	// multisetSync); a reconciliation, a full read or changes that show
	// only in the counts compare the whole table.
	window := cond
	if reconcile || full || cond == "false" {
		window = ""
	}
	inserted, deleted, err = r.multisetSync(ctx, t, window)
	return err == nil, inserted, deleted, err
}

// where renders a filter as a WHERE clause ("" for none).
func where(filter string) string {
	if strings.TrimSpace(filter) == "" {
		return ""
	}
	return " WHERE (" + filter + ")"
}
