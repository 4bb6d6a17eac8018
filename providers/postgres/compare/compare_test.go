package compare

import (
	"context"
	"fmt"
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// TestRowsDrillsDownIntoALargeDifference changes 3,000 of 60,000 rows on
// the target: the first bucket level still holds more than DrillRows rows
// in its differing buckets, so Rows splits them once more and then finds
// every differing key, capped only where asked.
func TestRowsDrillsDownIntoALargeDifference(t *testing.T) {
	src, dst := pgtest.Start(t), pgtest.Start(t)
	for _, c := range []*pgtest.Cluster{src, dst} {
		c.CreateDatabase(t, "c")
		c.Exec(t, "c", `CREATE TABLE t (a int, b text, v text, PRIMARY KEY (a, b))`)
		c.Exec(t, "c", `INSERT INTO t SELECT g, 'k ' || g, md5(g::text) FROM generate_series(1, 60000) g`)
	}
	// 1,000 missing, 1,000 different, 1,000 extra, spread over every bucket.
	dst.Exec(t, "c", `DELETE FROM t WHERE a % 60 = 1`)
	dst.Exec(t, "c", `UPDATE t SET v = 'changed' WHERE a % 60 = 2`)
	dst.Exec(t, "c", `INSERT INTO t SELECT g, 'new', 'x' FROM generate_series(100001, 101000) g`)
	ctx := context.Background()
	sc, dc := src.Connect(t, "c"), dst.Connect(t, "c")
	tbl := Table{Schema: "public", Name: "t", Columns: []string{"a", "b", "v"}, PrimaryKey: []string{"a", "b"}}
	res, err := Rows(ctx, sc, dc, tbl, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Equal || res.SourceRows != 60000 || res.TargetRows != 60000 {
		t.Fatalf("rows %d/%d equal %v", res.SourceRows, res.TargetRows, res.Equal)
	}
	if res.Level != 1 || res.DifferingBuckets < 2000 {
		t.Fatalf("level %d with %d differing buckets: want a drill-down to level 1", res.Level, res.DifferingBuckets)
	}
	if len(res.Missing) != 1000 || len(res.Different) != 1000 || len(res.Extra) != 1000 ||
		res.MissingCount != 1000 || res.DifferentCount != 1000 || res.ExtraCount != 1000 {
		t.Fatalf("missing %d different %d extra %d", len(res.Missing), len(res.Different), len(res.Extra))
	}
	for _, k := range res.Missing {
		var a int
		if _, err := fmt.Sscan(k[0], &a); err != nil || a%60 != 1 || k[1] != fmt.Sprint("k ", a) {
			t.Fatalf("missing key %q is not a deleted row", k)
		}
	}
	for _, k := range res.Different {
		var a int
		if _, err := fmt.Sscan(k[0], &a); err != nil || a%60 != 2 {
			t.Fatalf("different key %q is not an updated row", k)
		}
	}
	for _, k := range res.Extra {
		if k[1] != "new" {
			t.Fatalf("extra key %q is not an inserted row", k)
		}
	}
	// The cap keeps the first keys in text order; the counts stay exact.
	capped, err := Rows(ctx, sc, dc, tbl, Options{MaxKeys: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(capped.Missing) != 3 || capped.MissingCount != 1000 || capped.Missing[0].String() != res.Missing[0].String() ||
		capped.Missing[0].String() != `(1,"k 1")` {
		t.Fatalf("capped: %v (%d)", capped.Missing, capped.MissingCount)
	}
	// A single bucket level with everything listed finds the same.
	flat, err := Rows(ctx, sc, dc, tbl, Options{DrillRows: 1 << 40})
	if err != nil || flat.Level != 0 || flat.MissingCount != 1000 || flat.DifferentCount != 1000 || flat.ExtraCount != 1000 {
		t.Fatalf("one level: %+v %v", flat.Level, err)
	}
}

// TestKeyStringIsRowText checks Key.String against PostgreSQL's own
// ROW(...)::text for values that need quoting.
func TestKeyStringIsRowText(t *testing.T) {
	c := pgtest.Start(t)
	conn := c.Connect(t, "postgres")
	ctx := context.Background()
	for _, k := range []Key{{"a", "é10"}, {"", "x"}, {"a b", `q"uote`}, {`back\slash`, "(paren)"}, {"com,ma", "tab\tnl\n"}, {"t"}} {
		args := make([]any, len(k))
		ph := ""
		for i, v := range k {
			args[i] = v
			if i > 0 {
				ph += ", "
			}
			ph += fmt.Sprintf("$%d::text", i+1)
		}
		var want string
		if err := conn.QueryRow(ctx, "SELECT ROW("+ph+")::text", args...).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got := k.String(); got != want {
			t.Errorf("Key%q.String() = %q, PostgreSQL says %q", []string(k), got, want)
		}
	}
}
