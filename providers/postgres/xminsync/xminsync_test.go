package xminsync_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/compare"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
	"github.com/database-replicator/database-replicator/providers/postgres/xminsync"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// schemaSQL is created on both sides: every shape the engine must handle.
const schemaSQL = `
CREATE TABLE items (
	id bigint PRIMARY KEY,
	email text UNIQUE,
	name text,
	payload bytea,
	doc jsonb,
	big text,
	n numeric,
	twice numeric GENERATED ALWAYS AS (n * 2) STORED
);
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Mixed Case" (
	k1 text,
	k2 timestamptz,
	"Val ue" int,
	ident int GENERATED ALWAYS AS IDENTITY,
	PRIMARY KEY (k1, k2)
);
CREATE TABLE nokey (a int, b text);
CREATE TABLE events (id int, at date, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
`

// pair is a source and a target cluster with database app.
type pair struct {
	src, dst *pgtest.Cluster
	si, di   conninfo.Info
}

func newPair(t *testing.T, src *pgtest.Cluster) *pair {
	t.Helper()
	if src == nil {
		src = pgtest.Start(t)
	}
	dst := pgtest.Start(t)
	p := &pair{src: src, dst: dst}
	for _, c := range []*pgtest.Cluster{src, dst} {
		c.CreateDatabase(t, "app")
		c.Exec(t, "app", schemaSQL)
	}
	var err error
	if p.si, err = conninfo.ParseURL(src.URL("app")); err != nil {
		t.Fatal(err)
	}
	if p.di, err = conninfo.ParseURL(dst.URL("app")); err != nil {
		t.Fatal(err)
	}
	return p
}

