package conninfo

import (
	"context"
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// TestExecOneRunsOneStatement checks that text holding two statements is
// refused as a whole: the second one never runs.
func TestExecOneRunsOneStatement(t *testing.T) {
	c := pgtest.Start(t)
	c.Exec(t, "postgres", "CREATE TABLE y (id int)")
	conn := c.Connect(t, "postgres")
	if _, err := ExecOne(context.Background(), conn, "SELECT 1; DROP TABLE y"); err == nil {
		t.Fatal("two statements ran through ExecOne")
	}
	if n := c.QueryInt(t, "postgres", "SELECT count(*) FROM pg_class WHERE relname = 'y'"); n != 1 {
		t.Fatal("ExecOne ran the second statement")
	}
	rows, err := ExecOne(context.Background(), conn, "SELECT 'a', 2")
	if err != nil || len(rows) != 1 || rows[0][0] != "a" || rows[0][1] != "2" {
		t.Fatalf("rows %v, %v; want [[a 2]]", rows, err)
	}
}
