package rowfilter

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// childURLVar makes the test binary run one Check and exit (see
// TestKilledCheckLeavesNothing).
const childURLVar = "ROWFILTER_TEST_CHILD_URL"

func TestMain(m *testing.M) {
	if u := os.Getenv(childURLVar); u != "" {
		info, err := conninfo.ParseURL(u)
		if err == nil {
			fmt.Println("checking")
			_, err = Check(context.Background(), info, []Request{{Database: "app", Schema: "public", Table: "items", Filter: "n > 0"}})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(pgtest.Main(m))
}

// source starts a cluster with database app: items (id primary key, n,
// note), y (the table injections try to drop), a volatile user function.
func source(t *testing.T) (*pgtest.Cluster, conninfo.Info) {
	t.Helper()
	src := pgtest.Start(t)
	src.CreateDatabase(t, "app")
	src.Exec(t, "app", `CREATE TABLE items (id int PRIMARY KEY, n int, note text);
		CREATE TABLE full_items (id int PRIMARY KEY, n int);
		ALTER TABLE full_items REPLICA IDENTITY FULL;
		CREATE TABLE y (id int);
		CREATE FUNCTION twice(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS 'BEGIN RETURN $1 * 2; END'`)
	info, err := conninfo.ParseURL(src.URL("app"))
	if err != nil {
		t.Fatal(err)
	}
	return src, info
}

// untouched fails when the source changed: y is gone, or a publication
// or prepared transaction exists.
func untouched(t *testing.T, src *pgtest.Cluster) {
	t.Helper()
	if n := src.QueryInt(t, "app", "SELECT count(*) FROM pg_class WHERE relname = 'y'"); n != 1 {
		t.Fatal("table y was dropped")
	}
	if n := src.QueryInt(t, "app", "SELECT count(*) FROM pg_publication"); n != 0 {
		t.Fatalf("%d publication(s) left behind", n)
	}
}

func TestCheck(t *testing.T) {
	src, info := source(t)
	src.Exec(t, "app", "CREATE PUBLICATION pub FOR TABLE items WHERE (n > 0 AND id < 10)")
	var storedText string
	conn := src.Connect(t, "app")
	if err := conn.QueryRow(context.Background(), "SELECT rowfilter FROM pg_publication_tables WHERE pubname = 'pub'").Scan(&storedText); err != nil {
		t.Fatal(err)
	}
	src.Exec(t, "app", "DROP PUBLICATION pub")

	tests := []struct {
		name, table, filter, stored string
		invalid, notPublishable     string // substrings; "" for none
		outside                     string
		deparsed                    bool
	}{
		{name: "valid on the key", table: "items", filter: "id > 0"},
		{name: "outside the replica identity", table: "items", filter: "n > 0", outside: `"n"`},
		{name: "full identity", table: "full_items", filter: "n > 0"},
		{name: "same as stored", table: "items", filter: "n>0 and ID<10", stored: storedText, outside: `"n"`, deparsed: true},
		{name: "differs from stored", table: "items", filter: "n > 1 AND id < 10", stored: storedText, outside: `"n"`},
		{name: "injection", table: "items", filter: "1=1); commit; drop table y; --", invalid: "parenthesis"},
		{name: "injection in a comment", table: "items", filter: "true --", invalid: "comment"},
		{name: "unknown column", table: "items", filter: "no_such > 0", invalid: "no_such"},
		{name: "not boolean", table: "items", filter: "id + 1", invalid: "boolean"},
		{name: "mutable function", table: "items", filter: "id > 0 AND now() > '2000-01-01'", notPublishable: "now()"},
		{name: "current_date", table: "items", filter: "CURRENT_DATE > '2000-01-01' AND id > 0", notPublishable: "CURRENT_DATE"},
		{name: "subquery", table: "items", filter: "id IN (SELECT id FROM y)", notPublishable: "subqueries"},
		{name: "user function", table: "items", filter: "twice(id) > 2", notPublishable: "twice()"},
		{name: "system column", table: "items", filter: "xmin::text <> '0' AND id > 0", notPublishable: "system column"},
		{name: "immutable built-in", table: "items", filter: "abs(id) > 1 AND lower(note) = 'x'", outside: `"note"`},
	}
	var reqs []Request
	for _, tt := range tests {
		reqs = append(reqs, Request{Database: "app", Schema: "public", Table: tt.table, Filter: tt.filter, Stored: tt.stored})
	}
	got, err := Check(context.Background(), info, reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		r := got[reqs[i]]
		check := func(what, have, want string) {
			if (want == "") != (have == "") || !strings.Contains(have, want) {
				t.Errorf("%s: %s = %q, want %q", tt.name, what, have, want)
			}
		}
		check("Invalid", r.Invalid, tt.invalid)
		check("NotPublishable", r.NotPublishable, tt.notPublishable)
		check("OutsideReplicaIdentity", r.OutsideReplicaIdentity, tt.outside)
		if tt.deparsed != (r.Deparsed == storedText) {
			t.Errorf("%s: Deparsed = %q, want the stored %q: %v", tt.name, r.Deparsed, storedText, tt.deparsed)
		}
	}
	untouched(t, src)
}

// TestCheckReadOnlyRole checks that a role with only CONNECT and SELECT
// can run the checks.
func TestCheckReadOnlyRole(t *testing.T) {
	src, _ := source(t)
	src.CreateRole(t, "reader", "reader-pw")
	src.Exec(t, "app", `REVOKE ALL ON DATABASE app FROM PUBLIC; REVOKE CREATE ON SCHEMA public FROM PUBLIC;
		GRANT CONNECT ON DATABASE app TO reader; GRANT SELECT ON items TO reader`)
	u, _ := url.Parse(src.URL("app"))
	u.User = url.UserPassword("reader", "reader-pw")
	info, err := conninfo.ParseURL(u.String())
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Database: "app", Schema: "public", Table: "items", Filter: "n > 0 AND now() > '2000-01-01'"}
	got, err := Check(context.Background(), info, []Request{req})
	if err != nil {
		t.Fatal(err)
	}
	if r := got[req]; r.Invalid != "" || r.NotPublishable == "" || r.OutsideReplicaIdentity == "" {
		t.Fatalf("check %+v, want a valid filter, not publishable, outside the replica identity", r)
	}
	untouched(t, src)
}

// TestCheckCancelled checks that a check blocked by a lock ends with an
// error (the statement and lock timeouts), not a verdict on the filter.
func TestCheckCancelled(t *testing.T) {
	src, info := source(t)
	locker := src.Connect(t, "app")
	ctx := context.Background()
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE items IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req := Request{Database: "app", Schema: "public", Table: "items", Filter: "n > 0"}
	if got, err := Check(cctx, info, []Request{req}); err == nil {
		t.Fatalf("check %+v while the table is locked, want an error", got[req])
	}
	_ = tx.Rollback(ctx)
	untouched(t, src)
}

// TestKilledCheckLeavesNothing kills -9 a process in the middle of a
// check (blocked on a lock) and checks that its backend goes away and
// the source is as before.
func TestKilledCheckLeavesNothing(t *testing.T) {
	src, _ := source(t)
	locker := src.Connect(t, "app")
	ctx := context.Background()
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE items IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childURLVar+"="+src.URL("app"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the child's EXPLAIN waits for the lock, then kill it.
	deadline := time.Now().Add(20 * time.Second)
	for src.QueryInt(t, "app", "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'EXPLAIN%'") == 0 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("the check never reached the table")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	// client_connection_check_interval ends the orphaned backend.
	deadline = time.Now().Add(10 * time.Second)
	for src.QueryInt(t, "app", "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'EXPLAIN%'") > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the killed check's backend is still there")
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = tx.Rollback(ctx)
	untouched(t, src)
}
