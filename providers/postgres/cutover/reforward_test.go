package cutover

import (
	"context"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// The forward replication a rollback re-establishes: with both sides
// fenced, a leftover slot (at an old position) and a leftover publication
// of another shape are replaced, the publication is created as planned
// (row filter included), the subscription streams from the new slot
// without a copy, and a second run changes nothing. Rows written before
// the switch-back point are not applied twice; rows written after arrive.
func TestReforward(t *testing.T) {
	ctx := context.Background()
	src, dst := pgtest.Start(t), pgtest.Start(t)
	const db = "app"
	for _, c := range []*pgtest.Cluster{src, dst} {
		c.CreateDatabase(t, db)
		c.Exec(t, db, "CREATE TABLE items (id int PRIMARY KEY, note text)")
		c.Exec(t, db, "CREATE TABLE other (id int PRIMARY KEY)")
		c.Exec(t, db, "CREATE TABLE events (id int, at timestamptz, PRIMARY KEY (id, at))")
	}
	// A slot left at an old position, then rows both sides already have.
	src.Exec(t, db, "SELECT pg_create_logical_replication_slot('sub_app', 'pgoutput')")
	src.Exec(t, db, "CREATE PUBLICATION pub FOR TABLE other")
	for _, c := range []*pgtest.Cluster{src, dst} {
		c.Exec(t, db, "INSERT INTO items SELECT g, 'before' FROM generate_series(1, 10) g")
		c.Exec(t, "postgres", "ALTER DATABASE app SET default_transaction_read_only = on")
	}
	source, err := conninfo.ParseURL(src.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	target, err := conninfo.ParseURL(dst.URL(db))
	if err != nil {
		t.Fatal(err)
	}
	d := &Database{Replication: "main", Name: db, Source: source, Target: target, Record: &plans.CutoverAttrs{Phase: plans.CutoverBackDetaching},
		Forward: &Forward{
			Publication: &plans.PublicationAttrs{Name: "pub", Tables: []plans.PublishedTable{
				{Table: plans.TableName{Schema: "public", Table: "items"}, Filter: "id > 0"},
				{Table: plans.TableName{Schema: "public", Table: "events"}, Window: &plans.TimeWindow{Column: "at", Last: "1 day"}}}},
			Slot:         &plans.SlotAttrs{Name: "sub_app", Plugin: "pgoutput", Database: db},
			Subscription: &plans.SubscriptionAttrs{Name: "sub", SlotName: "sub_app", Publications: []string{"pub"}, Enabled: true, StoresPassword: true},
		}}
	if err := CheckForward(d.Forward); err != nil {
		t.Fatal(err)
	}
	first, err := reforward(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if first == "" {
		t.Fatal("no switch-back point reported")
	}
	if _, err := reforward(ctx, d); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if n := src.QueryInt(t, db, "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'pub' AND tablename = 'items' AND rowfilter IS NOT NULL"); n != 1 {
		t.Errorf("publication pub has %d filtered items table(s), want 1", n)
	}
	if n := src.QueryInt(t, db, "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'pub'"); n != 2 {
		t.Errorf("publication pub has %d tables, want 2 (the leftover's other table replaced)", n)
	}
	if f := d.Forward.Publication.Tables[1].Frozen; !strings.HasPrefix(f, `"at" > '`) {
		t.Errorf("the time window of events was frozen to %q, want a constant cut-off on at", f)
	}
	if n := src.QueryInt(t, db, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'sub_app' AND confirmed_flush_lsn >= '"+first+"'::pg_lsn"); n != 1 {
		t.Errorf("slot sub_app was not created again at the switch-back point %s", first)
	}
	if n := dst.QueryInt(t, db, "SELECT count(*) FROM pg_subscription WHERE subname = 'sub' AND subslotname = 'sub_app' AND subenabled"); n != 1 {
		t.Errorf("%d enabled subscription(s) sub over slot sub_app on the target, want 1", n)
	}
	// The application writes on the source again (the tool's session
	// stands for the unfenced source).
	src.Exec(t, db, "BEGIN READ WRITE; INSERT INTO items SELECT g, 'after' FROM generate_series(11, 25) g; UPDATE items SET note = 'changed' WHERE id <= 3; "+
		"INSERT INTO events VALUES (1, now()), (2, now() - interval '2 days'); COMMIT")
	waitInt(t, dst, db, "SELECT count(*) FROM items", 25)
	waitInt(t, dst, db, "SELECT count(*) FROM items WHERE note = 'changed'", 3)
	waitInt(t, dst, db, "SELECT count(*) FROM events WHERE id = 1", 1)
	if n := dst.QueryInt(t, db, "SELECT count(*) FROM events WHERE id = 2"); n != 0 {
		t.Errorf("a row older than the time window was replicated")
	}
	if n := dst.QueryInt(t, db, "SELECT count(*) FROM pg_stat_subscription s JOIN pg_subscription p ON p.oid = s.subid WHERE p.subname = 'sub' AND s.pid IS NOT NULL"); n < 1 {
		t.Errorf("the subscription's apply worker is not running (an error applying, e.g. rows applied twice?)")
	}
}
