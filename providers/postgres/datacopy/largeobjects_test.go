package datacopy

import (
	"context"
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

func TestCopyLargeObjects(t *testing.T) {
	src, dst := pgtest.Start(t), pgtest.Start(t)
	src.CreateDatabase(t, "lo")
	dst.CreateDatabase(t, "lo")
	src.Exec(t, "lo", "SELECT lo_from_bytea(424242, convert_to(repeat('large object ', 100000), 'UTF8'))")
	src.Exec(t, "lo", "SELECT lo_from_bytea(424243, '\\x00ff00'::bytea)")
	dst.Exec(t, "lo", "SELECT lo_from_bytea(424243, 'stale'::bytea)")
	si, _ := conninfo.ParseURL(src.URL("lo"))
	di, _ := conninfo.ParseURL(dst.URL("lo"))
	n, err := CopyLargeObjects(context.Background(), si, di, "")
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("copied %d large objects, want 2", n)
	}
	for _, q := range []string{
		"SELECT count(*) FROM pg_largeobject_metadata",
		"SELECT length(lo_get(424242))",
		"SELECT get_byte(lo_get(424243), 1)",
	} {
		if s, d := src.QueryInt(t, "lo", q), dst.QueryInt(t, "lo", q); s != d {
			t.Errorf("%s: source %d, target %d", q, s, d)
		}
	}
}
