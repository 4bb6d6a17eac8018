package xminsync_test

import (
	"context"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/xminsync"
)

// untilRead runs cycles with tracker until table was read (not skipped)
// and cond holds on the target; the statistics the tracker reads reach
// the source's shared memory up to ~10 s after a commit.
func (p *pair) untilRead(t *testing.T, tables []xminsync.Table, tracker *xminsync.ChangeTracker, table string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		res := p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1, Changes: tracker})
		if !rowsOf(res, table).Unchanged && cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the change never reached the target (last cycle: %+v)", table, rowsOf(res, table))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The change tracker skips tables nothing was written to, and never loses
// a change: not one committed after the snapshot by a transaction that
// was open during the cycle, and not one hidden by a statistics reset
// after which the counters come back to the recorded values.
func TestCycleChangeTracker(t *testing.T) {
	p := newPair(t, nil)
	p.src.Exec(t, "app", seedSQL)
	p.src.Exec(t, "app", "CREATE TABLE flip (id int PRIMARY KEY, v int)")
	p.dst.Exec(t, "app", "CREATE TABLE flip (id int PRIMARY KEY, v int)")
	p.src.Exec(t, "app", "INSERT INTO flip VALUES (1, 10)")
	tables := p.tables(t, nil)
	srv, err := catalog.Introspect(context.Background(), p.si, []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	tables = append(tables, xminsync.FromCatalog("public.flip", srv.Database("app").Table("public", "flip"), "", 0))
	tracker := xminsync.NewChangeTracker()
	count := func(sql string) func() bool {
		return func() bool { return p.dst.QueryInt(t, "app", sql) == 1 }
	}

	t.Run("first cycle reads every table, later ones skip the unchanged", func(t *testing.T) {
		first := p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1, Changes: tracker})
		for _, r := range first.Tables {
			if r.Unchanged {
				t.Fatalf("first cycle skipped %s", r.Table)
			}
		}
		p.assertEqual(t, tables)
		// Autovacuum may still move a counter: wait for a cycle that
		// skips every table.
		deadline := time.Now().Add(90 * time.Second)
		for {
			res := p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1, Changes: tracker})
			skipped := 0
			for _, r := range res.Tables {
				if r.Unchanged {
					skipped++
				}
			}
			if skipped == len(tables) {
				break
			}

			if time.Now().After(deadline) {
				t.Fatalf("no cycle skipped every unchanged table (last: %d of %d skipped)", skipped, len(tables))
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("an update is read", func(t *testing.T) {
		p.src.Exec(t, "app", "UPDATE items SET name = 'changed' WHERE id = 7")
		p.untilRead(t, tables, tracker, "public.items", count("SELECT count(*) FROM items WHERE id = 7 AND name = 'changed'"))
		p.assertEqual(t, tables)
	})

	t.Run("a transaction open during the cycle is read after it commits", func(t *testing.T) {
		ctx := context.Background()
		conn := p.src.Connect(t, "app")
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO flip VALUES (3, 30)"); err != nil {
			t.Fatal(err)
		}
		// Cycles while it is open record the counters without its insert.
		for range 2 {
			p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1, Changes: tracker})
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		// Closing flushes the session's statistics now (an idle session
		// flushes them within 10 s).
		conn.Close(ctx)
		p.untilRead(t, tables, tracker, "public.flip", count("SELECT count(*) FROM flip WHERE id = 3"))
	})

	t.Run("a statistics reset that brings the counters back is not mistaken for no change", func(t *testing.T) {
		// Settle flip: its counters now match what the tracker recorded.
		p.src.Exec(t, "app", "DELETE FROM flip WHERE id = 3")
		p.untilRead(t, tables, tracker, "public.flip", func() bool { return true })
		counters := "SELECT n_tup_ins * 100000000 + n_tup_upd * 1000000 + n_tup_del * 10000 + n_live_tup * 100 + n_dead_tup FROM pg_stat_user_tables WHERE relname = 'flip'"
		recorded := p.src.QueryInt(t, "app", counters)
		p.src.Exec(t, "app", "SELECT pg_stat_reset()")
		// The same counts again (2 inserted, 1 deleted, 1 live, 1 dead):
		// equal counters, a different row.
		p.src.Exec(t, "app", "INSERT INTO flip VALUES (4, 40)")
		p.src.Exec(t, "app", "DELETE FROM flip WHERE id = 4")
		p.src.Exec(t, "app", "INSERT INTO flip VALUES (6, 60)")
		deadline := time.Now().Add(60 * time.Second)
		for now := p.src.QueryInt(t, "app", counters); now != recorded; now = p.src.QueryInt(t, "app", counters) {
			if time.Now().After(deadline) {
				t.Fatalf("the counters did not come back to the recorded ones (%d, now %d): the case is not set up", recorded, now)
			}
			time.Sleep(100 * time.Millisecond)
		}
		p.untilRead(t, tables, tracker, "public.flip", count("SELECT count(*) FROM flip WHERE id = 6"))
	})
}

// A table without a primary key but with a unique index over NOT NULL
// columns is upserted and reconciled by that key, not copied again.
func TestCycleUniqueKeyWithoutPrimaryKey(t *testing.T) {
	p := newPair(t, nil)
	const ddl = "CREATE TABLE ukey (code text NOT NULL, v text, n int, UNIQUE (code)); CREATE UNIQUE INDEX ON ukey (n)"
	p.src.Exec(t, "app", ddl)
	p.dst.Exec(t, "app", ddl)
	p.src.Exec(t, "app", "INSERT INTO ukey SELECT 'c' || i, 'v' || i, i FROM generate_series(1, 100) i")
	srv, err := catalog.Introspect(context.Background(), p.si, []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	tb := srv.Database("app").Table("public", "ukey")
	if len(tb.PrimaryKey) != 0 || len(tb.UniqueKey) != 1 || tb.UniqueKey[0] != "code" {
		t.Fatalf("primary key %v, unique key %v: want none and [code] (n may be NULL)", tb.PrimaryKey, tb.UniqueKey)
	}
	tables := []xminsync.Table{xminsync.FromCatalog("public.ukey", tb, "", 0)}
	p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1})
	p.assertEqual(t, tables)

	p.src.Exec(t, "app", "UPDATE ukey SET v = 'changed' WHERE code = 'c7'; INSERT INTO ukey VALUES ('c101', 'new', 101); DELETE FROM ukey WHERE code = 'c9'")
	res := rowsOf(p.cycle(t, tables, xminsync.Options{ReconcileAfter: 0}), "public.ukey")
	if res.Recopied || res.Upserted != 2 || res.Deleted != 1 {
		t.Fatalf("cycle: %+v, want 2 rows upserted and 1 deleted by key, not a copy", res)
	}
	p.assertEqual(t, tables)
}
