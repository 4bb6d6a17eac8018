package cutover

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// The reverse replication on the default major version and on 16 (the
// first with origin = none): the forward subscription is stopped, the
// reverse publication and slot created on the new primary, the reverse
// subscription on the fenced old primary, with origin = none from 16 on;
// rows written on the new primary afterwards arrive on the old one, and
// doing it all again changes nothing.
func TestReverseReplication(t *testing.T) {
	for _, m := range []int{0, 16} {
		name := "default"
		var opts []pgtest.Option
		if m != 0 {
			name, opts = fmt.Sprint(m), []pgtest.Option{pgtest.Major(m)}
		}
		t.Run(name, func(t *testing.T) { testReverseReplication(t, opts) })
	}
}

func testReverseReplication(t *testing.T, opts []pgtest.Option) {
	ctx := context.Background()
	src, dst := pgtest.Start(t, opts...), pgtest.Start(t, opts...)
	const db = "app"
	for _, c := range []*pgtest.Cluster{src, dst} {
		c.CreateDatabase(t, db)
		c.Exec(t, db, "CREATE TABLE items (id int PRIMARY KEY, note text)")
	}
	src.Exec(t, db, "INSERT INTO items SELECT g, 'before' FROM generate_series(1, 10) g")
	src.Exec(t, db, "CREATE PUBLICATION pub FOR TABLE items")
	dst.Exec(t, db, "CREATE SUBSCRIPTION sub CONNECTION '"+src.URL(db)+"' PUBLICATION pub WITH (slot_name = 'sub_app')")
	waitInt(t, dst, db, "SELECT count(*) FROM items", 10)
	// The cutover's fence of the old primary.
	src.Exec(t, "postgres", "ALTER DATABASE app SET default_transaction_read_only = on")

	source, err := conninfo.ParseURL(src.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	target, err := conninfo.ParseURL(dst.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	d := &Database{Replication: "main", Name: db, Source: source, Target: target, Publication: "pub", Slot: "sub_app", Subscription: "sub",
		StoresPassword: true, Record: &plans.CutoverAttrs{Phase: plans.CutoverDetaching}}
	setReverse(d)
	for i := 0; i < 2; i++ {
		conn, err := conninfo.Connect(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		if err := reverseOnTarget(ctx, conn, d); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		conn.Close(ctx)
		originNone, err := reverseOnSource(ctx, d)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if want := dst.Major() >= 16; originNone != want {
			t.Errorf("origin = none %v on PostgreSQL %d, want %v", originNone, dst.Major(), want)
		}
	}
	if n := dst.QueryInt(t, db, "SELECT count(*) FROM pg_subscription WHERE subenabled"); n != 0 {
		t.Errorf("the forward subscription is still enabled")
	}
	if n := src.QueryInt(t, db, "SELECT count(*) FROM pg_subscription WHERE subname = 'sub_reverse' AND subslotname = 'sub_app_reverse'"); n != 1 {
		t.Errorf("%d reverse subscriptions on the old primary, want 1", n)
	}
	if dst.Major() >= 16 {
		if n := src.QueryInt(t, db, "SELECT count(*) FROM pg_subscription WHERE subname = 'sub_reverse' AND suborigin = 'none'"); n != 1 {
			t.Errorf("the reverse subscription has no origin = none")
		}
	}
	// Written on the new primary after the switch point: on the old one,
	// which applies them although it is fenced.
	dst.Exec(t, db, "INSERT INTO items SELECT g, 'after' FROM generate_series(11, 25) g")
	dst.Exec(t, db, "UPDATE items SET note = 'changed' WHERE id <= 5")
	waitInt(t, src, db, "SELECT count(*) FROM items", 25)
	waitInt(t, src, db, "SELECT count(*) FROM items WHERE note = 'changed'", 5)
	if n := src.QueryInt(t, db, "SELECT count(*) FROM items WHERE note = 'before'"); n != 5 {
		t.Errorf("%d rows written before the switch point left unchanged on the old primary, want 5", n)
	}
}

// waitInt waits (up to a minute: replication on a loaded machine) until
// sql on c's database db returns want.
func waitInt(t *testing.T, c *pgtest.Cluster, db, sql string, want int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		got := c.QueryInt(t, db, sql)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d, want %d", sql, got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
