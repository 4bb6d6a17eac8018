package datacopy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
	"github.com/jackc/pgx/v5"
)

// CopyRequest says which rows of one table CopyTable moves.
type CopyRequest struct {
	Schema, Table string // literal names (quoted by CopyTable)
	// TargetSchema and TargetTable name the table on the target when it
	// is remapped there; "" means the source's name.
	TargetSchema, TargetTable string
	// Filter is an SQL boolean expression over the table's columns
	// (a row filter); "" copies every row.
	Filter string
	// Snapshot is an exported snapshot name the source transaction imports
	// with SET TRANSACTION SNAPSHOT; "" reads the source's current data.
	Snapshot string
	// CTIDRange limits the copy to a range of heap blocks; nil copies the
	// whole table.
	CTIDRange *CTIDRange
	// Columns is an explicit column list; nil means every column of the
	// source table that is not generated, in attnum order (generated
	// columns cannot be COPYed in: the target regenerates them).
	Columns []string
	// Truncate empties the target table in the copy's transaction first,
	// so that readers see the old rows until the new ones commit (a table
	// copied again). A refused TRUNCATE fails the copy.
	Truncate bool
	// Freeze writes the rows frozen and all-visible (COPY … WITH (FREEZE)
	// after a TRUNCATE in the copy's transaction), so the target never
	// rewrites the pages later to set hint bits or freeze them. Only when
	// the target table is empty (checked in the transaction); ignored for
	// partitioned tables, CTID ranges, and when the TRUNCATE is refused
	// (privilege, a foreign key pointing at the table).
	Freeze bool
	// TextOnly keeps the text format even where the binary one is safe
	// (see CopyTable).
	TextOnly bool
}

// CTIDRange is a range of heap blocks of a table: rows whose ctid is in
// [(FromBlock,0), (ToBlock,0)). ToBlock <= 0 means no upper bound, so a range
// {0, 0} is the whole table and {n, 0} is every block from n on.
type CTIDRange struct {
	FromBlock int64 // first block, inclusive
	ToBlock   int64 // first block not included; <= 0: open end
}

// String renders the range as "[from,to)" or "[from,end)".
func (r CTIDRange) String() string {
	if r.ToBlock <= 0 {
		return fmt.Sprintf("[%d,end)", r.FromBlock)
	}
	return fmt.Sprintf("[%d,%d)", r.FromBlock, r.ToBlock)
}

// condition renders the range as an SQL condition on ctid ("" when it
// covers the whole table).
func (r CTIDRange) condition() string {
	var c []string
	if r.FromBlock > 0 {
		c = append(c, fmt.Sprintf("ctid >= '(%d,0)'::tid", r.FromBlock))
	}
	if r.ToBlock > 0 {
		c = append(c, fmt.Sprintf("ctid < '(%d,0)'::tid", r.ToBlock))
	}
	return strings.Join(c, " AND ")
}

// CopyStats is what one CopyTable moved.
type CopyStats struct {
	Rows  int64 // rows inserted into the target
	Bytes int64 // bytes of COPY data streamed
	// Binary tells that the rows went in COPY's binary format.
	Binary bool
}

// Progress is reported at most this often, or every progressBytes.
const (
	progressInterval = 500 * time.Millisecond
	progressBytes    = 4 << 20
	progressCheck    = 256 << 10
)

// copyBufferSize is the buffer between the source's COPY rows and the
// target's COPY stream.
const copyBufferSize = 1 << 20

