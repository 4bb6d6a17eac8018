package datacopy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
)

// copyChecksum is an order-independent digest of a table's rows as text,
// read with fixed session settings (the text of timestamptz depends on
// TimeZone), plus the row count.
func copyChecksum(t *testing.T, conn *pgx.Conn, table, orderBy string) (string, int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3"); err != nil {
		t.Fatal(err)
	}
	var sum *string
	var n int64
	q := fmt.Sprintf("SELECT md5(string_agg(x::text, ',' ORDER BY %s)), count(*) FROM %s x", orderBy, table)
	if err := conn.QueryRow(ctx, q).Scan(&sum, &n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if sum == nil {
		return "", n
	}
	return *sum, n
}

// copySameRows fails unless the table has the same rows on both sides.
func copySameRows(t *testing.T, src, dst *pgx.Conn, table, orderBy string, wantRows int64) {
	t.Helper()
	ss, sn := copyChecksum(t, src, table, orderBy)
	ds, dn := copyChecksum(t, dst, table, orderBy)
	if ss != ds || sn != dn || dn != wantRows {
		t.Fatalf("%s: source %d rows %s, target %d rows %s, want %d rows", table, sn, ss, dn, ds, wantRows)
	}
}

// The awkward names: mixed case, spaces, quotes, unicode.
const (
	copyTestSchema = `Mixed "Schema" ü`
	copyTestTable  = `Tab le 'x' "é"`
)

const copyTypesDDL = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy ''quoted''');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE SCHEMA %[1]s;
CREATE TABLE %[1]s.%[2]s (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	m mood,
	d posint,
	ia int[],
	ta text[],
	ma int[][],
	j json,
	jb jsonb,
	r int4range,
	tr tstzrange,
	ip inet,
	net cidr,
	iv interval,
	n numeric,
	b bytea,
	big text,
	t text,
	"Weird ""col"" ñ" text,
	g int GENERATED ALWAYS AS (coalesce(length(t), -1) + 1) STORED,
	ts timestamptz,
	tsz timestamp,
	dt date,
	tm timetz,
	f8 float8,
	f4 real,
	u uuid,
	bits bit varying(10),
	x xml,
	pt point,
	money_ money,
	c char(5)
);`

// TestCopyEveryType copies every kind of column (rule 10) between two
// clusters whose sessions disagree on TimeZone, DateStyle, IntervalStyle
// and extra_float_digits.
func TestCopyEveryType(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, dst := pgtest.Start(t), pgtest.Start(t)
	src.CreateDatabase(t, "app")
	dst.CreateDatabase(t, "app")
	qs, qt := pgx.Identifier{copyTestSchema}.Sanitize(), pgx.Identifier{copyTestTable}.Sanitize()
	full := qs + "." + qt
	ddl := fmt.Sprintf(copyTypesDDL, qs, qt)
	src.Exec(t, "app", ddl)
	dst.Exec(t, "app", ddl)
	src.Exec(t, "app", `INSERT INTO `+full+` (m, d, ia, ta, ma, j, jb, r, tr, ip, net, iv, n, b, big, t, "Weird ""col"" ñ", ts, tsz, dt, tm, f8, f4, u, bits, x, pt, money_, c) VALUES
	('happy ''quoted''', 7, '{1,NULL,3}', '{"a b",NULL,"NULL","",  "q\"uote", "back\\slash", "new
line"}', '{{1,2},{3,4}}',
	 '{"b": 1,  "a": [1, 2], "a": "dup"}', '{"z": {"y": [null, true, 1.5e300]}, "k": "\u00e9\t"}',
	 '[1,10)', '[2024-03-10 01:30:00+00, 2024-11-03 06:00:00-05)', '2001:db8::1/64', '10.0.0.0/8',
	 '1 year 2 mons -3 days 04:05:06.789', (repeat('9', 500) || '.' || repeat('1', 500))::numeric, '\x00010200ff00'::bytea,
	 NULL, 'tab	and
