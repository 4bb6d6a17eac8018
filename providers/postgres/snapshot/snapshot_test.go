package snapshot_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/datacopy"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
)

// snapInfo parses a pgtest URL.
func snapInfo(t *testing.T, url string) conninfo.Info {
	t.Helper()
	info, err := conninfo.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// slotInsertedIDs peeks the slot's pending changes (pgoutput v1,
// publication p) and returns the first column of every inserted row, and
// the number of UPDATE/DELETE messages.
func slotInsertedIDs(t *testing.T, conn *pgx.Conn, slot string) (ids []int, other int) {
	t.Helper()
	rows, err := conn.Query(context.Background(),
		`SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', 'p')`, slot)
	if err != nil {
		t.Fatal(err)
	}
	datas, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range datas {
		msg, err := pglogrepl.Parse(d)
		if err != nil {
			t.Fatalf("parse pgoutput message: %v", err)
		}
		switch m := msg.(type) {
		case *pglogrepl.InsertMessage:
			id, err := strconv.Atoi(string(m.Tuple.Columns[0].Data))
			if err != nil {
				t.Fatalf("insert message id %q: %v", m.Tuple.Columns[0].Data, err)
			}
			ids = append(ids, id)
		case *pglogrepl.UpdateMessage, *pglogrepl.DeleteMessage, *pglogrepl.TruncateMessage:
			other++
		}
	}
	sort.Ints(ids)
	return ids, other
}

func snapRange(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func snapTableIDs(t *testing.T, conn *pgx.Conn, table string) []int {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT id FROM "+table+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestSnapshotSlotNoGapNoDuplicate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, dst := pgtest.Start(t), pgtest.Start(t)
	src.CreateDatabase(t, "app")
	dst.CreateDatabase(t, "app")
	ddl := `CREATE TABLE t (id int PRIMARY KEY, v text)`
	src.Exec(t, "app", ddl)
	dst.Exec(t, "app", ddl)
	src.Exec(t, "app", `INSERT INTO t SELECT g, 'pre ' || g FROM generate_series(1, 100) g`)
	src.Exec(t, "app", `CREATE PUBLICATION p FOR TABLE t`)

	info := snapInfo(t, src.URL("app"))
	slot, err := snapshot.CreateSlotWithSnapshot(ctx, info, "s1")
	if err != nil {
		t.Fatal(err)
	}
	defer slot.Close(ctx)
	if slot.Name != "s1" || slot.SnapshotName == "" || slot.ConsistentPoint == "" {
		t.Fatalf("slot = %+v", slot)
	}
	if _, err := pglogrepl.ParseLSN(slot.ConsistentPoint); err != nil {
		t.Fatalf("consistent point %q: %v", slot.ConsistentPoint, err)
	}
	if !slot.Alive() {
		t.Fatal("slot connection not alive")
	}

	// Changes after the slot: in the stream, not in the copy.
	// (synchronous_commit on: logical decoding reads only flushed WAL, and
	// pgtest clusters default to off.)
	src.Exec(t, "app", `SET synchronous_commit = on; INSERT INTO t SELECT g, 'post ' || g FROM generate_series(101, 150) g`)

	// A second slot of that name: a clear error.
	_, err = snapshot.CreateSlotWithSnapshot(ctx, info, "s1")
	if !errors.Is(err, snapshot.ErrSlotExists) || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second slot: err = %v, want ErrSlotExists", err)
	}
	t.Logf("second slot: %v", err)

	// Bad slot names never reach the server.
	if _, err := snapshot.CreateSlotWithSnapshot(ctx, info, "Bad name; DROP"); err == nil || !strings.Contains(err.Error(), "invalid replication slot name") {
		t.Fatalf("bad name: err = %v", err)
	}

	srcConn, dstConn := src.Connect(t, "app"), dst.Connect(t, "app")
	stats, err := datacopy.CopyTable(ctx, srcConn, dstConn, datacopy.CopyRequest{Schema: "public", Table: "t", Snapshot: slot.SnapshotName}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Rows != 100 {
		t.Fatalf("copied %d rows, want 100", stats.Rows)
	}
	if got := snapTableIDs(t, dstConn, "t"); fmt.Sprint(got) != fmt.Sprint(snapRange(1, 100)) {
		t.Fatalf("target ids = %v, want 1..100", got)
	}

	// Xmin works inside the slot's snapshot.
	if x, err := snapshot.Xmin(ctx, srcConn, slot.SnapshotName); err != nil || x == 0 {
		t.Fatalf("Xmin = %d, %v", x, err)
	}

	if err := slot.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if slot.Alive() {
		t.Fatal("slot alive after Close")
	}
	// The snapshot is gone with the connection (once the server's
	// walsender has exited, a moment after Close returns).
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := snapshot.Xmin(ctx, srcConn, slot.SnapshotName)
		if errors.Is(err, snapshot.ErrLost) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot still importable 10s after Close: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err = datacopy.CopyTable(ctx, srcConn, dstConn, datacopy.CopyRequest{Schema: "public", Table: "t", Snapshot: slot.SnapshotName}, nil)
	if !errors.Is(err, snapshot.ErrLost) {
		t.Fatalf("copy after Close: err = %v, want ErrLost", err)
	}
	t.Logf("copy after close: %v", err)

	// The slot's changes are exactly the rows the copy did not see.
	ids, other := slotInsertedIDs(t, srcConn, "s1")
	if fmt.Sprint(ids) != fmt.Sprint(snapRange(101, 150)) || other != 0 {
		t.Fatalf("slot inserts = %v (other %d), want 101..150", ids, other)
	}

	if err := snapshot.DropSlot(ctx, info, "s1"); err != nil {
		t.Fatal(err)
	}
	if n := src.QueryInt(t, "app", `SELECT count(*) FROM pg_replication_slots WHERE slot_name = 's1'`); n != 0 {
		t.Fatalf("slot still there after DropSlot")
	}
	if err := snapshot.DropSlot(ctx, info, "s1"); err != nil {
		t.Fatalf("DropSlot of an absent slot: %v", err)
	}
}

func TestSnapshotSlotErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("wal_level", func(t *testing.T) {
		c := pgtest.Start(t, pgtest.WithSetting("wal_level", "replica"))
		_, err := snapshot.CreateSlotWithSnapshot(ctx, snapInfo(t, c.URL("postgres")), "s")
		if err == nil || !strings.Contains(err.Error(), "ALTER SYSTEM SET wal_level = logical") {
			t.Fatalf("err = %v, want the wal_level fix", err)
		}
		t.Logf("wal_level: %v", err)
	})

	c := pgtest.Start(t, pgtest.WithSetting("max_replication_slots", "1"))

	t.Run("no replication privilege", func(t *testing.T) {
		c.CreateRole(t, "plain", "secret-pw")
		url := fmt.Sprintf("postgres://plain:secret-pw@127.0.0.1:%d/postgres?sslmode=disable", c.Port())
		_, err := snapshot.CreateSlotWithSnapshot(ctx, snapInfo(t, url), "s")
		if err == nil || !strings.Contains(err.Error(), "ALTER ROLE plain REPLICATION") {
			t.Fatalf("err = %v, want the ALTER ROLE fix", err)
		}
		if strings.Contains(err.Error(), "secret-pw") {
			t.Fatalf("error shows the password: %v", err)
		}
		t.Logf("no replication: %v", err)
	})

	t.Run("slots exhausted", func(t *testing.T) {
		info := snapInfo(t, c.URL("postgres"))
		s1, err := snapshot.CreateSlotWithSnapshot(ctx, info, "one")
		if err != nil {
			t.Fatal(err)
		}
		defer s1.Close(ctx)
		_, err = snapshot.CreateSlotWithSnapshot(ctx, info, "two")
		if err == nil || !strings.Contains(err.Error(), "max_replication_slots") {
			t.Fatalf("err = %v, want max_replication_slots", err)
		}
		t.Logf("exhausted: %v", err)
		if err := s1.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := snapshot.DropSlot(ctx, info, "one"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSnapshotExportHeld(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, dst := pgtest.Start(t), pgtest.Start(t)
	src.CreateDatabase(t, "app")
	dst.CreateDatabase(t, "app")
	ddl := `CREATE TABLE t (id int PRIMARY KEY, v text)`
	src.Exec(t, "app", ddl)
	dst.Exec(t, "app", ddl)
	src.Exec(t, "app", `INSERT INTO t SELECT g, 'pre' FROM generate_series(1, 10) g`)

	held, err := snapshot.Export(ctx, snapInfo(t, src.URL("app")))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close(ctx)
	if held.Name == "" || held.Xmin == 0 {
		t.Fatalf("held = %+v", held)
	}
	src.Exec(t, "app", `INSERT INTO t SELECT g, 'post' FROM generate_series(11, 20) g`)

	srcConn, dstConn := src.Connect(t, "app"), dst.Connect(t, "app")
	x, err := snapshot.Xmin(ctx, srcConn, held.Name)
	if err != nil {
		t.Fatal(err)
	}
	if x != held.Xmin {
		t.Fatalf("Xmin = %d, Export said %d", x, held.Xmin)
	}
	// The xmin is below every transaction that began after the snapshot.
	if cur := src.QueryInt(t, "app", "SELECT pg_current_xact_id()::text::bigint"); uint64(cur) <= held.Xmin {
		t.Fatalf("current xid %d <= snapshot xmin %d", cur, held.Xmin)
	}
	if _, err := datacopy.CopyTable(ctx, srcConn, dstConn, datacopy.CopyRequest{Schema: "public", Table: "t", Snapshot: held.Name}, nil); err != nil {
		t.Fatal(err)
	}
	if got := snapTableIDs(t, dstConn, "t"); fmt.Sprint(got) != fmt.Sprint(snapRange(1, 10)) {
		t.Fatalf("target ids = %v, want 1..10", got)
	}
	if err := held.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := snapshot.Xmin(ctx, srcConn, held.Name); !errors.Is(err, snapshot.ErrLost) {
		t.Fatalf("after Close: err = %v, want ErrLost", err)
	}
}

// A writer commits rows one by one while the slot is created: every row is
// either in the copy or in the slot's stream, never both, never neither.
func TestSnapshotSlotConcurrentWriter(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	src, dst := pgtest.Start(t), pgtest.Start(t)
	src.CreateDatabase(t, "app")
	dst.CreateDatabase(t, "app")
	ddl := `CREATE TABLE t (id int PRIMARY KEY, v text)`
	src.Exec(t, "app", ddl)
	dst.Exec(t, "app", ddl)
	src.Exec(t, "app", `CREATE PUBLICATION p FOR TABLE t`)

	w := src.Connect(t, "app")
	if _, err := w.Exec(ctx, "SET synchronous_commit = on"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	var last int
	go func() {
		for i := 1; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := w.Exec(ctx, "INSERT INTO t VALUES ($1, 'x')", i); err != nil {
				done <- err
				return
			}
			last = i
		}
	}()
	time.Sleep(100 * time.Millisecond)
	info := snapInfo(t, src.URL("app"))
	slot, err := snapshot.CreateSlotWithSnapshot(ctx, info, "race")
	if err != nil {
		close(stop)
		<-done
		t.Fatal(err)
	}
	defer slot.Close(ctx)
	time.Sleep(100 * time.Millisecond)
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	srcConn, dstConn := src.Connect(t, "app"), dst.Connect(t, "app")
	if _, err := datacopy.CopyTable(ctx, srcConn, dstConn, datacopy.CopyRequest{Schema: "public", Table: "t", Snapshot: slot.SnapshotName}, nil); err != nil {
		t.Fatal(err)
	}
	copied := snapTableIDs(t, dstConn, "t")
	streamed, other := slotInsertedIDs(t, srcConn, "race")
	if other != 0 {
		t.Fatalf("%d unexpected update/delete messages", other)
	}
	all := append(append([]int{}, copied...), streamed...)
	sort.Ints(all)
	if fmt.Sprint(all) != fmt.Sprint(snapRange(1, last)) {
		t.Fatalf("copied %d + streamed %d rows != 1..%d (gap or duplicate)", len(copied), len(streamed), last)
	}
	if len(copied) == 0 || len(streamed) == 0 {
		t.Fatalf("copied %d, streamed %d: the writer did not overlap the slot creation", len(copied), len(streamed))
	}
	t.Logf("writer wrote %d rows: %d copied, %d streamed", last, len(copied), len(streamed))
}

// TestDropSlotWaitsForRelease: a slot whose session is still open (a
// killed apply's replication connection the server has not reaped yet) is
// dropped once the session ends, within DropSlot's wait.
func TestDropSlotWaitsForRelease(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := pgtest.Start(t)
	info := snapInfo(t, c.URL("postgres"))
	s, err := snapshot.CreateSlotWithSnapshot(ctx, info, "held")
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan error, 1)
	go func() {
		time.Sleep(time.Second)
		released <- s.Close(ctx)
	}()
	if err := snapshot.DropSlot(ctx, info, "held"); err != nil {
		t.Fatalf("drop while the session ends: %v", err)
	}
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	if n := c.QueryInt(t, "postgres", "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'held'"); n != 0 {
		t.Fatalf("the slot is still there")
	}
}