// CopyTable streams the source rows of req into the target table: source
// COPY (SELECT cols FROM table WHERE filter AND ctid range) TO STDOUT piped
// (io.Pipe, no intermediate file) into target COPY table (cols) FROM STDIN.
//
// The source side runs in a REPEATABLE READ, READ ONLY transaction set to
// req.Snapshot when it is not "" (a lost snapshot gives an error wrapping
// snapshot.ErrLost). The target side runs in one transaction committed at
// the end, so a failed copy leaves nothing behind. Both sessions use
// DateStyle ISO, IntervalStyle postgres and extra_float_digits 3 for the
// copy, so the text format round-trips every type whatever the sessions'
// settings (time zones included: ISO timestamptz carries its offset), and
// statement_timeout 0 so that a long copy is not cut off by a role default.
//
// The binary format is used when both servers are of the same major
// version and every copied column is of a built-in type with binary
// input and output that carries no OID of the server (not the reg* types,
// which the text format copies by name); any other column — an enum, a
// domain, a composite or another user-defined type, an array of one —
// makes the whole table go in the text format, as does req.TextOnly. The
// binary format saves the servers parsing and printing values (half the
// CPU of both sides for timestamps, bytea and numbers). The target table's
// columns must have the same types (checked in the copy's transaction; a
// column of another type, which text would convert, keeps the text
// format). Rows already in
// the target table stay (truncate first to re-copy).
//
// For a partitioned table the SELECT reads every partition (the rows are
// routed to the target's partitions); for other tables it reads ONLY that
// table, not inheritance children, which are tables of their own. A
// CTIDRange is refused for a partitioned table.
//
// onProgress, when not nil, is called from a goroutine of CopyTable (never
// concurrently for one call) with the rows and bytes moved since its
// previous call; the deltas add up to the totals in CopyStats (rows are
// counted from the COPY data: one line per row in the text format, one
// message per row in the binary one).
//
// If the target fails in the middle of the copy, the source connection is
// closed (a COPY TO cannot be abandoned otherwise); src and dst must not be
// used by others during the call.
func CopyTable(ctx context.Context, src, dst *pgx.Conn, req CopyRequest, onProgress func(rows, bytes int64)) (CopyStats, error) {
	name := pgx.Identifier{req.Schema, req.Table}.Sanitize()
	if req.CTIDRange != nil {
		name += " " + req.CTIDRange.String()
	}
	stats, err := copyTable(ctx, src, dst, req, onProgress)
	if err != nil {
		return stats, fmt.Errorf("copy %s: %w", name, err)
	}
	return stats, nil
}

// copySessionSettings make the COPY text format unambiguous between two
// sessions.
const copySessionSettings = `SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres'; ` +
	`SET LOCAL extra_float_digits = 3; SET LOCAL statement_timeout = 0`