newline and \ backslash', 'wéird', '1999-12-31 23:59:59.999999+13:45', '2000-02-29 12:00', '0044-03-15 BC', '23:59:59+14',
	 0.1 + 0.2, 1.17549435e-38, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', B'10101', '<a x="1">t &amp; u</a>', '(1.5,-2)', 12.34, 'ab'),
	(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	('sad', 1, '{}', '{}', '{}', '""', '[]', 'empty', '(,)', '0.0.0.0', '::/0', '0', 'NaN', '', '', '', '', 'infinity', '-infinity', 'infinity', '00:00+00', 'NaN', '-Infinity', '00000000-0000-0000-0000-000000000000', B'', '', '(0,0)', 0, ''),
	('ok', 2147483647, '{-2147483648}', '{"\\N"}', NULL, 'null', 'null', '(,5]', '[-infinity,infinity]', '255.255.255.255/32', '192.168.0.0/16', '-178000000 years', ('-0.' || repeat('0', 999) || '1')::numeric, decode(repeat('00', 1000), 'hex'),
	 (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 32768) g), 'x', NULL, '1970-01-01 00:00:00+00', '1970-01-01', '4713-01-01 BC', '12:00:00.000001-15:59', 1e308, 3.4e38, NULL, B'1111111111', NULL, NULL, -92233720368547758.08, NULL)`)
	if n := src.QueryInt(t, "app", `SELECT length(big) FROM `+full+` WHERE big IS NOT NULL AND length(big) > 100`); n != 1<<20 {
		t.Fatalf("big text is %d bytes", n)
	}
	// The 1 MB value is TOASTed out of line.
	if n := src.QueryInt(t, "app", fmt.Sprintf(`SELECT count(*) FROM pg_class c JOIN pg_class tc ON tc.oid = c.reltoastrelid
		WHERE c.oid = %s::regclass AND pg_relation_size(tc.oid) > 0`, conninfo.QuoteLiteral(full))); n != 1 {
		t.Fatal("big value not TOASTed")
	}

	srcConn, dstConn := src.Connect(t, "app"), dst.Connect(t, "app")
	// Hostile and different session settings on the two sides.
	if _, err := srcConn.Exec(ctx, `SET TimeZone = 'Asia/Kolkata'; SET DateStyle = 'SQL, DMY'; SET IntervalStyle = 'sql_standard'; SET extra_float_digits = -15; SET bytea_output = 'escape'`); err != nil {
		t.Fatal(err)
	}
	if _, err := dstConn.Exec(ctx, `SET TimeZone = 'America/St_Johns'; SET DateStyle = 'Postgres, MDY'; SET IntervalStyle = 'iso_8601'`); err != nil {
		t.Fatal(err)
	}
	var progBytes, progRows int64
	var calls int
	stats, err := CopyTable(ctx, srcConn, dstConn, CopyRequest{Schema: copyTestSchema, Table: copyTestTable}, func(rows, bytes int64) {
		progRows += rows
		progBytes += bytes
		calls++
	})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Rows != 4 || progRows != 4 || progBytes != stats.Bytes || stats.Bytes < 1<<20 || calls == 0 {
		t.Fatalf("stats %+v, progress rows %d bytes %d in %d calls", stats, progRows, progBytes, calls)
	}
	// An enum and a domain (user-defined types) keep the table in text.
	if stats.Binary {
		t.Fatal("copied in binary with an enum and a domain column")
	}
	copySameRows(t, srcConn, dstConn, full, "id", 4)
	copyBuiltinColumnsInBinary(ctx, t, srcConn, dstConn, full)
	copyRegclassInText(ctx, t, src, dst)
	copyOtherTargetTypeInText(ctx, t, src, dst)
	// The generated column was regenerated by the target.
	if n := dst.QueryInt(t, "app", `SELECT count(*) FROM `+full+` WHERE g IS DISTINCT FROM coalesce(length(t), -1) + 1`); n != 0 {
		t.Fatal("generated column wrong on the target")
	}
	// NULL and empty string stayed apart.
	if n := dst.QueryInt(t, "app", `SELECT count(*) FROM `+full+` WHERE t = ''`); n != 1 {
		t.Fatalf("%d empty strings, want 1", n)
	}
	// json kept its text (whitespace, duplicate keys), compared as text.
	var j string
	if err := dstConn.QueryRow(ctx, `SELECT j::text FROM `+full+` WHERE id = 1`).Scan(&j); err != nil || j != `{"b": 1,  "a": [1, 2], "a": "dup"}` {
		t.Fatalf("json = %q, %v", j, err)
	}
	// Identity values kept as they were.
	if n := dst.QueryInt(t, "app", `SELECT sum(id) FROM `+full); n != 1+2+3+4 {
		t.Fatalf("ids sum %d", n)
	}
}

func TestCopyEmptyFilterAndFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, dst := pgtest.Start(t), pgtest.Start(t)
	src.CreateDatabase(t, "app")
	dst.CreateDatabase(t, "app")
	ddl := `CREATE TABLE empty (id int PRIMARY KEY, v text);
		CREATE TABLE t (id int PRIMARY KEY, v text);
		CREATE TABLE parent (id int, v text);
		CREATE TABLE child (extra int) INHERITS (parent);
		CREATE TABLE parted (id int, v text) PARTITION BY RANGE (id);
		CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (50);
		CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (50) TO (1000);`
	src.Exec(t, "app", ddl)
	dst.Exec(t, "app", ddl)
	src.Exec(t, "app", `INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 100) g;
		INSERT INTO parent VALUES (1, 'p');
		INSERT INTO child VALUES (2, 'c', 9);
		INSERT INTO parted SELECT g, 'x' FROM generate_series(1, 100) g`)
	srcConn, dstConn := src.Connect(t, "app"), dst.Connect(t, "app")

	t.Run("empty", func(t *testing.T) {
		// No rows; the binary format still streams its 21 bytes of header
		// and trailer (the text format nothing).
		var progRows, progBytes int64
		stats, err := CopyTable(ctx, srcConn, dstConn, CopyRequest{Schema: "public", Table: "empty"}, func(rows, bytes int64) { progRows += rows; progBytes += bytes })
		if err != nil || stats.Rows != 0 || progRows != 0 || progBytes != stats.Bytes || (stats.Binary && stats.Bytes != 21) || (!stats.Binary && stats.Bytes != 0) {
			t.Fatalf("stats %+v, err %v, progress rows %d bytes %d", stats, err, progRows, progBytes)
		}
	})
	t.Run("filter", func(t *testing.T) {
		stats, err := CopyTable(ctx, srcConn, dstConn, CopyRequest{Schema: "public", Table: "t", Filter: "id % 2 = 0 OR v = 'v1'"}, nil)
		if err != nil || stats.Rows != 51 {
			t.Fatalf("stats %+v, err %v", stats, err)
		}
		if n := dst.QueryInt(t, "app", `SELECT count(*) FROM t WHERE id % 2 = 0 OR id = 1`); n != 51 {
			t.Fatalf("%d rows match the filter on the target", n)
		}
		if n := dst.QueryInt(t, "app", `SELECT count(*) FROM t`); n != 51 {
			t.Fatalf("%d rows on the target", n)
		}
	})
	t.Run("columns", func(t *testing.T) {
		dst.Exec(t, "app", "TRUNCATE t")
		if _, err := CopyTable(ctx, srcConn, dstConn, CopyRequest{Schema: "public", Table: "t", Columns: []string{"id"}}, nil); err != nil {
			t.Fatal(err)
		}
		if n := dst.QueryInt(t, "app", `SELECT count(*) FROM t WHERE v IS NULL`); n != 100 {
			t.Fatalf("%d rows with only id", n)
		}
	})
	t.Run("inheritance and partitions", func(t *testing.T) {
		if _, err := CopyTable(ctx, srcConn, dstConn, CopyRequest{Schema: "public", Table: "parent"}, nil); err != nil {
			t.Fatal(err)
		}
		if n := dst.QueryInt(t, "app", `SELECT count(*) FROM ONLY parent`); n != 1 {
			t.Fatalf("parent got %d rows, want only its own 1", n)
		}
		if _, err := CopyTable(ctx, srcConn, dstConn, CopyRequest{Schema: "public", Table: "parted"}, nil); err != nil {
			t.Fatal(err)
		}
		if n := dst.QueryInt(t, "app", `SELECT count(*) FROM parted_2`); n != 51 {
			t.Fatalf("parted_2 got %d rows", n)
		}
		_, err := CopyTable(ctx, srcConn, dstConn, CopyRequest{Schema: "public", Table: "parted", CTIDRange: &CTIDRange{0, 1}}, nil)
		if err == nil || !strings.Contains(err.Error(), "partitioned") {
			t.Fatalf("ctid split of a partitioned table: err = %v", err)
		}
	})
	t.Run("target fails: nothing left", func(t *testing.T) {
		dst.Exec(t, "app", "TRUNCATE t; ALTER TABLE t ADD CONSTRAINT no99 CHECK (id <> 99)")
		defer dst.Exec(t, "app", "ALTER TABLE t DROP CONSTRAINT no99")
		c := src.Connect(t, "app")
		_, err := CopyTable(ctx, c, dstConn, CopyRequest{Schema: "public", Table: "t"}, nil)
		if err == nil || !strings.Contains(err.Error(), "target") || !strings.Contains(err.Error(), "no99") {
			t.Fatalf("err = %v", err)
		}
		t.Logf("target failure: %v", err)
		if n := dst.QueryInt(t, "app", `SELECT count(*) FROM t`); n != 0 {
			t.Fatalf("%d rows left on the target", n)
		}
		if err := dstConn.Ping(ctx); err != nil {
			t.Fatalf("target connection unusable: %v", err)
		}
	})
	t.Run("source fails: nothing left", func(t *testing.T) {
		dst.Exec(t, "app", "TRUNCATE t")
		_, err := CopyTable(ctx, srcConn, dstConn, CopyRequest{Schema: "public", Table: "t", Filter: "1 / (id - 90) > -1000"}, nil)
		var pgErr interface{ SQLState() string }
		if err == nil || !strings.Contains(err.Error(), "source") || !errors.As(err, &pgErr) || pgErr.SQLState() != "22012" {
			t.Fatalf("err = %v", err)
		}
		t.Logf("source failure: %v", err)
		if n := dst.QueryInt(t, "app", `SELECT count(*) FROM t`); n != 0 {
			t.Fatalf("%d rows left on the target", n)
		}
		for _, c := range []*pgx.Conn{srcConn, dstConn} {
			if err := c.Ping(ctx); err != nil {
				t.Fatalf("connection unusable: %v", err)
			}
		}
	})
	t.Run("missing table", func(t *testing.T) {
		_, err := CopyTable(ctx, srcConn, dstConn, CopyRequest{Schema: "public", Table: "nope"}, nil)
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCopySplitByCTID(t *testing.T) {
	for _, tc := range []struct {
		blocks int64
		parts  int
		want   string
	}{
		{0, 4, "[[0,end)]"},
		{1, 4, "[[0,end)]"},
		{3, 4, "[[0,1) [1,2) [2,end)]"},
		{10, 4, "[[0,2) [2,5) [5,7) [7,end)]"},
		{100, 1, "[[0,end)]"},
		{100, 0, "[[0,end)]"},
	} {
		if got := fmt.Sprint(SplitByCTID(tc.blocks, tc.parts)); got != tc.want {
			t.Errorf("SplitByCTID(%d, %d) = %s, want %s", tc.blocks, tc.parts, got, tc.want)
		}
	}
}

// TestCopyParallelCTID copies ~20k-row tables (with and without a primary
// key) in 4 CTID parts in parallel inside one exported snapshot, while the
// source keeps changing.
func TestCopyParallelCTID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src, dst := pgtest.Start(t), pgtest.Start(t)
	src.CreateDatabase(t, "app")
	dst.CreateDatabase(t, "app")
	ddl := `CREATE TABLE pk (id int PRIMARY KEY, v text, pad text);
		CREATE TABLE nopk (id int, v text, pad text);`
	src.Exec(t, "app", ddl)
	dst.Exec(t, "app", ddl)
	for _, tb := range []string{"pk", "nopk"} {
		src.Exec(t, "app", `INSERT INTO `+tb+` SELECT g, 'v' || g, repeat('p', g % 200) FROM generate_series(1, 20000) g;
			DELETE FROM `+tb+` WHERE id % 7 = 0;
			UPDATE `+tb+` SET v = v || ' updated' WHERE id % 11 = 0`)
	}
	// Identical rows: only a multiset comparison can tell them apart.
	src.Exec(t, "app", `INSERT INTO nopk SELECT 1, 'dup', 'same' FROM generate_series(1, 50)`)
	src.Exec(t, "app", "VACUUM ANALYZE pk")
	src.Exec(t, "app", "VACUUM ANALYZE nopk")

	srcCheck := src.Connect(t, "app")
	type want struct {
		sum string
		n   int64
	}
	wants := map[string]want{}
	for _, tb := range []string{"pk", "nopk"} {
		s, n := copyChecksum(t, srcCheck, tb, "x::text")
		wants[tb] = want{s, n}
	}

	held, err := snapshot.Export(ctx, mustParse(t, src.URL("app")))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close(ctx)
	// Changes after the snapshot: none of them may be copied.
	for _, tb := range []string{"pk", "nopk"} {
		src.Exec(t, "app", `INSERT INTO `+tb+` SELECT g, 'late', '' FROM generate_series(30001, 35000) g;
			UPDATE `+tb+` SET v = 'late update' WHERE id % 13 = 0;
			DELETE FROM `+tb+` WHERE id % 17 = 0`)
	}

	const parts = 4
	srcConns, dstConns := make([]*pgx.Conn, parts), make([]*pgx.Conn, parts)
	for i := range parts {
		srcConns[i], dstConns[i] = src.Connect(t, "app"), dst.Connect(t, "app")
	}
	for _, tb := range []string{"pk", "nopk"} {
		blocks, err := TableBlocks(ctx, srcCheck, "public", tb)
		if err != nil {
			t.Fatal(err)
		}
		ranges := SplitByCTID(blocks, parts)
		if len(ranges) != parts {
			t.Fatalf("%s: %d blocks split into %v", tb, blocks, ranges)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var total CopyStats
		var progBytes int64
		errs := make([]error, parts)
		for i, r := range ranges {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := CopyTable(ctx, srcConns[i], dstConns[i], CopyRequest{
					Schema: "public", Table: tb, Snapshot: held.Name, CTIDRange: &r,
				}, func(_, b int64) {
					mu.Lock()
					progBytes += b
					mu.Unlock()
				})
				errs[i] = err
				mu.Lock()
				total.Rows += st.Rows
				total.Bytes += st.Bytes
				mu.Unlock()
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		dstCheck := dst.Connect(t, "app")
		s, n := copyChecksum(t, dstCheck, tb, "x::text")
		if s != wants[tb].sum || n != wants[tb].n || total.Rows != n || progBytes != total.Bytes {
			t.Fatalf("%s: target %d rows %s, want %d rows %s; copied %+v, progress bytes %d",
				tb, n, s, wants[tb].n, wants[tb].sum, total, progBytes)
		}
		t.Logf("%s: %d blocks in %v, %d rows, %d bytes", tb, blocks, ranges, total.Rows, total.Bytes)
	}
	if n := dst.QueryInt(t, "app", `SELECT count(*) - count(DISTINCT id) FROM pk`); n != 0 {
		t.Fatalf("%d duplicate ids", n)
	}
}

// A Freeze copy into an empty table writes every page frozen; into a table
// with rows, or one a foreign key points at, it copies without FREEZE and
// loses nothing.
func TestCopyFreeze(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, dst := pgtest.Start(t), pgtest.Start(t)
	ddl := `CREATE TABLE a (id int PRIMARY KEY, v text);
		CREATE TABLE b (id int PRIMARY KEY, v text);
		CREATE TABLE refd (id int PRIMARY KEY);
		CREATE TABLE refs (id int REFERENCES refd)`
	src.Exec(t, "postgres", ddl)
	dst.Exec(t, "postgres", ddl)
	dst.Exec(t, "postgres", "CREATE EXTENSION pg_visibility; INSERT INTO b VALUES (0, 'already here')")
	src.Exec(t, "postgres", `INSERT INTO a SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
		INSERT INTO b SELECT g, 'v' FROM generate_series(1, 100) g;
		INSERT INTO refd SELECT generate_series(1, 10)`)
	srcConn, dstConn := src.Connect(t, "postgres"), dst.Connect(t, "postgres")
	for _, tc := range []struct {
		table      string
		rows       int64
		wantFrozen bool
	}{{"a", 20000, true}, {"b", 101, false}, {"refd", 10, false}} {
		if _, err := CopyTable(ctx, srcConn, dstConn, CopyRequest{Schema: "public", Table: tc.table, Freeze: true}, nil); err != nil {
			t.Fatalf("copy %s: %v", tc.table, err)
		}
		if n := dst.QueryInt(t, "postgres", "SELECT count(*) FROM "+tc.table); n != tc.rows {
			t.Errorf("%s has %d rows, want %d", tc.table, n, tc.rows)
		}
		notFrozen := dst.QueryInt(t, "postgres", "SELECT count(*) FROM pg_visibility_map('"+tc.table+"') WHERE NOT all_frozen")
		if (notFrozen == 0) != tc.wantFrozen {
			t.Errorf("%s: %d pages not frozen, want frozen %v", tc.table, notFrozen, tc.wantFrozen)
		}
	}
}

// copyBuiltinColumnsInBinary copies the built-in columns of the every-type
// table again: all of them are binary safe between two servers of one
// major version, so they go in the binary format, with the same values and
// the same progress counts.
func copyBuiltinColumnsInBinary(ctx context.Context, t *testing.T, srcConn, dstConn *pgx.Conn, full string) {
	t.Helper()
	cols := []string{"id", "ia", "ta", "ma", "j", "jb", "r", "tr", "ip", "net", "iv", "n", "b", "big", "t", "Weird \"col\" ñ",
		"ts", "tsz", "dt", "tm", "f8", "f4", "u", "bits", "x", "pt", "money_", "c"}
	if _, err := dstConn.Exec(ctx, "TRUNCATE "+full); err != nil {
		t.Fatal(err)
	}
	var progRows int64
	stats, err := CopyTable(ctx, srcConn, dstConn, CopyRequest{Schema: copyTestSchema, Table: copyTestTable, Columns: cols},
		func(rows, _ int64) { progRows += rows })
	if err != nil {
		t.Fatal(err)
	}
	if !stats.Binary || stats.Rows != 4 || progRows != 4 {
		t.Fatalf("stats %+v, progress rows %d: want 4 rows in binary", stats, progRows)
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	projection := "(SELECT " + strings.Join(quoted, ", ") + " FROM " + full + ")"
	copySameRows(t, srcConn, dstConn, projection, "id", 4)

	// TextOnly keeps the text format for the same columns.
	if _, err := dstConn.Exec(ctx, "TRUNCATE "+full); err != nil {
		t.Fatal(err)
	}
	stats, err = CopyTable(ctx, srcConn, dstConn, CopyRequest{Schema: copyTestSchema, Table: copyTestTable, Columns: cols, TextOnly: true}, nil)
	if err != nil || stats.Binary || stats.Rows != 4 {
		t.Fatalf("text only: stats %+v, %v", stats, err)
	}
	copySameRows(t, srcConn, dstConn, projection, "id", 4)
}

// copyRegclassInText: a reg* column holds an OID of its server in the
// binary format; in text it is copied by name, so it names the same table
// on a target where that table has another OID.
func copyRegclassInText(ctx context.Context, t *testing.T, src, dst *pgtest.Cluster) {
	t.Helper()
	dst.Exec(t, "app", "CREATE TABLE shifts_the_oids (x int)")
	for _, c := range []*pgtest.Cluster{src, dst} {
		c.Exec(t, "app", "CREATE TABLE referenced (x int); CREATE TABLE refs (id int, r regclass, rs regclass[])")
	}
	src.Exec(t, "app", "INSERT INTO refs VALUES (1, 'referenced', ARRAY['referenced'::regclass])")
	if src.QueryInt(t, "app", "SELECT 'referenced'::regclass::oid::int") == dst.QueryInt(t, "app", "SELECT 'referenced'::regclass::oid::int") {
		t.Fatal("the table has the same OID on both sides: the test shows nothing")
	}
	stats, err := CopyTable(ctx, src.Connect(t, "app"), dst.Connect(t, "app"), CopyRequest{Schema: "public", Table: "refs"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Binary || stats.Rows != 1 {
		t.Fatalf("stats %+v: want one row in text", stats)
	}
	if n := dst.QueryInt(t, "app", "SELECT count(*) FROM refs WHERE r = 'referenced'::regclass AND rs = ARRAY['referenced'::regclass]"); n != 1 {
		t.Fatal("the regclass values do not name the referenced table on the target")
	}
}

func TestMajorVersion(t *testing.T) {
	for v, want := range map[string]string{
		"15.18 (Debian 15.18-0+deb12u1)": "15", "13.4": "13", "9.6.24": "9.6", "16beta1": "16", "": "", "devel": "",
	} {
		if got := majorVersion(v); got != want {
			t.Errorf("majorVersion(%q) = %q, want %q", v, got, want)
		}
	}
}

// copyOtherTargetTypeInText: a target column of another type than the
// source's (int into bigint, which text converts and binary cannot) keeps
// the table in text.
func copyOtherTargetTypeInText(ctx context.Context, t *testing.T, src, dst *pgtest.Cluster) {
	t.Helper()
	src.Exec(t, "app", "CREATE TABLE widened (id int, v text); INSERT INTO widened SELECT g, 'v' || g FROM generate_series(1, 50) g")
	dst.Exec(t, "app", "CREATE TABLE widened (id bigint, v text)")
	stats, err := CopyTable(ctx, src.Connect(t, "app"), dst.Connect(t, "app"), CopyRequest{Schema: "public", Table: "widened"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Binary || stats.Rows != 50 {
		t.Fatalf("stats %+v: want 50 rows in text", stats)
	}
	if n := dst.QueryInt(t, "app", "SELECT sum(id) FROM widened WHERE v = 'v' || id"); n != 50*51/2 {
		t.Fatalf("sum of ids %d", n)
	}
}
