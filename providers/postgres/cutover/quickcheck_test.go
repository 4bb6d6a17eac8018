package cutover

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// TestCompareTableCounts: --verify quick counts every table on both sides
// (at the same time) and names each table whose counts differ.
func TestCompareTableCounts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src, dst := pgtest.Start(t), pgtest.Start(t)
	const db = "app"
	for _, c := range []*pgtest.Cluster{src, dst} {
		c.CreateDatabase(t, db)
		c.Exec(t, db, `CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE "B c" (id int PRIMARY KEY)`)
		c.Exec(t, db, `INSERT INTO a SELECT generate_series(1, 5); INSERT INTO "B c" SELECT generate_series(1, 3)`)
	}
	source, err := conninfo.ParseURL(src.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	target, err := conninfo.ParseURL(dst.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	d := &Database{Replication: "main", Name: db, Source: source, Target: target}
	tables := []string{`public.a`, `public."B c"`}
	detail, err := compareTableCounts(ctx, d, tables)
	if err != nil || !strings.Contains(detail, "row counts of 2 table(s) equal") {
		t.Fatalf("equal sides: %q, %v", detail, err)
	}
	dst.Exec(t, db, `DELETE FROM "B c" WHERE id = 3`)
	_, err = compareTableCounts(ctx, d, tables)
	if err == nil || !strings.Contains(err.Error(), `public."B c" (source 3 rows, target 2)`) || strings.Contains(err.Error(), "public.a ") {
		t.Fatalf("a row missing on the target: %v", err)
	}
}
