package streamapply

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// pair is a source and a target cluster with database "app" on each, and a
// target role "applier" without superuser or REPLICATION that owns the
// target tables.
type pair struct {
	src, dst *pgtest.Cluster
}

const applierPassword = "applier-pw"

func startPair(t *testing.T) *pair {
	t.Helper()
	// A small logical_decoding_work_mem makes the source stream large
	// transactions while they are in progress (protocol version 2).
	p := &pair{src: pgtest.Start(t, pgtest.WithSetting("logical_decoding_work_mem", "64kB")), dst: pgtest.Start(t)}
	p.src.CreateDatabase(t, "app")
	p.dst.CreateDatabase(t, "app")
	p.dst.CreateRole(t, "applier", applierPassword)
	p.dst.Exec(t, "postgres", `GRANT CREATE ON DATABASE app TO applier`)
	p.dst.Exec(t, "app", `GRANT CREATE ON SCHEMA public TO applier`)
	return p
}

// exec runs statements on one side; on the target as the applier role, so
// that the tables are its own.
func (p *pair) execSrc(t *testing.T, sql string) { t.Helper(); p.src.Exec(t, "app", sql) }

func (p *pair) execDst(t *testing.T, sql string) {
	t.Helper()
	p.dst.Exec(t, "app", "SET ROLE applier; "+sql)
}

// targetInfo is the applier role's connection to the target.
func (p *pair) targetInfo(t *testing.T) conninfo.Info {
	t.Helper()
	u, err := url.Parse(p.dst.URL("app"))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("applier", applierPassword)
	return mustInfo(t, u.String())
}

func mustInfo(t *testing.T, s string) conninfo.Info {
	t.Helper()
	info, err := conninfo.ParseURL(s)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// running is an Applier running in a goroutine.
type running struct {
	a      *Applier
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // Run's error, set before done closes
}

func (p *pair) startApplier(t *testing.T, cfg Config, hold bool) *running {
	t.Helper()
	return p.startApplierAt(t, cfg, hold, false)
}

func (p *pair) startApplierAt(t *testing.T, cfg Config, hold, atSlot bool) *running {
	t.Helper()
	return p.startApplierWith(t, cfg, func(a *Applier) { a.holdFeedback, a.startAtSlot = hold, atSlot })
}

// startApplierWith starts an Applier that set changes (test-only fields)
// before it runs.
func (p *pair) startApplierWith(t *testing.T, cfg Config, set func(*Applier)) *running {
	t.Helper()
	cfg.Source = mustInfo(t, p.src.URL("app"))
	cfg.Target = p.targetInfo(t)
	cfg.SpoolDir = t.TempDir()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	set(a)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{a: a, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = a.Run(ctx)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop ends the applier and fails the test when it had ended with an error.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	<-r.done
	if r.err != nil && !errors.Is(r.err, context.Canceled) {
		t.Errorf("applier: %v", r.err)
	}
}

// waitFailed waits until the applier stops on its own and checks that its
// error contains want; what names the cause for the timeout message.
func (r *running) waitFailed(t *testing.T, what, want string) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the applier did not stop on %s", what)
	}
	r.cancel = nil
	if r.err == nil || !strings.Contains(r.err.Error(), want) {
		t.Fatalf("applier error = %v, want one containing %q", r.err, want)
	}
}

// digest is the text of every row of a query's result, sorted.
func digest(t *testing.T, c *pgtest.Cluster, query string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var d *string
	if err := conn.QueryRow(ctx, `SELECT string_agg(r::text, E'\n' ORDER BY r::text) FROM (`+query+`) r`).Scan(&d); err != nil {
		t.Fatalf("digest %s: %v", query, err)
	}
	if d == nil {
		return ""
	}
	return *d
}

