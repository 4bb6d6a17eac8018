package snapshot_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
)

// TestCommittedLSN: the position covers transactions committed with
// synchronous_commit off (the harness's setting) before the call: a slot
// decoding up to it sees every one of them.
func TestCommittedLSN(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t, pgtest.WithSetting("wal_writer_delay", "2s"))
	c.CreateDatabase(t, "app")
	c.Exec(t, "app", `CREATE TABLE t (id int PRIMARY KEY); CREATE PUBLICATION p FOR TABLE t`)
	c.Exec(t, "app", `SELECT pg_create_logical_replication_slot('s', 'pgoutput')`)
	conn, err := pgx.Connect(ctx, c.URL("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET synchronous_commit = off`); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 20; i++ {
		if _, err := conn.Exec(ctx, `INSERT INTO t VALUES ($1)`, i); err != nil {
			t.Fatal(err)
		}
	}
	lsn, err := snapshot.CommittedLSN(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	// Decoding reads flushed WAL only: the WAL writer flushes the async
	// commits within a few of its delays.
	deadline := time.Now().Add(time.Minute)
	for {
		var inserts int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_logical_slot_peek_binary_changes('s', $1::text::pg_lsn, NULL,
			'proto_version', '1', 'publication_names', 'p') WHERE get_byte(data, 0) = ascii('I')`, lsn.String()).Scan(&inserts); err != nil {
			t.Fatal(err)
		}
		if inserts == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("decoding up to %s saw %d of the 20 committed inserts", lsn, inserts)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Idle, the position is one a slot can reach: advancing to it moves
	// the slot exactly there once the WAL is flushed.
	var moved string
	if err := conn.QueryRow(ctx, `SELECT end_lsn::text FROM pg_replication_slot_advance('s', $1::text::pg_lsn)`, lsn.String()).Scan(&moved); err != nil {
		t.Fatal(err)
	}
	if moved != lsn.String() {
		t.Errorf("the slot advanced to %s, want %s", moved, lsn)
	}
}
