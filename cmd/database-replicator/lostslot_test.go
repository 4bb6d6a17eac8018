package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// lostSlotAccounts is the number of rows of the pgbench-like accounts table.
const lostSlotAccounts = 300_000

// TestLostSlotRepairUnderWrites drops the replication slot by hand while
// the subscription streams and a pgbench -N-like writer updates random
// rows, then repairs it with plan and apply, the writer still running.
// The plan disables the subscription before the slot is replaced and
// enables it after the copies, so its apply worker never applies changes
// to tables being emptied and copied (an UPDATE of a row not yet copied
// would be skipped, and the copy would then bring an older version).
// After catch-up the row digests are equal and verify exits 0.
func TestLostSlotRepairUnderWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("large live test")
	}
	lostSlotRepair(t, "dropped", dropSlotWhileStreaming)
}

// TestFaultLostSlotWALInvalidated is the same repair for a slot that
// max_slot_wal_keep_size invalidated (wal_status = lost) while the target
// was down with its subscription enabled (fault suite: make test-faults).
func TestFaultLostSlotWALInvalidated(t *testing.T) {
	faultSuite(t)
	lostSlotRepair(t, "invalidated", invalidateSlotByWAL)
}

// lostSlotRepair copies a database by logical replication under a writer,
// loses its slot with lose, and checks that plan shows the subscription
// disabled during the re-copy and that apply converges (digests, verify,
// plan without changes).
func lostSlotRepair(t *testing.T, how string, lose func(t *testing.T, src, dst *pgtest.Cluster, slot string)) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH: cannot build the binary")
	}
	bin := filepath.Join(t.TempDir(), "database-replicator")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	src, dst := pgtest.Start(t), pgtest.Start(t)
	src.CreateDatabase(t, "app")
	for _, sql := range []string{
		`CREATE TABLE accounts (aid int PRIMARY KEY, bid int, abalance int NOT NULL, filler char(84))`,
		fmt.Sprintf(`INSERT INTO accounts SELECT g, 1 + g / 100000, 0, '' FROM generate_series(1, %d) g`, lostSlotAccounts),
		`CREATE TABLE history (hid bigserial PRIMARY KEY, aid int, delta int, mtime timestamptz DEFAULT now())`,
		// Ballast copied with one job: the copies take longer than the
		// apply worker's retry interval (5s), so an enabled subscription
		// would attach to the new slot and apply changes before some
		// table is emptied and copied.
		`CREATE TABLE ballast (id int PRIMARY KEY, v text)`,
		`INSERT INTO ballast SELECT g, md5(g::text) FROM generate_series(1, 1500000) g`,
		`VACUUM ANALYZE`,
	} {
		src.Exec(t, "app", sql)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "replication.hcl")
	if err := os.WriteFile(cfg, []byte(`
source "prod" { url = env("SOURCE_URL") }
target "replica" { url = env("TARGET_URL") }
replication "main" {
  source    = source.prod
  target    = target.replica
  databases = ["app"]
  snapshot {
    jobs = 1
  }
}
state { path = "`+filepath.Join(dir, "replicator.state.json")+`" }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "NO_COLOR=1", "SOURCE_URL="+src.URL("postgres"), "TARGET_URL="+dst.URL("postgres"))
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, append([]string{"-c", cfg}, args...)...)
		cmd.Dir, cmd.Env = dir, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit):
			return out.String(), exit.ExitCode()
		case err != nil:
			t.Fatalf("%v: %v", args, err)
		}
		return out.String(), 0
	}

	ctx, stopWriter := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var writes int
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		writes, writeErr = accountsWriter(ctx, src.URL("app"))
	}()
	defer func() { stopWriter(); wg.Wait() }()

	if out, code := run("apply", "--auto-approve"); code != 0 {
		t.Fatalf("first apply: exit %d\n%s", code, out)
	}
	slot := queryText(t, src, "postgres", `SELECT slot_name FROM pg_replication_slots WHERE database = 'app'`)
	waitSubscriptionStreaming(t, src, slot)

	lose(t, src, dst, slot)
	time.Sleep(500 * time.Millisecond) // the worker fails on the lost slot, the writer goes on

	out, code := run("plan")
	t.Logf("plan after the slot was %s:\n%s", how, out)
	if code != 0 {
		t.Fatalf("plan after the slot was %s: exit %d\n%s", how, code, out)
	}
	for _, want := range []string{
		`replication.main.slot["app"] will be replaced`,
		`disable_subscription`,
		`replication.main.subscription["app"] will be updated`,
		`= false -> true`,
		"enable it once the copies are done",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, summarize(out))
		}
	}
	if out, code := run("apply", "--auto-approve"); code != 0 || !strings.Contains(out, "Apply complete.") {
		t.Fatalf("repairing apply: exit %d\n%s", code, out)
	}
	time.Sleep(time.Second) // streaming with the writer on
	stopWriter()
	wg.Wait()
	if writeErr != nil {
		t.Fatalf("writer: %v", writeErr)
	}
	t.Logf("writer committed %d transactions", writes)

	// Catch-up, then the row digests must be equal.
	q := `SELECT count(*)::text || ' ' || coalesce(md5(string_agg(md5(t::text), ',' ORDER BY %s)), '') FROM %s t`
	deadline := time.Now().Add(90 * time.Second)
	for {
		var diff []string
		for tbl, key := range map[string]string{"accounts": "aid", "history": "hid"} {
			s, d := queryText(t, src, "app", fmt.Sprintf(q, key, tbl)), queryText(t, dst, "app", fmt.Sprintf(q, key, tbl))
			if s != d {
				diff = append(diff, fmt.Sprintf("%s: source %s, target %s", tbl, s, d))
			}
		}
		if len(diff) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the target did not converge after the repair:\n%s\n%s", strings.Join(diff, "\n"), accountDiff(t, src, dst))
		}
		time.Sleep(300 * time.Millisecond)
	}
	// Sequences are synced by sync, not streamed: one cycle, then verify
	// compares schema (sequence values included) and rows.
	if out, code := run("sync", "--once"); code != 0 {
		t.Fatalf("sync --once after the repair: exit %d\n%s", code, out)
	}
	if out, code := run("verify"); code != 0 {
		t.Fatalf("verify after the repair: exit %d\n%s", code, out)
	}
	if out, code := run("plan", "--detailed-exitcode"); code != 0 {
		t.Fatalf("plan --detailed-exitcode after the repair: exit %d\n%s", code, summarize(out))
	}
	if enabled := queryText(t, dst, "app", `SELECT subenabled::text FROM pg_subscription`); enabled != "true" {
		t.Fatalf("subscription enabled = %s after the repair", enabled)
	}
}

// accountDiff describes up to 10 accounts whose balance differs.
func accountDiff(t *testing.T, src, dst *pgtest.Cluster) string {
	read := func(c *pgtest.Cluster) map[int]int {
		conn, err := pgx.Connect(context.Background(), c.URL("app"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		rows, err := conn.Query(context.Background(), `SELECT aid, abalance FROM accounts`)
		if err != nil {
			t.Fatal(err)
		}
		m := map[int]int{}
		for rows.Next() {
			var a, b int
			if err := rows.Scan(&a, &b); err != nil {
				t.Fatal(err)
			}
			m[a] = b
		}
		return m
	}
	s, d := read(src), read(dst)
	var out []string
	n := 0
	for a, b := range s {
		if d[a] != b {
			n++
			if len(out) < 10 {
				out = append(out, fmt.Sprintf("aid %d: source %d, target %d", a, b, d[a]))
			}
		}
	}
	return fmt.Sprintf("%d accounts differ, e.g.\n%s", n, strings.Join(out, "\n"))
}

// waitSubscriptionStreaming waits until slot is active and has confirmed
// the source's current WAL position.
func waitSubscriptionStreaming(t *testing.T, src *pgtest.Cluster, slot string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for src.QueryInt(t, "postgres", `SELECT count(*) FROM pg_replication_slots
		WHERE slot_name = $1 AND active AND confirmed_flush_lsn >= pg_current_wal_lsn() - 1048576`, slot) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("slot %s is not streaming after 60s", slot)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// accountsWriter runs pgbench -N's transaction (update a random account,
// log it in history) back to back until ctx ends.
func accountsWriter(ctx context.Context, url string) (int, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	rnd := rand.New(rand.NewSource(1))
	n := 0
	for {
		select {
		case <-ctx.Done():
			return n, nil
		case <-time.After(time.Millisecond):
		}
		aid, delta := 1+rnd.Intn(lostSlotAccounts), rnd.Intn(10001)-5000
		batch := &pgx.Batch{}
		batch.Queue(`UPDATE accounts SET abalance = abalance + $1 WHERE aid = $2`, delta, aid)
		batch.Queue(`INSERT INTO history (aid, delta) VALUES ($1, $2)`, aid, delta)
		tx, err := conn.Begin(ctx)
		if err == nil {
			if err = tx.SendBatch(ctx, batch).Close(); err == nil {
				err = tx.Commit(ctx)
			} else {
				_ = tx.Rollback(context.Background())
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return n, nil
			}
			return n, err
		}
		n++
	}
}

// dropSlotWhileStreaming drops the slot by hand while the subscription
// streams: its walsender is terminated first (the worker reconnects at
// once, so it retries until the drop wins).
func dropSlotWhileStreaming(t *testing.T, src, _ *pgtest.Cluster, slot string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var dropped bool
		conn, err := pgx.Connect(context.Background(), src.URL("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = conn.Exec(context.Background(), `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL`, slot)
		_, err = conn.Exec(context.Background(), `SELECT pg_drop_replication_slot($1)`, slot)
		dropped = err == nil
		conn.Close(context.Background())
		if dropped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("could not drop slot %s: %v", slot, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// invalidateSlotByWAL stops the target (its subscription stays enabled),
// writes more WAL than max_slot_wal_keep_size allows the slot to retain,
// checkpoints until PostgreSQL invalidates the slot (wal_status = lost),
// and starts the target again.
func invalidateSlotByWAL(t *testing.T, src, dst *pgtest.Cluster, slot string) {
	src.Exec(t, "postgres", `ALTER SYSTEM SET max_slot_wal_keep_size = '32MB'`)
	src.Exec(t, "postgres", `SELECT pg_reload_conf()`)
	dst.Stop(t)
	src.Exec(t, "postgres", `CREATE TABLE IF NOT EXISTS walfill (v text)`)
	deadline := time.Now().Add(2 * time.Minute)
	for queryText(t, src, "postgres", `SELECT coalesce(wal_status, '') FROM pg_replication_slots WHERE slot_name = '`+slot+`'`) != "lost" {
		if time.Now().After(deadline) {
			t.Fatalf("slot %s was not invalidated", slot)
		}
		src.Exec(t, "postgres", `INSERT INTO walfill SELECT repeat(md5(g::text), 32) FROM generate_series(1, 20000) g`)
		src.Exec(t, "postgres", `SELECT pg_switch_wal()`)
		src.Exec(t, "postgres", `CHECKPOINT`)
	}
	dst.Start(t)
}