// tables introspects the source and describes its tables for the engine.
func (p *pair) tables(t *testing.T, filters map[string]string) []xminsync.Table {
	t.Helper()
	srv, err := catalog.Introspect(context.Background(), p.si, []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	db := srv.Database("app")
	var out []xminsync.Table
	for _, name := range [][2]string{{"public", "items"}, {"Odd Schema", "Mixed Case"}, {"public", "nokey"}, {"public", "events"}} {
		tb := db.Table(name[0], name[1])
		if tb == nil {
			t.Fatalf("table %v not introspected", name)
		}
		key := name[0] + "." + name[1]
		out = append(out, xminsync.FromCatalog(key, tb, filters[key], 0))
	}
	return out
}

func (p *pair) cycle(t *testing.T, tables []xminsync.Table, opts xminsync.Options) xminsync.Result {
	t.Helper()
	opts.Replication = "main"
	res, err := xminsync.Cycle(context.Background(), p.si, p.di, tables, opts)
	if err != nil {
		t.Fatalf("cycle: %v", err)
	}
	return res
}

// assertEqual compares every table on both sides with verify.
func (p *pair) assertEqual(t *testing.T, tables []xminsync.Table) {
	t.Helper()
	ctx := context.Background()
	sc := p.src.Connect(t, "app")
	dc := p.dst.Connect(t, "app")
	for _, tb := range tables {
		var cols []string
		for _, c := range tb.Columns {
			cols = append(cols, c.Name)
		}
		res, err := compare.VerifyTable(ctx, sc, dc, compare.VerifyRequest{Schema: tb.Schema, Table: tb.Name,
			Columns: cols, PrimaryKey: tb.PrimaryKey, SourceFilter: tb.Filter})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Equal {
			t.Errorf("%s differs: source %d rows, target %d; missing %v extra %v different %v",
				tb.Key, res.SourceRows, res.TargetRows, res.Missing, res.Extra, res.Different)
		}
	}
}

func rowsOf(res xminsync.Result, table string) xminsync.TableResult {
	for _, r := range res.Tables {
		if r.Table == table {
			return r
		}
	}
	return xminsync.TableResult{}
}

// seed writes the initial rows on the source.
const seedSQL = `
INSERT INTO items (id, email, name, payload, doc, big, n)
SELECT i, 'u' || i || '@example.com', 'name ' || i, decode(md5(i::text), 'hex'), jsonb_build_object('i', i, 'tags', jsonb_build_array('a', i)),
       CASE WHEN i % 50 = 0 THEN repeat(md5(i::text), 400) END, i * 1.5
FROM generate_series(1, 2000) i;
INSERT INTO "Odd Schema"."Mixed Case" (k1, k2, "Val ue")
SELECT 'k' || (i % 7), timestamptz '2024-01-01 00:00+00' + i * interval '1 hour', i FROM generate_series(1, 300) i;
INSERT INTO nokey SELECT i, 'row ' || i FROM generate_series(1, 50) i;
INSERT INTO events SELECT i, date '2024-06-01' + i, 'e' || i FROM generate_series(1, 400) i;
`

func TestCycleInsertsUpdatesDeletesAndReconciles(t *testing.T) {
	p := newPair(t, nil)
	p.src.Exec(t, "app", seedSQL)
	tables := p.tables(t, nil)

	// A table without a cursor starts from 0: everything is read once.
	first := p.cycle(t, tables, xminsync.Options{BatchSize: 500, ReconcileAfter: -1})
	if got := rowsOf(first, "public.items").Upserted; got != 2000 {
		t.Fatalf("first cycle upserted %d items, want 2000", got)
	}
	if got := rowsOf(first, "public.events").Upserted; got != 400 {
		t.Fatalf("first cycle upserted %d events (partitioned), want 400", got)
	}
	p.assertEqual(t, tables)

	// Nothing changed: nothing is sent again.
	idle := p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1})
	for _, tr := range idle.Tables {
		if tr.Upserted != 0 || tr.Deleted != 0 || tr.Diffed {
			t.Errorf("idle cycle touched %s: %+v", tr.Table, tr)
		}
	}

	// Inserts, updates (TOASTed text, bytea, jsonb), deletes, a TRUNCATE.
	p.src.Exec(t, "app", `
		INSERT INTO items (id, email, name, n) VALUES (5001, 'new@example.com', 'new', 1);
		UPDATE items SET big = repeat('changed', 2000), payload = '\xdeadbeef'::bytea, doc = '{"changed": true}' WHERE id = 50;
		UPDATE items SET name = NULL, payload = ''::bytea WHERE id = 7;
		DELETE FROM items WHERE id BETWEEN 100 AND 109;
		UPDATE "Odd Schema"."Mixed Case" SET "Val ue" = -1 WHERE k1 = 'k3';
		TRUNCATE nokey;
		INSERT INTO events VALUES (1000, '2025-03-01', 'new');
		UPDATE events SET v = 'changed' WHERE id = 3;
		DELETE FROM events WHERE id IN (4, 5);`)
	noRec := p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1})
	if got := rowsOf(noRec, "public.items").Upserted; got != 3 {
		t.Errorf("cycle upserted %d items, want 3 (1 insert, 2 updates), not the table", got)
	}
	if nk := rowsOf(noRec, "public.nokey"); !nk.Diffed || nk.Deleted != 50 || nk.Upserted != 0 {
		t.Errorf("a truncated table without a primary key: %+v, want its 50 rows deleted by the multiset diff", nk)
	}
	dc := p.dst.Connect(t, "app")
	var big string
	if err := dc.QueryRow(context.Background(), "SELECT big FROM items WHERE id = 50").Scan(&big); err != nil || big != strings.Repeat("changed", 2000) {
		t.Errorf("TOASTed update not applied (err %v, %d bytes)", err, len(big))
	}
	if n := p.dst.QueryInt(t, "app", "SELECT count(*) FROM items WHERE id BETWEEN 100 AND 109"); n != 10 {
		t.Errorf("deletes applied without reconciliation? %d rows left, want 10", n)
	}
	// A partitioned table is read and written through its partitions.
	if got := rowsOf(noRec, "public.events").Upserted; got != 2 {
		t.Errorf("cycle upserted %d events (partitioned), want 2", got)
	}
	// Reconciliation finds the deletes.
	rec := p.cycle(t, tables, xminsync.Options{ReconcileAfter: 0})
	if got := rowsOf(rec, "public.events").Deleted; got != 2 {
		t.Errorf("reconciliation deleted %d events (partitioned), want 2", got)
	}
	if got := rowsOf(rec, "public.items"); got.Deleted != 10 || !got.Reconciled || got.Upserted != 0 {
		t.Errorf("reconciliation: %+v, want 10 deleted and nothing upserted", got)
	}
	p.assertEqual(t, tables)

	// The cursor sits at the cycle's snapshot xmin, and records the cycle.
	cursors, err := xminsync.ReadCursors(context.Background(), dc, "main")
	if err != nil || len(cursors) != 4 {
		t.Fatalf("cursors: %v %v", cursors, err)
	}
	for _, c := range cursors {
		if c.Watermark != rec.Xmin || c.LastCycleAt == nil || c.LastReconcileAt == nil || c.CycleTarget != nil {
			t.Errorf("cursor %+v, want watermark %d and a recorded cycle", c, rec.Xmin)
		}
	}
}

