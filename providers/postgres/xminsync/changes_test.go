package xminsync_test

import (
	"context"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
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

// Tables without a primary key, on one pair of clusters: one with a unique
// index over NOT NULL columns is upserted and reconciled by that key; one
// with no key at all is compared as a multiset of rows, and only the
// difference is written (not the whole table).
func TestCycleTablesWithoutPrimaryKey(t *testing.T) {
	p := newPair(t, nil)
	t.Run("unique-key", func(t *testing.T) {
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
		if res.Diffed || res.Upserted != 2 || res.Deleted != 1 {
			t.Fatalf("cycle: %+v, want 2 rows upserted and 1 deleted by key, not a multiset diff", res)
		}
		p.assertEqual(t, tables)
	})
	t.Run("multiset", func(t *testing.T) {
		const ddl = "CREATE TABLE dup (a int, b text, c jsonb)"
		p.src.Exec(t, "app", ddl)
		p.dst.Exec(t, "app", ddl)
		// Duplicates, NULLs in some and all columns, and 200 plain rows.
		p.src.Exec(t, "app", `INSERT INTO dup VALUES (1, 'a', '{"k": 1}'), (1, 'a', '{"k": 1}'), (1, 'a', '{"k": 1}'),
			(2, NULL, NULL), (2, NULL, NULL), (NULL, NULL, NULL), (NULL, NULL, NULL), (3, '', '[]');
			INSERT INTO dup SELECT i, 'row ' || i, NULL FROM generate_series(100, 299) i`)
		srv, err := catalog.Introspect(context.Background(), p.si, []string{"app"})
		if err != nil {
			t.Fatal(err)
		}
		tb := srv.Database("app").Table("public", "dup")
		if len(tb.PrimaryKey) != 0 || len(tb.UniqueKey) != 0 {
			t.Fatalf("dup has key %v / %v: the case needs none", tb.PrimaryKey, tb.UniqueKey)
		}
		tables := []xminsync.Table{xminsync.FromCatalog("public.dup", tb, "", 0)}
		first := rowsOf(p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1}), "public.dup")
		if !first.Diffed || first.Upserted != 208 || first.Deleted != 0 {
			t.Fatalf("first cycle: %+v, want 208 rows inserted", first)
		}
		equalMultisets(t, p)
		// The rows the next changes leave alone stay where they are on
		// the target: they are not written again.
		const kept = "SELECT string_agg(ctid::text, ',' ORDER BY ctid) FROM dup WHERE a >= 100"
		before := queryString(t, p.dst, kept)

		// One of three duplicates updated and one deleted (by ctid: the
		// rows are indistinguishable otherwise), one of two all-NULL rows
		// deleted, a third copy of a NULL row and new rows inserted.
		p.src.Exec(t, "app", `
			UPDATE dup SET b = 'z' WHERE ctid = (SELECT min(ctid) FROM dup WHERE a = 1);
			DELETE FROM dup WHERE ctid = (SELECT max(ctid) FROM dup WHERE a = 1 AND b = 'a');
			DELETE FROM dup WHERE ctid = (SELECT min(ctid) FROM dup WHERE a IS NULL);
			INSERT INTO dup VALUES (2, NULL, NULL), (4, 'new', '{"n": null}')`)
		res := rowsOf(p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1}), "public.dup")
		// Source (1,a)x1 (1,z)x1 (2,NULL)x3 (NULL)x1 ...: the target
		// loses two (1,a) and one all-NULL row, and gains (1,z), one
		// (2,NULL) and (4,new).
		if !res.Diffed || res.Upserted != 3 || res.Deleted != 3 {
			t.Errorf("cycle after the changes: %+v, want 3 rows inserted and 3 deleted", res)
		}
		equalMultisets(t, p)
		if after := queryString(t, p.dst, kept); after != before {
			t.Errorf("unchanged rows were written again: their ctids went from %s to %s", before, after)
		}

		// Inserts only, one of them a copy of a row that was there before
		// (the diff limited to the new rows' hashes must still count the
		// old copy on both sides).
		// With statistics, the part compared is chosen by a column's
		// values (without, as above, by the rows' hashes).
		p.src.Exec(t, "app", "ANALYZE dup")
		p.src.Exec(t, "app", `INSERT INTO dup VALUES (3, '', '[]'), (150, 'row 150', NULL), (5, 'five', '{}'), (NULL, NULL, NULL)`)
		ins := rowsOf(p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1}), "public.dup")
		if !ins.Diffed || ins.Upserted != 4 || ins.Deleted != 0 {
			t.Errorf("cycle after inserts: %+v, want 4 rows inserted", ins)
		}
		equalMultisets(t, p)
		// An older row deleted next to an insert: outside the part the
		// insert selects, seen by the counts, so the whole table is
		// compared.
		p.src.Exec(t, "app", `DELETE FROM dup WHERE a = 250; INSERT INTO dup VALUES (6, 'six', NULL)`)
		mixed := rowsOf(p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1}), "public.dup")
		if !mixed.Diffed || mixed.Upserted != 1 || mixed.Deleted != 1 {
			t.Errorf("cycle after a delete and an insert: %+v, want 1 row inserted and 1 deleted", mixed)
		}
		equalMultisets(t, p)

		// Nothing changed: not compared.
		if idle := rowsOf(p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1}), "public.dup"); idle.Diffed || idle.Upserted != 0 || idle.Deleted != 0 {
			t.Errorf("idle cycle: %+v, want nothing", idle)
		}
		// Deletes only (the count differs) and a reconciliation after a
		// change the window cannot see on the target side.
		p.src.Exec(t, "app", "DELETE FROM dup WHERE a BETWEEN 100 AND 109")
		p.dst.Exec(t, "app", "UPDATE dup SET b = 'drifted' WHERE a = 200")
		rec := rowsOf(p.cycle(t, tables, xminsync.Options{ReconcileAfter: 0}), "public.dup")
		if !rec.Diffed || rec.Deleted != 11 || rec.Upserted != 1 {
			t.Errorf("reconciling cycle: %+v, want 11 rows deleted and 1 inserted", rec)
		}
		equalMultisets(t, p)
	})
	t.Run("multiset-settings", func(t *testing.T) {
		// Row text depends on TimeZone, DateStyle, IntervalStyle, ...:
		// sides that render it differently must still see equal rows as
		// equal (else every row is deleted and copied again).
		p.src.Exec(t, "app", "ALTER DATABASE app SET TimeZone = 'America/New_York'")
		p.dst.Exec(t, "app", "ALTER DATABASE app SET TimeZone = 'Asia/Tokyo'; ALTER DATABASE app SET DateStyle = 'SQL, DMY'; ALTER DATABASE app SET IntervalStyle = 'sql_standard'; ALTER DATABASE app SET bytea_output = 'escape'")
		const ddl = "CREATE TABLE tz (at timestamptz, d date, iv interval, b bytea, f float8)"
		p.src.Exec(t, "app", ddl)
		p.dst.Exec(t, "app", ddl)
		p.src.Exec(t, "app", `INSERT INTO tz SELECT '2024-03-01 12:00+00'::timestamptz + i * interval '7 hours', '2024-01-01'::date + i,
			i * interval '1 day 2 hours', decode(md5(i::text), 'hex'), i / 3.0 FROM generate_series(1, 50) i`)
		srv, err := catalog.Introspect(context.Background(), p.si, []string{"app"})
		if err != nil {
			t.Fatal(err)
		}
		tables := []xminsync.Table{xminsync.FromCatalog("public.tz", srv.Database("app").Table("public", "tz"), "", 0)}
		if first := rowsOf(p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1}), "public.tz"); first.Upserted != 50 || first.Deleted != 0 {
			t.Fatalf("first cycle: %+v, want 50 rows inserted", first)
		}
		p.src.Exec(t, "app", "INSERT INTO tz VALUES ('2025-06-30 23:59:59.5+02', '2025-06-30', '-1 day 3 hours', '\\x00ff', 0.1)")
		res := rowsOf(p.cycle(t, tables, xminsync.Options{ReconcileAfter: 0}), "public.tz")
		if res.Upserted != 1 || res.Deleted != 0 {
			t.Errorf("reconciling cycle after one insert: %+v, want 1 row inserted and none deleted", res)
		}
		const q = "SELECT string_agg(format('%s|%s|%s|%s|%s', extract(epoch FROM at), d - date '2000-01-01', extract(epoch FROM iv), encode(b, 'hex'), f), ',' ORDER BY at) FROM tz"
		if s, d := queryString(t, p.src, q), queryString(t, p.dst, q); s != d {
			t.Errorf("tz differs:\nsource %s\ntarget %s", s, d)
		}
	})
}

// equalMultisets fails unless dup holds the same rows, with the same
// multiplicities, on both sides.
func equalMultisets(t *testing.T, p *pair) {
	t.Helper()
	const q = "SELECT coalesce(string_agg(x, '|' ORDER BY x), '') FROM (SELECT format('%s x%s', ROW(a, b, c)::text, count(*)) AS x FROM dup GROUP BY a, b, c) g"
	if s, d := queryString(t, p.src, q), queryString(t, p.dst, q); s != d {
		t.Fatalf("dup differs:\nsource %s\ntarget %s", s, d)
	}
}

// queryString runs a one-value query in app.
func queryString(t *testing.T, c *pgtest.Cluster, q string) string {
	t.Helper()
	conn := c.Connect(t, "app")
	var s string
	if err := conn.QueryRow(context.Background(), q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}
