package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// resumeBigRows is the size of the table the kill lands in.
const resumeBigRows = 100_000

// resumeGate makes the copy of big wait, on the target only, at the row
// with id resumeGateID until the file named by the target's setting
// resume.gate (relative to its data directory) exists: the kill lands
// mid-copy however fast the machine is. The source has no such setting,
// so nothing waits there.
const resumeGate = `CREATE FUNCTION resume_gate(x bigint) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	gate text := pg_catalog.current_setting('resume.gate', true);
BEGIN
	IF x <> 50000 OR coalesce(gate, '') = '' THEN
		RETURN true;
	END IF;
	WHILE (pg_catalog.pg_stat_file(gate, true)).size IS NULL LOOP
		PERFORM pg_catalog.pg_sleep(0.02);
	END LOOP;
	RETURN true;
END $$;
CREATE DOMAIN gated_id AS bigint CHECK (resume_gate(VALUE))`

// TestFaultStreamResumesSnapshot kills apply (SIGKILL) with the stream engine
// in the middle of the large table's copy (held there by resumeGate), after the small tables were
// copied, with a writer changing every table (the large one too, and a
// table without a key). The rerun keeps the slot and the tables already
// copied (their rows on the target are the same row versions: their xmin
// did not change), copies only the large table again, in a new snapshot,
// and sync then makes every table exact (row digests, verify exit 0).
// It takes over a minute: it is part of the fault suite.
func TestFaultStreamResumesSnapshot(t *testing.T) {
	if os.Getenv("REPLICATOR_FAULTS") == "" {
		t.Skip("fault suite: run with REPLICATOR_FAULTS=1 (make test-faults)")
	}
	src := pgtest.Start(t)
	dst := pgtest.Start(t, pgtest.WithSetting("resume.gate", "resume_gate_open"))
	src.CreateDatabase(t, "app")
	src.Exec(t, "app", resumeGate)
	src.Exec(t, "app", fmt.Sprintf(`CREATE TABLE big (id gated_id PRIMARY KEY, payload text);
		INSERT INTO big SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, %d) g;
		CREATE TABLE accounts (id int PRIMARY KEY, name text NOT NULL);
		INSERT INTO accounts SELECT g, 'a' || g FROM generate_series(1, 20000) g;
		CREATE TABLE live (id int PRIMARY KEY, n int);
		INSERT INTO live SELECT g, 0 FROM generate_series(1, 100) g;
		CREATE TABLE bulk (a int, b text);
		INSERT INTO bulk SELECT g, 'seed' FROM generate_series(1, 1000) g`, resumeBigRows))
	src.Exec(t, "app", `VACUUM ANALYZE`)
	dir := t.TempDir()
	c := newCLI(t, logicalConfig(dir, "app", `  sync {
    method = "stream"
  }
  snapshot {
    jobs = 2
  }
  table "app.public.bulk" {
    replica_identity = "full"
  }`), "REPLICATOR_VAR_source_url="+src.URL("postgres"), "REPLICATOR_VAR_target_url="+dst.URL("postgres"))
	statePath := filepath.Join(dir, "state.json")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wctx, stopWriter := context.WithCancel(ctx)
	writerDone := make(chan error, 1)
	go func() { writerDone <- resumeWriter(wctx, src.URL("app")) }()
	defer func() { stopWriter(); <-writerDone }()

	// The first apply is killed while big is copying and every other
	// table is copied.
	var out bytes.Buffer
	first := c.cmd("apply", "--auto-approve")
	first.Stdout, first.Stderr = &out, &out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	table := func(name string) string { return `replication.main.table["app.public.` + name + `"]` }
	deadline := time.Now().Add(3 * time.Minute)
	for killed := false; !killed; {
		select {
		case err := <-exited:
			t.Fatalf("apply ended (%v) before the kill point:\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		st := readStatuses(statePath)
		if st[table("big")] == "in_progress" && st[table("accounts")] == "done" && st[table("live")] == "done" &&
			st[table("bulk")] == "done" && copyProgress(dst, "app") > 0 {
			if err := first.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-exited
			killed = true
		}
		if time.Now().After(deadline) {
			_ = first.Process.Kill()
			<-exited
			t.Fatalf("kill point not reached; state: %v\n%s", st, out.String())
		}
	}
	// The killed copy's session (and the rerun's copy) may go on.
	if err := os.WriteFile(filepath.Join(dst.DataDir(), "resume_gate_open"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The row versions of a kept table: a copy again would write new ones.
	const versions = `SELECT md5(string_agg(xmin::text, ',' ORDER BY id)) FROM accounts`
	accountsBefore := queryText(t, dst, "app", versions)
	slotBefore := queryText(t, src, "postgres", `SELECT slot_name || ' ' || restart_lsn FROM pg_replication_slots WHERE database = 'app'`)

	plan := c.must("plan")
	for _, want := range []string{"The interrupted snapshot resumes", table("big") + " will be replaced",
		"3 table(s) copied in its snapshot are kept (app.public.accounts, app.public.bulk, app.public.live)"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan after the kill lacks %q:\n%s", want, plan)
		}
	}
	for _, unwanted := range []string{`slot["app"] will be`, table("accounts") + " will be", table("live") + " will be", table("bulk") + " will be"} {
		if strings.Contains(plan, unwanted) {
			t.Errorf("plan after the kill has %q:\n%s", unwanted, plan)
		}
	}
	rerun := c.must("apply", "--auto-approve")
	if !strings.Contains(rerun, "Apply complete.") {
		t.Fatalf("apply after the kill did not complete:\n%s", rerun)
	}
	if got := queryText(t, dst, "app", versions); got != accountsBefore {
		t.Errorf("accounts was copied again by the rerun (its row versions changed)")
	}
	if got := queryText(t, src, "postgres", `SELECT slot_name || ' ' || restart_lsn FROM pg_replication_slots WHERE database = 'app'`); !strings.HasPrefix(got, strings.Fields(slotBefore)[0]+" ") {
		t.Errorf("slot after the rerun: %q, before: %q", got, slotBefore)
	}
	if n := src.QueryInt(t, "postgres", `SELECT count(*) FROM pg_replication_slots`); n != 1 {
		t.Errorf("%d replication slots on the source after the rerun, want 1 (the temporary one must be gone)", n)
	}
	if got := queryText(t, dst, "app", `SELECT string_agg(table_name, ',' ORDER BY table_name) FROM database_replicator.stream_table_start`); got != "big" {
		t.Errorf("tables with a stream start: %s, want big", got)
	}

	// The stream, from the kept slot's consistent point, converges.
	if err := runSyncOnce(c); err != nil {
		t.Fatal(err)
	}
	stopWriter()
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	writerDone <- nil // for the deferred receive
	c.must("sync", "--once")
	waitDigestsEqual(t, src, dst, "app", time.Minute)
	if v, code := c.run("verify"); code != 0 {
		t.Fatalf("verify: exit %d\n%s", code, v)
	}
}

// runSyncOnce runs one sync --once while the writer goes on.
func runSyncOnce(c *runner) error {
	out, code := c.run("sync", "--once")
	if code != 0 {
		return fmt.Errorf("sync --once: exit %d\n%s", code, out)
	}
	return nil
}

// resumeWriter commits small transactions touching every table of
// TestFaultStreamResumesSnapshot (updates, inserts and deletes in big, an
// update of live, inserts and deletes in bulk, which has no key) until ctx
// ends.
func resumeWriter(ctx context.Context, url string) error {
	return writeUntilDone(ctx, url, func(batch *pgx.Batch, i int) {
		batch.Queue(`UPDATE big SET payload = 'w' || $1::int WHERE id = $2`, i, 1+(i*7919)%resumeBigRows)
		batch.Queue(`INSERT INTO big VALUES ($1, 'new')`, -i)
		batch.Queue(`UPDATE live SET n = n + 1 WHERE id = $1`, 1+i%100)
		batch.Queue(`INSERT INTO bulk VALUES ($1, 'w')`, -i)
		if i%5 == 0 {
			batch.Queue(`DELETE FROM big WHERE id = $1`, -(i - 2))
			batch.Queue(`DELETE FROM big WHERE id = $1`, 1+(i*104729)%resumeBigRows)
			batch.Queue(`DELETE FROM bulk WHERE a = $1`, -(i - 3))
			batch.Queue(`UPDATE accounts SET name = name || '.' WHERE id = $1`, 1+i%20000)
		}
	})
}