func copyTable(ctx context.Context, src, dst *pgx.Conn, req CopyRequest, onProgress func(rows, bytes int64)) (CopyStats, error) {
	var stats CopyStats
	if req.Schema == "" || req.Table == "" {
		return stats, errors.New("schema and table are required")
	}
	stx, err := src.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return stats, fmt.Errorf("source: begin: %w", err)
	}
	defer stx.Rollback(context.Background()) //nolint:errcheck // read only; a no-op after commit
	if req.Snapshot != "" {
		if err := snapshot.Import(ctx, stx, req.Snapshot); err != nil {
			return stats, fmt.Errorf("source: %w", err)
		}
	}
	if _, err := stx.Exec(ctx, copySessionSettings); err != nil {
		return stats, fmt.Errorf("source: session settings: %w", err)
	}
	relkind, all, err := sourceColumns(ctx, stx, req.Schema, req.Table)
	if err != nil {
		return stats, fmt.Errorf("source: %w", err)
	}
	cols, types := columnsToCopy(all, req.Columns)
	if len(cols) == 0 {
		return stats, errors.New("no columns to copy")
	}
	binary := types != nil && !req.TextOnly && sameMajor(src, dst)
	if relkind == 'p' && req.CTIDRange != nil {
		return stats, errors.New("a partitioned table cannot be split by ctid: copy its partitions")
	}
	table := pgx.Identifier{req.Schema, req.Table}.Sanitize()
	colList := make([]string, len(cols))
	for i, c := range cols {
		colList[i] = pgx.Identifier{c}.Sanitize()
	}
	cl := strings.Join(colList, ", ")
	from := "ONLY " + table
	if relkind == 'p' {
		from = table
	}
	// into is the table on the target: the source's name, or the one it
	// is remapped to.
	into, intoFrom := table, from
	if req.TargetTable != "" {
		into = pgx.Identifier{req.TargetSchema, req.TargetTable}.Sanitize()
		intoFrom = "ONLY " + into
		if relkind == 'p' {
			intoFrom = into
		}
	}
	var where []string
	if strings.TrimSpace(req.Filter) != "" {
		where = append(where, "("+req.Filter+")")
	}
	if req.CTIDRange != nil {
		if c := req.CTIDRange.condition(); c != "" {
			where = append(where, c)
		}
	}
	selectSQL := "SELECT " + cl + " FROM " + from
	if len(where) > 0 {
		selectSQL += " WHERE " + strings.Join(where, " AND ")
	}
	copyOut := "COPY (" + selectSQL + ") TO STDOUT"
	copyIn := "COPY " + into + " (" + cl + ") FROM STDIN"

	dtx, err := dst.Begin(ctx)
	if err != nil {
		return stats, fmt.Errorf("target: begin: %w", err)
	}
	defer dtx.Rollback(context.Background()) //nolint:errcheck // a no-op after commit
	if _, err := dtx.Exec(ctx, copySessionSettings); err != nil {
		return stats, fmt.Errorf("target: session settings: %w", err)
	}
	var inOptions []string
	if req.Truncate {
		if req.CTIDRange != nil {
			return stats, errors.New("a CTID range of a table cannot empty the whole table")
		}
		if _, err := dtx.Exec(ctx, "TRUNCATE "+intoFrom); err != nil {
			return stats, fmt.Errorf("target: truncate to copy again: %w", err)
		}
	} else if req.Freeze && req.CTIDRange == nil && relkind != 'p' {
		frozen, err := truncateForFreeze(ctx, dtx, into)
		if err != nil {
			return stats, fmt.Errorf("target: %w", err)
		}
		if frozen {
			inOptions = append(inOptions, "FREEZE")
		}
	}
	if binary {
		if binary, err = sameTypesOnTarget(ctx, dtx, into, cols, types); err != nil {
			return stats, fmt.Errorf("target: %w", err)
		}
	}
	if binary {
		copyOut += " (FORMAT binary)"
		inOptions = append([]string{"FORMAT binary"}, inOptions...)
	}
	if len(inOptions) > 0 {
		copyIn += " WITH (" + strings.Join(inOptions, ", ") + ")"
	}

	pr, pw := io.Pipe()
	// The source writes one message per row: buffered, the pipe hands the
	// target large chunks instead of a goroutine switch per row.
	bw := bufio.NewWriterSize(pw, copyBufferSize)
	cw := &countingWriter{w: bw, onProgress: onProgress, last: time.Now(), binary: binary}
	type result struct {
		rows int64
		err  error
	}
	srcDone := make(chan result, 1)
	go func() {
		tag, err := stx.Conn().PgConn().CopyTo(ctx, cw, copyOut)
		if err == nil {
			err = bw.Flush()
		}
		cw.flush()
		pw.CloseWithError(err) // nil: EOF for the target
		srcDone <- result{tag.RowsAffected(), err}
	}()
	tag, dstErr := dtx.Conn().PgConn().CopyFrom(ctx, pr, copyIn)
	if dstErr != nil {
		// Stop the source: its next write fails and it gives up.
		pr.CloseWithError(errTargetFailed)
	}
	sr := <-srcDone
	stats = CopyStats{Rows: tag.RowsAffected(), Bytes: cw.total, Binary: binary}
	switch {
	case sr.err != nil && !errors.Is(sr.err, errTargetFailed):
		return stats, fmt.Errorf("source: %w", sr.err)
	case dstErr != nil:
		return stats, fmt.Errorf("target: %w", dstErr)
	}
	if sr.rows != tag.RowsAffected() {
		return stats, fmt.Errorf("source sent %d rows but the target took %d", sr.rows, tag.RowsAffected())
	}
	if err := dtx.Commit(ctx); err != nil {
		return stats, fmt.Errorf("target: commit: %w", err)
	}
	if err := stx.Commit(ctx); err != nil {
		return stats, fmt.Errorf("source: commit: %w", err)
	}
	return stats, nil
}