// waitEqual polls until the query gives the same rows on both sides (the
// target query may differ, e.g. for a remapped table), failing after a
// generous timeout or when the applier stopped.
func waitEqual(t *testing.T, p *pair, r *running, srcQuery, dstQuery string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		want := digest(t, p.src, srcQuery)
		got := digest(t, p.dst, dstQuery)
		if want == got {
			return
		}
		select {
		case <-r.done:
			t.Fatalf("applier ended: %v", r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("target never matched the source for %s\nsource:\n%.2000s\ntarget:\n%.2000s\nstats: %+v", dstQuery, want, got, r.a.Stats())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func createSlot(t *testing.T, p *pair, slot string) {
	t.Helper()
	p.execSrc(t, fmt.Sprintf(`SELECT pg_create_logical_replication_slot('%s', 'pgoutput')`, slot))
}

func TestApplyChanges(t *testing.T) {
	p := startPair(t)
	schema := `
		CREATE TABLE pk (id int PRIMARY KEY, name text, n numeric, at timestamptz, iv interval, f float8, arr int[], b bytea);
		CREATE TABLE toasted (id int PRIMARY KEY, small int, big text);
		ALTER TABLE toasted ALTER COLUMN big SET STORAGE EXTERNAL;
		CREATE TABLE nopk (a int, b text, j json);
		ALTER TABLE nopk REPLICA IDENTITY FULL;
		CREATE TABLE gen (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a int, g int GENERATED ALWAYS AS (a * 2) STORED);
		CREATE TABLE trunc (id int PRIMARY KEY);
		CREATE SCHEMA s1;
		CREATE TABLE s1.moved (id int PRIMARY KEY, v text);
		CREATE TABLE big (id int PRIMARY KEY, v text);`
	p.execSrc(t, schema)
	// The target: the same tables, one with an extra column, the moved
	// table under another schema.
	p.execDst(t, strings.Replace(strings.Replace(schema, "CREATE SCHEMA s1;", "CREATE SCHEMA s2;", 1),
		"s1.moved", "s2.moved", 1))
	p.execDst(t, `ALTER TABLE pk ADD COLUMN extra int DEFAULT 7`)
	p.execSrc(t, `CREATE PUBLICATION pub FOR TABLE pk, toasted, nopk, gen, trunc, s1.moved, big`)
	createSlot(t, p, "slot_a")
	r := p.startApplier(t, Config{
		Replication: "r1", Slot: "slot_a", Publications: []string{"pub"},
		Remap: func(schema, table string) (string, string) {
			if schema == "s1" {
				return "s2", table
			}
			return schema, table
		},
	}, false)

	t.Run("insert update delete", func(t *testing.T) {
		p.execSrc(t, `INSERT INTO pk SELECT g, 'n' || g, g * 1.5, '2024-01-02 03:04:05.123456+02', '1 day 2 hours', 1.0 / 3, ARRAY[g, NULL], '\x00ff'
			FROM generate_series(1, 500) g`)
		p.execSrc(t, `BEGIN; UPDATE pk SET name = 'changed' WHERE id % 7 = 0; DELETE FROM pk WHERE id % 11 = 0;
			UPDATE pk SET id = id + 1000 WHERE id = 3; INSERT INTO pk (id, name) VALUES (2000, NULL); COMMIT`)
		q := `SELECT id, name, n, at, iv, f, arr, b FROM pk`
		waitEqual(t, p, r, q, q)
		if n := p.dst.QueryInt(t, "app", `SELECT count(*) FROM pk WHERE extra IS DISTINCT FROM 7`); n != 0 {
			t.Errorf("%d rows lost the target-only column's default", n)
		}
	})

	t.Run("unchanged TOAST value kept", func(t *testing.T) {
		p.execSrc(t, `INSERT INTO toasted SELECT g, 0, (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 400) i)
			FROM generate_series(1, 5) g`)
		p.execSrc(t, `UPDATE toasted SET small = small + 1`)
		q := `SELECT id, small, md5(big) FROM toasted`
		waitEqual(t, p, r, q, q)
		if n := p.dst.QueryInt(t, "app", `SELECT count(*) FROM toasted WHERE big IS NULL OR length(big) <> 12800 OR small <> 1`); n != 0 {
			t.Errorf("%d rows lost their unchanged TOASTed value", n)
		}
	})

	t.Run("replica identity full without a key", func(t *testing.T) {
		p.execSrc(t, `INSERT INTO nopk VALUES (1, 'x', '{"a": 1}'), (1, 'x', '{"a": 1}'), (2, NULL, NULL), (3, 'y', '[1, 2]')`)
		p.execSrc(t, `UPDATE nopk SET b = 'one' WHERE ctid = (SELECT min(ctid) FROM nopk WHERE a = 1)`)
		p.execSrc(t, `UPDATE nopk SET b = 'was null' WHERE a = 2`)
		p.execSrc(t, `DELETE FROM nopk WHERE a = 3`)
		q := `SELECT a, b, j::text FROM nopk`
		waitEqual(t, p, r, q, q)
	})

	t.Run("identity and generated columns", func(t *testing.T) {
		p.execSrc(t, `INSERT INTO gen (a) SELECT g FROM generate_series(1, 10) g`)
		p.execSrc(t, `UPDATE gen SET a = a + 100 WHERE id <= 3`)
		q := `SELECT id, a, g FROM gen`
		waitEqual(t, p, r, q, q)
	})

	t.Run("truncate", func(t *testing.T) {
		p.execSrc(t, `INSERT INTO trunc SELECT generate_series(1, 50)`)
		waitEqual(t, p, r, `SELECT * FROM trunc`, `SELECT * FROM trunc`)
		p.execSrc(t, `BEGIN; TRUNCATE trunc; INSERT INTO trunc VALUES (99); COMMIT`)
		waitEqual(t, p, r, `SELECT * FROM trunc`, `SELECT * FROM trunc`)
		if n := p.dst.QueryInt(t, "app", `SELECT count(*) FROM trunc`); n != 1 {
			t.Errorf("target has %d rows after TRUNCATE and one insert, want 1", n)
		}
	})

	t.Run("remapped schema", func(t *testing.T) {
		p.execSrc(t, `INSERT INTO s1.moved SELECT g, 'v' FROM generate_series(1, 20) g; UPDATE s1.moved SET v = 'w' WHERE id < 5; DELETE FROM s1.moved WHERE id = 20`)
		waitEqual(t, p, r, `SELECT * FROM s1.moved`, `SELECT * FROM s2.moved`)
		if n := p.dst.QueryInt(t, "app", `SELECT count(*) FROM pg_tables WHERE schemaname = 's1'`); n != 0 {
			t.Errorf("target has %d tables in the source schema s1", n)
		}
	})

	t.Run("large streamed transactions", func(t *testing.T) {
		if p.src.Major() < 14 {
			t.Skip("streaming of in-progress transactions needs PostgreSQL 14")
		}
		// One large committed transaction with a rolled back
		// subtransaction, one large aborted transaction.
		p.execSrc(t, `BEGIN;
			INSERT INTO big SELECT g, repeat('x', 50) FROM generate_series(1, 20000) g;
			SAVEPOINT sp; INSERT INTO big SELECT g, 'rolled back' FROM generate_series(30001, 35000) g; ROLLBACK TO SAVEPOINT sp;
			UPDATE big SET v = 'updated' WHERE id % 3 = 0;
			DELETE FROM big WHERE id % 5 = 0;
			COMMIT`)
		p.execSrc(t, `BEGIN; INSERT INTO big SELECT g, 'aborted' FROM generate_series(40001, 60000) g; ROLLBACK`)
		p.execSrc(t, `INSERT INTO big VALUES (-1, 'after')`)
		q := `SELECT id, v FROM big`
		waitEqual(t, p, r, q, q)
		st := r.a.Stats()
		t.Logf("stats: %+v", st)
		if st.StreamedTransactions == 0 {
			t.Errorf("no transaction was streamed in progress (stats %+v): the test does not exercise protocol v2 streaming", st)
		}
	})

	t.Run("progress recorded", func(t *testing.T) {
		p.execSrc(t, `INSERT INTO trunc VALUES (1000)`)
		var lsn string
		ctx := context.Background()
		conn := p.src.Connect(t, "app")
		if err := conn.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
			t.Fatal(err)
		}
		waitEqual(t, p, r, `SELECT * FROM trunc`, `SELECT * FROM trunc`)
		dst := p.dst.Connect(t, "app")
		pr, ok, err := ReadProgress(ctx, dst, "r1")
		if err != nil || !ok {
			t.Fatalf("ReadProgress: ok %v, %v", ok, err)
		}
		if pr.AppliedLSN.String() == "0/0" || pr.SourceCommitTime == nil || pr.RowsApplied == 0 {
			t.Errorf("progress %+v lacks the applied position, commit time or rows", pr)
		}
		var behind bool
		if err := conn.QueryRow(ctx, `SELECT $1::pg_lsn > $2::pg_lsn`, lsn, pr.AppliedLSN.String()).Scan(&behind); err != nil {
			t.Fatal(err)
		}
		if behind {
			t.Errorf("applied LSN %s is before the last insert's %s although its row is on the target", pr.AppliedLSN, lsn)
		}
	})

	t.Run("reconnect after the walsender is terminated", func(t *testing.T) {
		p.execSrc(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_replication WHERE application_name = 'database-replicator stream r1'`)
		p.execSrc(t, `INSERT INTO trunc VALUES (2000)`)
		waitEqual(t, p, r, `SELECT * FROM trunc`, `SELECT * FROM trunc`)
		if st := r.a.Stats(); st.Reconnects == 0 {
			t.Errorf("the applier did not reconnect: %+v", st)
		}
	})

	t.Run("captured DDL and a table's new shape", func(t *testing.T) {
		// As policy.capture_ddl does: a log table whose target copy runs
		// each statement as its row is inserted. The applier starts once
		// everything is committed, so it receives it all at once and would
		// group it in one target transaction.
		p.execSrc(t, `CREATE TYPE mood AS ENUM ('sad');
			CREATE TABLE shaped (id int PRIMARY KEY, n int, feel mood);
			CREATE TABLE ddl (seq int PRIMARY KEY, stmt text)`)
		p.execDst(t, `CREATE TYPE mood AS ENUM ('sad');
			CREATE TABLE shaped (id int PRIMARY KEY, n int, feel mood);
			CREATE TABLE ddl (seq int PRIMARY KEY, stmt text);
			CREATE FUNCTION replay() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN EXECUTE NEW.stmt; RETURN NEW; END$$;
			CREATE TRIGGER replay BEFORE INSERT ON ddl FOR EACH ROW EXECUTE PROCEDURE replay();
			ALTER TABLE ddl ENABLE ALWAYS TRIGGER replay`)
		p.execSrc(t, `CREATE PUBLICATION pub_ddl FOR TABLE shaped, ddl`)
		createSlot(t, p, "slot_ddl")
		// One-row statements are prepared; after the type change the same
		// statements must be prepared again (their parameters were int).
		p.execSrc(t, `INSERT INTO shaped VALUES (1, 1, 'sad')`)
		p.execSrc(t, `UPDATE shaped SET n = 2 WHERE id = 1`)
		p.execSrc(t, `BEGIN; ALTER TABLE shaped ALTER n TYPE bigint; INSERT INTO ddl VALUES (1, 'ALTER TABLE shaped ALTER n TYPE bigint'); COMMIT`)
		p.execSrc(t, `INSERT INTO shaped VALUES (2, 5000000000, 'sad')`)
		p.execSrc(t, `UPDATE shaped SET n = 6000000000 WHERE id = 1`)
		// A new enum value cannot be used in the transaction that added it:
		// the log's transaction ends its target transaction.
		p.execSrc(t, `ALTER TYPE mood ADD VALUE 'happy'`)
		p.execSrc(t, `INSERT INTO ddl VALUES (2, 'ALTER TYPE mood ADD VALUE ''happy''')`)
		p.execSrc(t, `INSERT INTO shaped VALUES (3, 3, 'happy')`)
		ddl := p.startApplierWith(t, Config{Replication: "r_ddl", Slot: "slot_ddl", Publications: []string{"pub_ddl"},
			DDLLog: TableName{Schema: "public", Table: "ddl"}, MaxGroupDelay: time.Minute}, func(a *Applier) { a.idleWait = time.Second })
		q := `SELECT id, n, feel FROM shaped`
		waitEqual(t, p, ddl, q, q)
		ddl.stop(t)
	})

	t.Run("restart skips what the target committed", func(t *testing.T) {
		p.execSrc(t, `CREATE TABLE dup (a int)`)
		p.execDst(t, `CREATE TABLE dup (a int)`)
		p.execSrc(t, `CREATE PUBLICATION pub2 FOR TABLE dup`)
		createSlot(t, p, "slot_b")
		flushed := func() string {
			return digest(t, p.src, `SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'slot_b'`)
		}
		start := flushed()
		cfg := Config{Replication: "r2", Slot: "slot_b", Publications: []string{"pub2"}, StatusInterval: 100 * time.Millisecond}
		// The first applier reports nothing flushed: the source will send
		// its transactions again.
		held := p.startApplier(t, cfg, true)
		for i := 0; i < 3; i++ {
			p.execSrc(t, fmt.Sprintf(`INSERT INTO dup SELECT %d FROM generate_series(1, 100)`, i))
		}
		waitEqual(t, p, held, `SELECT * FROM dup`, `SELECT * FROM dup`)
		held.stop(t)
		if got := flushed(); got != start {
			t.Fatalf("slot moved from %s to %s although no flush was reported", start, got)
		}
		// Started at the slot's position, the source sends the three
		// transactions again: the applier skips them by the stored LSN.
		atSlot := p.startApplierAt(t, cfg, true, true)
		p.execSrc(t, `INSERT INTO dup SELECT 9 FROM generate_series(1, 10)`)
		waitEqual(t, p, atSlot, `SELECT * FROM dup`, `SELECT * FROM dup`)
		if st := atSlot.a.Stats(); st.Rows != 10 {
			t.Errorf("started at the slot, the applier applied %d rows, want only the 10 new ones: %+v", st.Rows, st)
		}
		atSlot.stop(t)
		again := p.startApplier(t, cfg, false)
		p.execSrc(t, `INSERT INTO dup SELECT 3 FROM generate_series(1, 100)`)
		waitEqual(t, p, again, `SELECT * FROM dup`, `SELECT * FROM dup`)
		if n := p.dst.QueryInt(t, "app", `SELECT count(*) FROM dup`); n != 410 {
			t.Errorf("target has %d rows, want 410 (transactions applied twice or lost)", n)
		}
		if st := again.a.Stats(); st.Rows != 100 {
			t.Errorf("the restarted applier applied %d rows, want only the 100 new ones: %+v", st.Rows, st)
		}
		// The slot now moves up to what the target committed.
		dst := p.dst.Connect(t, "app")
		pr, _, err := ReadProgress(context.Background(), dst, "r2")
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for {
			var ok bool
			conn := p.src.Connect(t, "app")
			if err := conn.QueryRow(context.Background(), `SELECT confirmed_flush_lsn >= $1::pg_lsn FROM pg_replication_slots WHERE slot_name = 'slot_b'`,
				pr.AppliedLSN.String()).Scan(&ok); err != nil {
				t.Fatal(err)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("slot's confirmed_flush_lsn %s never reached the applied %s", flushed(), pr.AppliedLSN)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("row filter with rows moving in and out", func(t *testing.T) {
		if p.src.Major() < 15 {
			t.Skip("publication row filters need PostgreSQL 15")
		}
		p.execSrc(t, `CREATE TABLE flt (id int PRIMARY KEY, v int, note text); ALTER TABLE flt REPLICA IDENTITY FULL`)
		p.execDst(t, `CREATE TABLE flt (id int PRIMARY KEY, v int, note text)`)
		p.execSrc(t, `CREATE PUBLICATION pub3 FOR TABLE flt WHERE (v > 10)`)
		createSlot(t, p, "slot_c")
		r := p.startApplier(t, Config{Replication: "r3", Slot: "slot_c", Publications: []string{"pub3"}}, false)
		p.execSrc(t, `INSERT INTO flt SELECT g, g, 'n' FROM generate_series(1, 20) g`)
		p.execSrc(t, `UPDATE flt SET v = v + 10 WHERE id <= 5`)              // moving in
		p.execSrc(t, `UPDATE flt SET v = v - 10 WHERE id BETWEEN 16 AND 18`) // moving out
		p.execSrc(t, `UPDATE flt SET note = 'kept' WHERE id = 20`)           // staying in
		p.execSrc(t, `UPDATE flt SET note = 'outside' WHERE id = 7`)         // staying out
		p.execSrc(t, `DELETE FROM flt WHERE id IN (19, 8)`)
		waitEqual(t, p, r, `SELECT * FROM flt WHERE v > 10`, `SELECT * FROM flt`)
		if n := p.dst.QueryInt(t, "app", `SELECT count(*) FROM flt WHERE v <= 10`); n != 0 {
			t.Errorf("%d rows outside the filter on the target", n)
		}
	})

	t.Run("applier-side row filter", func(t *testing.T) {
		// As for a source before PostgreSQL 15: the publication carries no
		// filter; the applier filters with the one the copy recorded.
		p.execSrc(t, `CREATE TABLE af (id int PRIMARY KEY, v int, note text, big text);
			ALTER TABLE af REPLICA IDENTITY FULL; ALTER TABLE af ALTER COLUMN big SET STORAGE EXTERNAL;
			CREATE TABLE kf (id int PRIMARY KEY, v int, big text); ALTER TABLE kf ALTER COLUMN big SET STORAGE EXTERNAL;
			CREATE TABLE kt (id int PRIMARY KEY, big text); ALTER TABLE kt ALTER COLUMN big SET STORAGE EXTERNAL`)
		p.execDst(t, `CREATE TABLE af (id int PRIMARY KEY, v int, note text, big text);
			CREATE TABLE kf (id int PRIMARY KEY, v int, big text); CREATE TABLE kt (id int PRIMARY KEY, big text)`)
		p.execSrc(t, `CREATE PUBLICATION pub4 FOR TABLE af, kf; CREATE PUBLICATION pub5 FOR TABLE kt`)
		createSlot(t, p, "slot_d")
		createSlot(t, p, "slot_e")
		ctx := context.Background()
		cfg, err := p.targetInfo(t).ConnConfig()
		if err != nil {
			t.Fatal(err)
		}
		dst, err := pgx.ConnectConfig(ctx, cfg) // the applier's role, as apply's copy
		if err != nil {
			t.Fatal(err)
		}
		defer dst.Close(ctx)
		for _, f := range []struct{ repl, table, filter string }{
			{"r4", "af", `v > 10`}, {"r4", "kf", `id % 2 = 0`}, {"r5", "kt", `id > 100`},
		} {
			if err := RecordTableFilter(ctx, dst, f.repl, "public", f.table, f.filter); err != nil {
				t.Fatal(err)
			}
		}
		r := p.startApplier(t, Config{Replication: "r4", Slot: "slot_d", Publications: []string{"pub4"}}, false)
		big := `(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 300) i)`
		p.execSrc(t, `INSERT INTO af SELECT g, g, 'n', `+big+` FROM generate_series(1, 20) g`)
		p.execSrc(t, `UPDATE af SET v = v + 10 WHERE id <= 5`)              // moving in, big unchanged (TOASTed)
		p.execSrc(t, `UPDATE af SET v = v - 10 WHERE id BETWEEN 16 AND 18`) // moving out
		p.execSrc(t, `UPDATE af SET note = 'kept' WHERE id = 20`)           // staying in
		p.execSrc(t, `UPDATE af SET note = 'outside' WHERE id = 7`)         // staying out
		p.execSrc(t, `DELETE FROM af WHERE id IN (19, 8)`)
		p.execSrc(t, `INSERT INTO kf SELECT g, g, 'b' FROM generate_series(1, 10) g`)
		p.execSrc(t, `UPDATE kf SET v = -v`)                           // staying in or out
		p.execSrc(t, `UPDATE kf SET id = id + 100 WHERE id IN (1, 2)`) // key changes staying out (101) and in (102)
		p.execSrc(t, `UPDATE kf SET id = 14 WHERE id = 3`)             // moving in by its key
		p.execSrc(t, `UPDATE kf SET id = 15 WHERE id = 4`)             // moving out by its key
		waitEqual(t, p, r, `SELECT id, v, note, md5(big) FROM af WHERE v > 10`, `SELECT id, v, note, md5(big) FROM af`)
		waitEqual(t, p, r, `SELECT * FROM kf WHERE id % 2 = 0`, `SELECT * FROM kf`)
		if n := p.dst.QueryInt(t, "app", `SELECT count(*) FROM af WHERE big IS NULL OR v <= 10`); n != 0 {
			t.Errorf("%d target rows of af lack their TOASTed value or are outside the filter", n)
		}
		// A key change moving a row into the filter without its unchanged
		// TOASTed value: the applier stops and says what to do.
		k := p.startApplier(t, Config{Replication: "r5", Slot: "slot_e", Publications: []string{"pub5"}}, false)
		p.execSrc(t, `INSERT INTO kt VALUES (1, `+big+`)`)
		p.execSrc(t, `UPDATE kt SET id = 101`)
		select {
		case <-k.done:
		case <-time.After(2 * time.Minute):
			t.Fatal("the applier did not stop on a row moving in without its TOASTed value")
		}
		if k.err == nil || !strings.Contains(k.err.Error(), "REPLICA IDENTITY FULL") {
			t.Errorf("applier ended with %v, want the moved-in row's error naming REPLICA IDENTITY FULL", k.err)
		}
		k.cancel = nil
		if n := p.dst.QueryInt(t, "app", `SELECT count(*) FROM kt`); n != 0 {
			t.Errorf("target kt has %d rows, want none (the row moved in without its value must not be inserted)", n)
		}
	})

	t.Run("renamed source column", func(t *testing.T) {
		// A rename looks like a new column and a missing one: adding the
		// new one would leave the target's rows without their values, so
		// the applier stops before the first row in the new shape.
		p.execSrc(t, `CREATE TABLE drift_rename (id int PRIMARY KEY, label text)`)
		p.execDst(t, `CREATE TABLE drift_rename (id int PRIMARY KEY, label text)`)
		p.execSrc(t, `CREATE PUBLICATION pub_drift_rename FOR TABLE drift_rename`)
		createSlot(t, p, "slot_drift_rename")
		r := p.startApplier(t, Config{Replication: "drift_rename", Slot: "slot_drift_rename", Publications: []string{"pub_drift_rename"}, NewColumns: NewColumnsAdd}, false)
		p.execSrc(t, `INSERT INTO drift_rename VALUES (1, 'a')`)
		waitEqual(t, p, r, `SELECT * FROM drift_rename`, `SELECT * FROM drift_rename`)
		p.execSrc(t, `ALTER TABLE drift_rename RENAME COLUMN label TO title; INSERT INTO drift_rename VALUES (2, 'b')`)
		r.waitFailed(t, "the renamed column", `has column(s) "title" that target table "public"."drift_rename" lacks, and rows without its column(s) "label": a rename`)
		if n := p.dst.QueryInt(t, "app", `SELECT count(*) FROM pg_attribute WHERE attrelid = 'drift_rename'::regclass AND attname = 'title'`); n != 0 {
			t.Errorf("the applier added the renamed column")
		}
	})

	t.Run("new source column", func(t *testing.T) {
		for _, tc := range []struct {
			table  string
			policy NewColumnPolicy
		}{{"drift_add", NewColumnsAdd}, {"drift_ignore", NewColumnsIgnore}} {
			p.execSrc(t, `CREATE TABLE `+tc.table+` (id int PRIMARY KEY, a int); ALTER TABLE `+tc.table+` REPLICA IDENTITY FULL`)
			p.execDst(t, `CREATE TABLE `+tc.table+` (id int PRIMARY KEY, a int)`)
			p.execSrc(t, `CREATE PUBLICATION pub_`+tc.table+` FOR TABLE `+tc.table)
			createSlot(t, p, "slot_"+tc.table)
			r := p.startApplier(t, Config{Replication: tc.table, Slot: "slot_" + tc.table, Publications: []string{"pub_" + tc.table}, NewColumns: tc.policy}, false)
			p.execSrc(t, `INSERT INTO `+tc.table+` SELECT g, g FROM generate_series(1, 5) g`)
			waitEqual(t, p, r, `SELECT * FROM `+tc.table, `SELECT * FROM `+tc.table)
			p.execSrc(t, `ALTER TABLE `+tc.table+` ADD COLUMN b numeric(10,2)`)
			p.execSrc(t, `INSERT INTO `+tc.table+` VALUES (6, 6, 1.25); UPDATE `+tc.table+` SET b = 2.5, a = 0 WHERE id = 1; DELETE FROM `+tc.table+` WHERE id = 2`)
			if tc.policy == NewColumnsAdd {
				waitEqual(t, p, r, `SELECT * FROM `+tc.table, `SELECT * FROM `+tc.table)
				if typ := digest(t, p.dst, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '`+tc.table+`'::regclass AND attname = 'b'`); typ != `("numeric(10,2)")` {
					t.Errorf("added column has type %s, want numeric(10,2)", typ)
				}
			} else {
				waitEqual(t, p, r, `SELECT id, a FROM `+tc.table, `SELECT id, a FROM `+tc.table)
				if n := p.dst.QueryInt(t, "app", `SELECT count(*) FROM pg_attribute WHERE attrelid = '`+tc.table+`'::regclass AND attname = 'b'`); n != 0 {
					t.Errorf("the ignore policy added the column")
				}
			}
		}
	})

	t.Run("group commits when nothing more arrives", func(t *testing.T) {
		// No size or age limit ends these groups: each must commit because
		// nothing more arrived after its source transaction.
		p.execSrc(t, `CREATE TABLE idle (id int PRIMARY KEY, v int)`)
		p.execDst(t, `CREATE TABLE idle (id int PRIMARY KEY, v int)`)
		p.execSrc(t, `CREATE PUBLICATION pub_idle FOR TABLE idle`)
		createSlot(t, p, "slot_idle")
		r := p.startApplier(t, Config{Replication: "idle", Slot: "slot_idle", Publications: []string{"pub_idle"},
			MaxGroupChanges: 1 << 30, MaxGroupDelay: 24 * time.Hour}, false)
		for i := 1; i <= 3; i++ {
			p.execSrc(t, fmt.Sprintf(`INSERT INTO idle VALUES (%d, %d)`, i, i))
			waitEqual(t, p, r, `SELECT * FROM idle`, `SELECT * FROM idle`)
		}
		r.stop(t)
	})

	t.Run("a failing statement in the pipeline applies nothing of its group", func(t *testing.T) {
		// The target refuses the third row (a constraint the source lacks):
		// the statements after it in the pipeline, and the rows before it
		// in the same source transaction, must not be committed.
		p.execSrc(t, `CREATE TABLE pfail (id int PRIMARY KEY, v int); CREATE TABLE pother (id int PRIMARY KEY)`)
		p.execDst(t, `CREATE TABLE pfail (id int PRIMARY KEY, v int CHECK (v < 3)); CREATE TABLE pother (id int PRIMARY KEY)`)
		p.execSrc(t, `CREATE PUBLICATION pub_pfail FOR TABLE pfail, pother`)
		createSlot(t, p, "slot_pfail")
		cfg := Config{Replication: "pfail", Slot: "slot_pfail", Publications: []string{"pub_pfail"}}
		r := p.startApplier(t, cfg, false)
		p.execSrc(t, `INSERT INTO pfail VALUES (1, 1)`)
		waitEqual(t, p, r, `SELECT * FROM pfail`, `SELECT * FROM pfail`)
		p.execSrc(t, `BEGIN; INSERT INTO pother VALUES (1); UPDATE pfail SET v = 2 WHERE id = 1; UPDATE pfail SET v = 3 WHERE id = 1;
			INSERT INTO pother VALUES (2); COMMIT`)
		r.waitFailed(t, "the failing statement", "pfail_v_check")
		if got := digest(t, p.dst, `SELECT 'pfail', id, v FROM pfail UNION ALL SELECT 'pother', id, NULL FROM pother`); got != "(pfail,1,1)" {
			t.Errorf("target after the failed group:\n%s\nwant only (pfail,1,1)", got)
		}
		// With the constraint gone the transaction applies whole.
		p.execDst(t, `ALTER TABLE pfail DROP CONSTRAINT pfail_v_check`)
		again := p.startApplier(t, cfg, false)
		waitEqual(t, p, again, `SELECT * FROM pother`, `SELECT * FROM pother`)
		waitEqual(t, p, again, `SELECT * FROM pfail`, `SELECT * FROM pfail`)
		again.stop(t)
	})

	t.Run("a group whose COMMIT fails lets no later group commit", func(t *testing.T) {
		// Groups are pipelined: the next group is sent while the COMMIT of
		// the one before is in flight. A deferred trigger on the target
		// refuses v = 3 at COMMIT; the source transaction after it (its own
		// group: one change per group) must not commit either.
		p.execSrc(t, `CREATE TABLE pcommit (id int PRIMARY KEY, v int); CREATE TABLE pcnext (id int PRIMARY KEY)`)
		p.execDst(t, `CREATE TABLE pcommit (id int PRIMARY KEY, v int); CREATE TABLE pcnext (id int PRIMARY KEY);
			CREATE FUNCTION pc_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN IF NEW.v = 3 THEN RAISE EXCEPTION 'pc_refuse: v = 3 refused at commit'; END IF; RETURN NULL; END $$;
			CREATE CONSTRAINT TRIGGER pc_refuse AFTER INSERT OR UPDATE ON pcommit
				DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pc_refuse();`)
		p.execSrc(t, `CREATE PUBLICATION pub_pcommit FOR TABLE pcommit, pcnext`)
		createSlot(t, p, "slot_pcommit")
		cfg := Config{Replication: "pcommit", Slot: "slot_pcommit", Publications: []string{"pub_pcommit"}, MaxGroupChanges: 1}
		// A COMMIT's result is read only when the next group commits, or
		// after a second without changes: the second transaction arrives
		// well before.
		r := p.startApplierWith(t, cfg, func(a *Applier) { a.idleWait = time.Second })
		// Both relations are known before (a relation message reads every
		// result first).
		p.execSrc(t, `INSERT INTO pcommit VALUES (1, 1); INSERT INTO pcnext VALUES (0)`)
		waitEqual(t, p, r, `SELECT * FROM pcnext`, `SELECT * FROM pcnext`)
		p.execSrc(t, `BEGIN; UPDATE pcommit SET v = 3 WHERE id = 1; COMMIT; BEGIN; INSERT INTO pcnext VALUES (1); COMMIT`)
		r.waitFailed(t, "the failed COMMIT", "v = 3 refused at commit")
		if got := digest(t, p.dst, `SELECT 'pcommit', id, v FROM pcommit UNION ALL SELECT 'pcnext', id, NULL FROM pcnext`); got != "(pcnext,0,)\n(pcommit,1,1)" {
			t.Errorf("target after the failed COMMIT:\n%s\nwant only (pcnext,0,) and (pcommit,1,1)", got)
		}
		if got := digest(t, p.dst, `SELECT applied_lsn FROM database_replicator.stream_progress WHERE replication = 'pcommit'`); got == "" {
			t.Fatal("no progress row for the first group")
		}
		// Without the trigger both transactions apply, in order.
		p.execDst(t, `DROP TRIGGER pc_refuse ON pcommit`)
		again := p.startApplier(t, cfg, false)
		waitEqual(t, p, again, `SELECT * FROM pcnext`, `SELECT * FROM pcnext`)
		waitEqual(t, p, again, `SELECT * FROM pcommit`, `SELECT * FROM pcommit`)
		again.stop(t)
	})

	// Last: the grant below lets the applier role set
	// session_replication_role, as a superuser target does.
	t.Run("inserts batched across updates of other tables", func(t *testing.T) {
		schema := `CREATE TABLE sa_acct (id int PRIMARY KEY, v int);
			CREATE TABLE sa_hist (id int PRIMARY KEY, acct int, v int);
			CREATE TABLE sa_seen (id int PRIMARY KEY, v int, seen int);`
		p.execSrc(t, schema)
		p.execDst(t, schema+`
			CREATE FUNCTION sa_count() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN NEW.seen := (SELECT count(*) FROM sa_hist); RETURN NEW; END $$;
			CREATE TRIGGER sa_count BEFORE UPDATE ON sa_seen FOR EACH ROW EXECUTE FUNCTION sa_count();
			ALTER TABLE sa_seen ENABLE ALWAYS TRIGGER sa_count;`)
		p.dst.Exec(t, "postgres", `GRANT SET ON PARAMETER session_replication_role TO applier`)
		p.execSrc(t, `CREATE PUBLICATION pub_sa FOR TABLE sa_acct, sa_hist, sa_seen`)
		createSlot(t, p, "slot_sa")
		r := p.startApplier(t, Config{Replication: "sa", Slot: "slot_sa", Publications: []string{"pub_sa"}}, false)
		p.execSrc(t, `INSERT INTO sa_acct SELECT g, 0 FROM generate_series(0, 9) g; INSERT INTO sa_seen SELECT g FROM generate_series(0, 9) g`)
		waitEqual(t, p, r, `SELECT id, v FROM sa_seen`, `SELECT id, v FROM sa_seen`)
		before := r.a.Stats()

		// pgbench -N's shape: each history insert between two updates
		// of another table. Both are standalone: one INSERT takes all
		// 100 rows (about 104 statements in all, not 203).
		p.execSrc(t, `DO $$ BEGIN FOR i IN 1..100 LOOP
			INSERT INTO sa_hist VALUES (i, i % 10, i); UPDATE sa_acct SET v = v + i WHERE id = i % 10;
			END LOOP; END $$`)
		waitEqual(t, p, r, `SELECT * FROM sa_hist`, `SELECT * FROM sa_hist`)
		waitEqual(t, p, r, `SELECT * FROM sa_acct`, `SELECT * FROM sa_acct`)
		after := r.a.Stats()
		if n := after.Statements - before.Statements; n >= 150 {
			t.Errorf("%d statements for 100 inserts interleaved with 100 updates of another table: the inserts were not batched", n)
		}

		// sa_seen has a trigger that fires on the target (ALWAYS) and
		// reads sa_hist: the inserts before each update must be there
		// when it fires, so its updates keep the source order.
		p.execSrc(t, `DO $$ BEGIN FOR i IN 101..110 LOOP
			INSERT INTO sa_hist VALUES (i, i % 10, i); UPDATE sa_seen SET v = i WHERE id = i % 10;
			END LOOP; END $$`)
		waitEqual(t, p, r, `SELECT id, v FROM sa_seen`, `SELECT id, v FROM sa_seen`)
		if got := digest(t, p.dst, `SELECT id, v, seen FROM sa_seen WHERE seen IS DISTINCT FROM v`); got != "" {
			t.Errorf("the trigger on sa_seen saw sa_hist without the rows inserted before the update (v = rows expected, seen = rows seen):\n%s", got)
		}
	})
}