// A transaction that started before a cycle and commits after it, with an
// XID below rows the cycle already saw, is not skipped (rule 7).
func TestCycleDoesNotSkipInFlightTransactions(t *testing.T) {
	p := newPair(t, nil)
	p.src.Exec(t, "app", seedSQL)
	tables := p.tables(t, nil)[:1]
	p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1})

	ctx := context.Background()
	early := p.src.Connect(t, "app")
	tx, err := early.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO items (id, email) VALUES (9001, 'early@example.com')"); err != nil {
		t.Fatal(err)
	}
	p.src.Exec(t, "app", "INSERT INTO items (id, email) VALUES (9002, 'late@example.com')")
	mid := p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1})
	if got := rowsOf(mid, "public.items").Upserted; got != 1 {
		t.Fatalf("cycle during the open transaction upserted %d rows, want 1", got)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	after := p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1})
	if n := p.dst.QueryInt(t, "app", "SELECT count(*) FROM items WHERE id IN (9001, 9002)"); n != 2 {
		t.Fatalf("after the late commit the target has %d of the 2 rows (cycle upserted %d)", n, rowsOf(after, "public.items").Upserted)
	}
	p.assertEqual(t, tables)
}

// A cycle stopped after its first batch resumes where it stopped: the
// next cycle sends only the rows after the last committed batch.
func TestCycleStopsAfterBatchAndResumes(t *testing.T) {
	p := newPair(t, nil)
	p.src.Exec(t, "app", seedSQL)
	tables := p.tables(t, nil)[:1]
	stop := make(chan struct{})
	batches := 0
	res, err := xminsync.Cycle(context.Background(), p.si, p.di, tables, xminsync.Options{
		Replication: "main", BatchSize: 300, ReconcileAfter: -1, Stop: stop,
		OnRows: func(string, int64, int64) {
			batches++
			if batches == 2 {
				close(stop)
			}
		},
	})
	if !errors.Is(err, xminsync.ErrStopped) {
		t.Fatalf("cycle: %v, want ErrStopped", err)
	}
	if n := p.dst.QueryInt(t, "app", "SELECT count(*) FROM items"); n != 600 {
		t.Fatalf("after 2 batches of 300 the target has %d rows", n)
	}
	_ = res
	next := p.cycle(t, tables, xminsync.Options{BatchSize: 300, ReconcileAfter: -1})
	if got := rowsOf(next, "public.items").Upserted; got != 1400 {
		t.Errorf("resumed cycle upserted %d rows, want the remaining 1400", got)
	}
	p.assertEqual(t, tables)
}

// A row deleted on the source whose unique value a new row takes: the
// batch conflicts on the target, and the engine reconciles right away.
func TestCycleUniqueConflictReconciles(t *testing.T) {
	p := newPair(t, nil)
	p.src.Exec(t, "app", seedSQL)
	tables := p.tables(t, nil)[:1]
	p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1})
	p.src.Exec(t, "app", `DELETE FROM items WHERE id = 10; INSERT INTO items (id, email) VALUES (7000, 'u10@example.com');
		UPDATE items SET email = 'swap' WHERE id = 11; UPDATE items SET email = 'u11@example.com' WHERE id = 12; UPDATE items SET email = 'u12@example.com' WHERE id = 11;`)
	res := p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1})
	if got := rowsOf(res, "public.items"); !got.Reconciled || got.Deleted != 1 {
		t.Errorf("conflict: %+v, want a reconciliation deleting 1 row", got)
	}
	p.assertEqual(t, tables)
}

