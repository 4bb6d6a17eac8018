package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// TestStreamSyncSurvivesKill kills the stream engine's applier (sync,
// SIGKILL) in the middle of applying a 100,000-row source transaction and,
// with a writer busy on the source, between transactions; each time sync
// runs again: no row may be lost or applied twice (the 100,000 rows go into
// a table without a key, where a duplicate shows), the target never holds
// part of a source transaction, and verify exits 0. The source logs its
// connections: every replication connection is the tool's applier, none is
// the target's (there is no subscription).
func TestStreamSyncSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("live test")
	}
	src := pgtest.Start(t, pgtest.WithSetting("log_connections", "on"))
	dst := pgtest.Start(t)
	src.CreateDatabase(t, "app")
	src.Exec(t, "app", `CREATE TABLE bulk (a int, b text);
		CREATE TABLE live (id int PRIMARY KEY, n int);
		INSERT INTO live SELECT g, 0 FROM generate_series(1, 100) g`)
	c := newCLI(t, logicalConfig(t.TempDir(), "app", `  sync {
    method = "stream"
  }
  table "app.public.bulk" {
    replica_identity = "full"
  }`), "REPLICATOR_VAR_source_url="+src.URL("postgres"), "REPLICATOR_VAR_target_url="+dst.URL("postgres"))
	c.must("init", "--yes")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	applying := func() bool {
		return dst.QueryInt(t, "app", `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'database-replicator stream main' AND backend_xid IS NOT NULL`) > 0
	}

	t.Run("mid transaction", func(t *testing.T) {
		sync := c.cmd("sync")
		if err := sync.Start(); err != nil {
			t.Fatal(err)
		}
		defer sync.Process.Kill() //nolint:errcheck // killed below; a no-op then
		src.Exec(t, "app", `INSERT INTO bulk SELECT g, repeat('x', 20) FROM generate_series(1, 100000) g`)
		deadline := time.Now().Add(2 * time.Minute)
		for !applying() {
			if time.Now().After(deadline) {
				t.Fatal("the applier never opened its target transaction")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := sync.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = sync.Wait()
		// The target transaction dies with the session: nothing or all.
		waitNoApplier(t, dst)
		if n := dst.QueryInt(t, "app", `SELECT count(*) FROM bulk`); n != 0 && n != 100000 {
			t.Fatalf("target holds %d of the transaction's 100000 rows after the kill", n)
		}
		c.must("sync", "--once")
		if n := dst.QueryInt(t, "app", `SELECT count(*) FROM bulk`); n != 100000 {
			t.Fatalf("target has %d rows after the rerun, want 100000", n)
		}
	})

	t.Run("between transactions", func(t *testing.T) {
		wctx, stopWriter := context.WithCancel(ctx)
		writerDone := make(chan error, 1)
		go func() { writerDone <- streamWriter(wctx, src.URL("app")) }()
		for i := 0; i < 2; i++ {
			sync := c.cmd("sync")
			if err := sync.Start(); err != nil {
				t.Fatal(err)
			}
			// Kill once the applier has committed some of the writer's
			// transactions, at whatever point it then is.
			before := dst.QueryInt(t, "app", `SELECT coalesce(sum(n), 0) FROM live`)
			deadline := time.Now().Add(2 * time.Minute)
			for dst.QueryInt(t, "app", `SELECT coalesce(sum(n), 0) FROM live`) <= before+20 {
				if time.Now().After(deadline) {
					t.Fatal("the applier applied nothing")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := sync.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = sync.Wait()
			waitNoApplier(t, dst)
		}
		stopWriter()
		if err := <-writerDone; err != nil {
			t.Fatal(err)
		}
		c.must("sync", "--once")
		waitDigestsEqual(t, src, dst, "app", time.Minute)
		out, code := c.run("verify")
		if code != 0 || strings.Contains(out, "DIFFERENT") {
			t.Fatalf("verify: exit %d\n%s", code, out)
		}
	})

	// Every replication connection the source saw was the tool's.
	log := readFile(t, src.LogPath())
	if !strings.Contains(log, "application_name=database-replicator stream main") {
		t.Fatalf("the source log shows no replication connection of the applier (log_connections):\n%s", lastLines(log, 20))
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "replication connection authorized") && !strings.Contains(line, "application_name=database-replicator") {
			t.Errorf("a replication connection that is not the tool's: %s", line)
		}
	}
	if n := dst.QueryInt(t, "app", `SELECT count(*) FROM pg_subscription`); n != 0 {
		t.Errorf("the target has %d subscriptions", n)
	}
}

// waitNoApplier waits until the killed applier's target session is gone.
func waitNoApplier(t *testing.T, dst *pgtest.Cluster) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for dst.QueryInt(t, "app", `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'database-replicator stream main'`) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the killed applier's target session never ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// streamWriter commits small transactions (an update of live, an insert
// into bulk, sometimes a delete) until ctx ends.
func streamWriter(ctx context.Context, url string) error {
	return writeUntilDone(ctx, url, func(batch *pgx.Batch, i int) {
		batch.Queue(`UPDATE live SET n = n + 1 WHERE id = $1`, 1+i%100)
		batch.Queue(`INSERT INTO bulk VALUES ($1, 'w')`, -i)
		if i%7 == 0 {
			batch.Queue(`DELETE FROM bulk WHERE a = $1`, -(i - 3))
		}
	})
}

// writeUntilDone commits one transaction every ~2 ms on url, holding the
// statements queue puts into its batch for the i-th transaction, until ctx
// ends (then it returns nil).
func writeUntilDone(ctx context.Context, url string, queue func(batch *pgx.Batch, i int)) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Millisecond):
		}
		batch := &pgx.Batch{}
		queue(batch, i)
		tx, err := conn.Begin(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		err = tx.SendBatch(ctx, batch).Close()
		if err == nil {
			err = tx.Commit(ctx)
		} else {
			_ = tx.Rollback(context.Background())
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
	}
}

// readFile returns a file's content, failing the test on error.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
