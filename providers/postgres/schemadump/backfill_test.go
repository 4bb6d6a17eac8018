package schemadump

import (
	"context"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// Columns added on the source whose older rows store their own values
// (no default, a volatile one, or the table rewritten since the ADD
// COLUMN) are filled in the target's rows from the source's, by a
// composite primary key, over more than one batch, with values that
// must survive the text round trip; a table without a primary key keeps
// them NULL and is warned about.
func TestApplyDDLBackfillsNewColumns(t *testing.T) {
	c := pgtest.Start(t)
	ctx := testCtx(t)
	const base = `
CREATE TABLE t (k1 int, k2 text, v int, PRIMARY KEY (k1, k2));
INSERT INTO t SELECT g, 'k ' || g % 7, g FROM generate_series(1, 2500) g;
CREATE TABLE nokey (id int, v int);
INSERT INTO nokey SELECT g, g FROM generate_series(1, 10) g;`
	for _, db := range []string{"src", "dst"} {
		c.CreateDatabase(t, db)
		c.Exec(t, db, base)
	}
	c.Exec(t, "src", `
ALTER TABLE t ADD COLUMN a timestamptz DEFAULT '2024-05-06 07:08:09.123456+02',
              ADD COLUMN b interval DEFAULT '1 day 02:03:04.5',
              ADD COLUMN c bytea DEFAULT '\x00ff27',
              ADD COLUMN d float8 DEFAULT random(),
              ADD COLUMN e text[] DEFAULT '{"x, y",NULL,"q''"}',
              ADD COLUMN f jsonb DEFAULT '{"a": [1, "é"]}',
              ADD COLUMN g int;
UPDATE t SET g = k1 * 3 WHERE k1 % 5 = 0;
ALTER TABLE t ALTER COLUMN v TYPE bigint;
ALTER TABLE nokey ADD COLUMN x int DEFAULT 1;
ALTER TABLE nokey ALTER COLUMN v TYPE bigint;`)
	c.Exec(t, "dst", "ALTER TABLE t ALTER COLUMN v TYPE bigint; ALTER TABLE nokey ALTER COLUMN v TYPE bigint")
	src, dst := mustParse(t, c.URL("src")), mustParse(t, c.URL("dst"))
	defs, err := ColumnDefinitions(ctx, src, map[QualifiedName][]string{
		{"public", "t"}: {"a", "b", "c", "d", "e", "f", "g"}, {"public", "nokey"}: {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		if d.Missing != "" {
			t.Fatalf("%s.%s: the rewrite should have cleared attmissingval, got %s", d.Table, d.Name, d.Missing)
		}
	}
	var warnings []string
	if err := ApplyDDL(ctx, src, dst, nil, defs, func(m string) { warnings = append(warnings, m) }); err != nil {
		t.Fatal(err)
	}
	sum := func(db string) string {
		conn := c.Connect(t, db)
		defer conn.Close(context.Background())
		var s string
		if _, err := conn.Exec(ctx, "SET TimeZone = UTC"); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "SELECT md5(string_agg(t::text, ',' ORDER BY k1, k2)) FROM t").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s, d := sum("src"), sum("dst"); s != d {
		t.Errorf("rows of t differ after the backfill: source %s, target %s", s, d)
	}
	if n := c.QueryInt(t, "dst", "SELECT count(*) FROM t WHERE d IS NULL OR a IS NULL OR e IS NULL"); n != 0 {
		t.Errorf("%d target rows were not filled", n)
	}
	if n := c.QueryInt(t, "dst", "SELECT count(*) FROM t WHERE g IS NOT NULL"); n != 500 {
		t.Errorf("g is set in %d target rows, want 500", n)
	}
	if n := c.QueryInt(t, "dst", "SELECT count(*) FROM nokey WHERE x IS NULL"); n != 10 {
		t.Errorf("nokey.x: %d NULL rows, want 10 (no key to match them)", n)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `"nokey" has no primary key`) {
		t.Errorf("warnings %q", warnings)
	}
}