// truncateForFreeze empties an empty target table inside the copy's
// transaction, which is what COPY FREEZE requires; false (and no change)
// when the table holds rows or the TRUNCATE is refused.
func truncateForFreeze(ctx context.Context, tx pgx.Tx, table string) (bool, error) {
	var empty bool
	if err := tx.QueryRow(ctx, "SELECT NOT EXISTS (SELECT 1 FROM ONLY "+table+")").Scan(&empty); err != nil {
		return false, fmt.Errorf("check %s is empty: %w", table, err)
	}
	if !empty {
		return false, nil
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT copy_freeze"); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, "TRUNCATE ONLY "+table); err != nil {
		if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT copy_freeze"); rerr != nil {
			return false, rerr
		}
		return false, nil
	}
	if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT copy_freeze"); err != nil {
		return false, err
	}
	return true, nil
}

// errTargetFailed stops the source side of a copy when the target failed.
var errTargetFailed = errors.New("target copy failed")

// column is a column of a source table and whether COPY's binary format
// is safe for its type between two servers of the same major version.
type column struct {
	Name       string
	BinarySafe bool
	Type       uint32 // pg_type OID (built-in types have the same OID everywhere)
}

// binarySafeType is true for a type (pg_type t) whose binary form means the
// same on another server of the same major version: built in (an OID below
// 10000, which initdb assigns identically; arrays of built-in types are
// built in too), with binary input and output, and not one of the reg*
// types, whose binary form is an OID of the server they come from.
const binarySafeType = `(t.oid < 10000 AND t.typsend <> 0 AND t.typreceive <> 0 AND t.typname !~ '^_?reg')`

// columnsToCopy returns the names of the columns to copy — the explicit
// list when not nil, else every column — and, when all of them may go in
// the binary format, their types (nil otherwise, and when an explicit name
// is not among all).
func columnsToCopy(all []column, explicit []string) ([]string, []uint32) {
	byName := map[string]column{}
	var names []string
	for _, c := range all {
		byName[c.Name] = c
		names = append(names, c.Name)
	}
	if explicit != nil {
		names = explicit
	}
	types := make([]uint32, len(names))
	for i, n := range names {
		c, ok := byName[n]
		if !ok || !c.BinarySafe {
			return names, nil
		}
		types[i] = c.Type
	}
	return names, types
}