// A row filter keeps only matching rows; a row updated out of the filter
// is removed by reconciliation.
func TestCycleRespectsFilter(t *testing.T) {
	p := newPair(t, nil)
	p.src.Exec(t, "app", seedSQL)
	tables := p.tables(t, map[string]string{"public.items": "id % 2 = 0"})[:1]
	p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1})
	if n := p.dst.QueryInt(t, "app", "SELECT count(*) FROM items"); n != 1000 {
		t.Fatalf("filtered copy has %d rows, want 1000", n)
	}
	p.src.Exec(t, "app", "UPDATE items SET id = 100001 WHERE id = 2; INSERT INTO items (id) VALUES (100002), (100003)")
	p.cycle(t, tables, xminsync.Options{ReconcileAfter: 0})
	p.assertEqual(t, tables)
	if n := p.dst.QueryInt(t, "app", "SELECT count(*) FROM items WHERE id IN (2, 100001, 100003)"); n != 0 {
		t.Errorf("%d rows outside the filter on the target", n)
	}
}

// The engine replicates across the 32-bit transaction ID wraparound: the
// source's next XID is moved to just below 2^32 with pg_resetwal.
func TestCycleAcrossWraparound(t *testing.T) {
	src := pgtest.Start(t)
	// Rows of the fresh cluster (pg_database's "postgres" among them) must
	// be frozen, or they would look like they are from the future.
	src.Exec(t, "postgres", "VACUUM FREEZE")
	src.Exec(t, "template1", "VACUUM FREEZE")
	src.Stop(t)
	// A page boundary (2^32 - 2^15): the commit log page is created on
	// first use, so no segment file has to be made by hand.
	src.RunTool(t, "pg_resetwal", "-x", fmt.Sprint(uint64(1)<<32-1<<15), "-D", src.DataDir())
	src.Start(t)
	p := newPair(t, src)
	p.src.Exec(t, "app", seedSQL)
	p.src.Exec(t, "app", `CREATE PROCEDURE burn(n int) LANGUAGE plpgsql AS $$
		BEGIN FOR i IN 1..n LOOP PERFORM pg_current_xact_id(); COMMIT; END LOOP; END $$`)
	tables := p.tables(t, nil)
	before := p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1})
	if before.Xmin >= 1<<32 {
		t.Fatalf("snapshot xmin %d is already past the wrap", before.Xmin)
	}
	p.src.Exec(t, "app", "UPDATE items SET name = 'before wrap' WHERE id <= 5")
	p.src.Exec(t, "app", "CALL burn(33000)")
	p.src.Exec(t, "app", `UPDATE items SET name = 'after wrap' WHERE id BETWEEN 6 AND 8;
		INSERT INTO items (id, email) VALUES (8001, 'wrapped@example.com');
		INSERT INTO "Odd Schema"."Mixed Case" (k1, k2) VALUES ('wrap', now())`)
	if raw := p.src.QueryInt(t, "app", "SELECT xmin::text::bigint FROM items WHERE id = 8001"); raw > 1<<20 {
		t.Fatalf("the new row's xmin %d did not wrap", raw)
	}
	after := p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1})
	if after.Xmin < 1<<32 {
		t.Fatalf("snapshot xmin %d did not pass the wrap", after.Xmin)
	}
	if got := rowsOf(after, "public.items").Upserted; got != 9 {
		t.Errorf("across the wrap the cycle upserted %d items, want 9 (5 before, 3 after, 1 insert)", got)
	}
	if got := rowsOf(after, "Odd Schema.Mixed Case").Upserted; got != 1 {
		t.Errorf("across the wrap the cycle upserted %d Mixed Case rows, want 1", got)
	}
	p.assertEqual(t, tables)
	idle := p.cycle(t, tables, xminsync.Options{ReconcileAfter: -1})
	if got := rowsOf(idle, "public.items").Upserted; got != 0 {
		t.Errorf("idle cycle after the wrap upserted %d rows", got)
	}
	_ = time.Second
}