// sameTypesOnTarget is true when the target table's columns of these
// names have these types: the binary format carries no conversion (an int
// column of the source cannot go into a bigint one, as it can in text).
func sameTypesOnTarget(ctx context.Context, tx pgx.Tx, table string, names []string, types []uint32) (bool, error) {
	var differ int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM unnest($2::text[], $3::oid[]) AS c(name, typ)
		WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
			WHERE a.attrelid = $1::regclass AND a.attname = c.name AND a.atttypid = c.typ AND NOT a.attisdropped)`,
		table, names, types).Scan(&differ)
	if err != nil {
		return false, fmt.Errorf("compare column types of %s: %w", table, err)
	}
	return differ == 0, nil
}

// sameMajor is true when both servers report the same major version (from
// the server_version each sent at connection start: no round trip).
func sameMajor(src, dst *pgx.Conn) bool {
	a, b := majorVersion(src.PgConn().ParameterStatus("server_version")), majorVersion(dst.PgConn().ParameterStatus("server_version"))
	return a != "" && a == b
}

// majorVersion is the major part of a server_version: "15" of
// "15.18 (Debian …)", "9.6" of "9.6.24"; "" when it does not parse.
func majorVersion(v string) string {
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	if end == 0 {
		return ""
	}
	if v[:end] == "9" && end < len(v) && v[end] == '.' { // before 10: two parts
		minor := end + 1
		for minor < len(v) && v[minor] >= '0' && v[minor] <= '9' {
			minor++
		}
		return v[:minor]
	}
	return v[:end]
}

// sourceColumns returns the table's relkind and its columns that are not
// generated, in attnum order.
func sourceColumns(ctx context.Context, tx pgx.Tx, schema, table string) (byte, []column, error) {
	var relkind string
	var hasGenerated bool
	err := tx.QueryRow(ctx, `SELECT c.relkind::text,
		EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = 'pg_catalog.pg_attribute'::regclass AND attname = 'attgenerated')
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2`, schema, table).Scan(&relkind, &hasGenerated)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, fmt.Errorf("table %s does not exist", pgx.Identifier{schema, table}.Sanitize())
	}
	if err != nil {
		return 0, nil, fmt.Errorf("look up table: %w", err)
	}
	notGenerated := ""
	if hasGenerated { // PostgreSQL 12+
		notGenerated = " AND a.attgenerated = ''"
	}
	rows, err := tx.Query(ctx, `SELECT a.attname::text, `+binarySafeType+`, a.atttypid
		FROM pg_catalog.pg_attribute a
		JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
		WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`+notGenerated+`
		ORDER BY a.attnum`, schema, table)
	if err != nil {
		return 0, nil, fmt.Errorf("list columns: %w", err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowToStructByPos[column])
	if err != nil {
		return 0, nil, fmt.Errorf("list columns: %w", err)
	}
	return relkind[0], cols, nil
}

// countingWriter counts the bytes and rows (newlines: the text format
// escapes newlines inside values) going to the target and reports progress.
type countingWriter struct {
	w          io.Writer
	onProgress func(rows, bytes int64)
	// binary counts one row per Write (pgx writes one COPY message at a
	// time) but the first: it carries the format's header with the first
	// row, and the last message is the trailer.
	binary bool
	writes int64

	mu                  sync.Mutex
	total               int64
	pendRows, pendBytes int64
	checked             int64 // pendBytes when the clock was last read
	last                time.Time
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.mu.Lock()
	c.total += int64(n)
	c.pendBytes += int64(n)
	if c.binary {
		if c.writes > 0 {
			c.pendRows++
		}
		c.writes++
	} else {
		c.pendRows += int64(bytes.Count(p[:n], []byte{'\n'}))
	}
	// The clock is read only every progressCheck bytes: Write runs per row.
	report := c.onProgress != nil && (c.pendBytes >= progressBytes ||
		(c.pendBytes-c.checked >= progressCheck && time.Since(c.last) >= progressInterval))
	if c.pendBytes-c.checked >= progressCheck {
		c.checked = c.pendBytes
	}
	c.mu.Unlock()
	if report {
		c.flush()
	}
	return n, err
}

// flush reports what has not been reported yet.
func (c *countingWriter) flush() {
	c.mu.Lock()
	rows, b := c.pendRows, c.pendBytes
	c.pendRows, c.pendBytes, c.checked = 0, 0, 0
	c.last = time.Now()
	c.mu.Unlock()
	if c.onProgress != nil && (rows != 0 || b != 0) {
		c.onProgress(rows, b)
	}
}

// SplitByCTID plans up to parts block ranges covering a table of
// totalBlocks heap blocks, so that a big table (with or without a primary
// key) can be copied in parallel parts inside one snapshot. The first range
// starts at block 0 and the last one is open-ended, so blocks added after
// totalBlocks was measured are not missed. It returns one range {0, 0} (the
// whole table) when totalBlocks or parts is below 2.
func SplitByCTID(totalBlocks int64, parts int) []CTIDRange {
	if parts < 1 {
		parts = 1
	}
	if int64(parts) > totalBlocks {
		parts = int(max(totalBlocks, 1))
	}
	out := make([]CTIDRange, parts)
	for i := range out {
		out[i] = CTIDRange{
			FromBlock: totalBlocks * int64(i) / int64(parts),
			ToBlock:   totalBlocks * int64(i+1) / int64(parts),
		}
	}
	out[parts-1].ToBlock = 0
	return out
}

// TableBlocks returns the number of heap blocks of a table:
// pg_relation_size / block_size. Measure it inside the copy's snapshot (a
// transaction set to it) or right before splitting; with an open-ended last
// range (SplitByCTID) growth after the measurement is still copied.
func TableBlocks(ctx context.Context, conn *pgx.Conn, schema, table string) (int64, error) {
	var n int64
	err := conn.QueryRow(ctx, `SELECT pg_catalog.pg_relation_size(c.oid) / current_setting('block_size')::bigint
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2`, schema, table).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("table blocks of %s: table does not exist", pgx.Identifier{schema, table}.Sanitize())
	}
	if err != nil {
		return 0, fmt.Errorf("table blocks of %s: %w", pgx.Identifier{schema, table}.Sanitize(), err)
	}
	return n, nil
}