// Tables synced in parallel, each on its own connections in the one
// snapshot, reach the same result; results come back in table order.
func TestCycleParallel(t *testing.T) {
	p := newPair(t, nil)
	p.src.Exec(t, "app", seedSQL)
	tables := p.tables(t, nil)
	first := p.cycle(t, tables, xminsync.Options{Parallel: 4, BatchSize: 700, ReconcileAfter: -1})
	for i, tr := range first.Tables {
		if tr.Table != tables[i].Key {
			t.Fatalf("result %d is %s, want %s", i, tr.Table, tables[i].Key)
		}
	}
	p.src.Exec(t, "app", `UPDATE items SET name = 'p' WHERE id % 10 = 0; DELETE FROM items WHERE id > 1990;
		INSERT INTO events VALUES (2000, '2025-05-05', 'p'); DELETE FROM nokey WHERE a < 5;
		UPDATE "Odd Schema"."Mixed Case" SET "Val ue" = 7`)
	res := p.cycle(t, tables, xminsync.Options{Parallel: 4, ReconcileAfter: 0})
	if up, del := res.Rows(); up == 0 || del == 0 {
		t.Errorf("parallel cycle upserted %d and deleted %d rows", up, del)
	}
	p.assertEqual(t, tables)
	t.Run("a slow table is left running and does not hold back the others", func(t *testing.T) {
		carryover(t, p, tables)
	})
}

// carryover: items is held back by a lock on the target; cycles with a
// Carryover return without it, sync the other tables meanwhile and leave
// items out while it runs; once the lock goes, items finishes in the
// background, is reported by the next cycle, and nothing is lost.
func carryover(t *testing.T, p *pair, tables []xminsync.Table) {
	ctx := context.Background()
	lock := p.dst.Connect(t, "app")
	tx, err := lock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // released below
	if _, err := tx.Exec(ctx, "LOCK TABLE items IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	p.src.Exec(t, "app", `UPDATE items SET name = 'carried' WHERE id <= 10; INSERT INTO events VALUES (2001, '2025-06-06', 'c1')`)
	carry := xminsync.NewCarryover()
	opts := xminsync.Options{Parallel: 2, ReconcileAfter: -1, Carryover: carry, WaitAtMost: 50 * time.Millisecond}
	// Each cycle must return while items is blocked (a cycle that waited
	// for it would never return: the guard fails the test instead).
	cycle := func() xminsync.Result {
		t.Helper()
		type out struct {
			res xminsync.Result
			err error
		}
		ch := make(chan out, 1)
		go func() {
			o := opts
			o.Replication = "main"
			res, err := xminsync.Cycle(ctx, p.si, p.di, tables, o)
			ch <- out{res, err}
		}()
		select {
		case o := <-ch:
			if o.err != nil {
				t.Fatalf("cycle: %v", o.err)
			}
			return o.res
		case <-time.After(2 * time.Minute):
			t.Fatal("a cycle waited for the blocked table")
			return xminsync.Result{}
		}
	}
	first := cycle()
	if first.LeftRunning < 1 || rowsOf(first, "public.items").Table != "" {
		t.Fatalf("first cycle: left running %d, items reported %+v; want items left running", first.LeftRunning, rowsOf(first, "public.items"))
	}
	// Later cycles leave items out and sync the others while it is blocked.
	dc := p.dst.Connect(t, "app")
	var events int
	sawStillRunning := false
	for i := 0; i < 200 && events == 0; i++ {
		res := cycle()
		if res.StillRunning > 0 {
			sawStillRunning = true
		}
		if rowsOf(res, "public.items").Table != "" {
			t.Fatalf("cycle %d synced items while its earlier read was blocked", i)
		}
		if err := dc.QueryRow(ctx, "SELECT count(*) FROM events WHERE id = 2001").Scan(&events); err != nil {
			t.Fatal(err)
		}
	}
	if events != 1 || !sawStillRunning {
		t.Fatalf("while items was blocked: events row on the target %d times, a cycle left items out: %v", events, sawStillRunning)
	}
	p.src.Exec(t, "app", `UPDATE items SET name = 'after' WHERE id = 20`)
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	carry.Wait()
	next := cycle()
	if tr := rowsOf(next, "public.items"); !tr.Earlier || tr.Upserted < 10 {
		t.Errorf("after the lock: items reported %+v, want the earlier cycle's result (10 rows upserted)", tr)
	}
	opts.WaitAtMost = 0
	cycle()
	p.assertEqual(t, tables)
}
