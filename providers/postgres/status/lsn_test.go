package status

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
	"github.com/database-replicator/database-replicator/state"
)

// wellFormedLSN is PostgreSQL's text form of an LSN.
var wellFormedLSN = regexp.MustCompile(`^[0-9A-F]{1,8}/[0-9A-F]{1,8}$`)

// TestCollectPositions sets up a logical replication on real servers of
// one major version and checks that status reports the positions of its
// stream (source WAL, slot, walsender, subscription received and applied),
// each well formed, and that they advance after writes on the source. The
// target is read once as a superuser and once as a role that may not read
// pg_replication_origin_status (applied comes from the walsender's report
// then). It covers the oldest and the newest major version (the views'
// columns differ: leader_pid from 16, worker_type from 17) and the default
// one; every version with PGTEST_MATRIX=full.
func TestCollectPositions(t *testing.T) {
	majors := []int{0, pgtest.Majors()[0], pgtest.Majors()[len(pgtest.Majors())-1]}
	if os.Getenv("PGTEST_MATRIX") == "full" {
		majors = pgtest.Majors()
	}
	for _, m := range majors {
		name := "default"
		var opts []pgtest.Option
		if m != 0 {
			name, opts = fmt.Sprint(m), []pgtest.Option{pgtest.Major(m)}
		}
		t.Run(name, func(t *testing.T) { testCollectPositions(t, opts) })
	}
}

func testCollectPositions(t *testing.T, opts []pgtest.Option) {
	src, dst := pgtest.Start(t, opts...), pgtest.Start(t, opts...)
	const db = "app"
	for _, c := range []*pgtest.Cluster{src, dst} {
		c.CreateDatabase(t, db)
		c.Exec(t, db, "CREATE TABLE items (id int PRIMARY KEY, note text)")
	}
	src.Exec(t, db, "CREATE PUBLICATION pub FOR TABLE items")
	dst.Exec(t, db, "CREATE SUBSCRIPTION sub CONNECTION '"+src.URL(db)+"' PUBLICATION pub WITH (slot_name = '"+planner.SlotName("sub", db)+"')")
	// A role of the target's that may not read the replication origins.
	dst.CreateRole(t, "watcher", "watcher-pw")
	st := state.New()
	st.SetResource(&state.Resource{Address: addrs.New("main", addrs.Database, db).String(), Kind: "database", Attributes: map[string]any{}})

	collect := func(targetURL string) Row {
		t.Helper()
		cfg := &lang.Config{
			Sources: map[string]*lang.Endpoint{"prod": {Kind: lang.KindSource, Name: "prod", URL: src.URL("postgres")}},
			Targets: map[string]*lang.Endpoint{"new": {Kind: lang.KindTarget, Name: "new", URL: targetURL}},
			Replications: []*lang.Replication{{Name: "main", Source: "prod", Target: "new", Databases: []string{db},
				Sync: lang.Sync{Method: lang.SyncLogical, Subscription: "sub", Publication: "pub"}}},
		}
		eps, err := endpoints.Resolve(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := Collect(context.Background(), Input{Config: cfg, Endpoints: eps, State: st})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("rows: %+v", rows)
		}
		return rows[0]
	}
	watcherURL := (&url.URL{Scheme: "postgres", User: url.UserPassword("watcher", "watcher-pw"),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(dst.Port())), Path: "/postgres", RawQuery: "sslmode=disable"}).String()

	type position struct {
		name string
		get  func(Row) string
	}
	// Every position status shows; restart_lsn and latest_end_lsn move
	// on their own schedule (checkpoints, keepalives) and are only
	// checked for their form.
	advancing := []position{
		{"source_lsn", func(r Row) string { return r.SourceLSN }},
		{"confirmed_flush_lsn", func(r Row) string { return r.ConfirmedFlushLSN }},
		{"sent_lsn", func(r Row) string { return r.SentLSN }},
		{"write_lsn", func(r Row) string { return r.WriteLSN }},
		{"flush_lsn", func(r Row) string { return r.FlushLSN }},
		{"replay_lsn", func(r Row) string { return r.ReplayLSN }},
		{"received_lsn", func(r Row) string { return r.ReceivedLSN }},
		{"applied_lsn", func(r Row) string { return r.AppliedLSN }},
	}
	all := append([]position{
		{"restart_lsn", func(r Row) string { return r.RestartLSN }},
		{"latest_end_lsn", func(r Row) string { return r.LatestEndLSN }},
	}, advancing...)
	complete := func(r Row) bool {
		for _, p := range all {
			if p.get(r) == "" {
				return false
			}
		}
		return r.State == StateStreaming
	}

	// Wait until the subscription streams and a first change is applied:
	// then every position is known.
	src.Exec(t, db, "INSERT INTO items VALUES (1, 'first')")
	var before Row
	waitFor(t, "every position known", func() (bool, string) {
		before = collect(dst.URL("postgres"))
		return complete(before) && dst.QueryInt(t, db, "SELECT count(*) FROM items") == 1, fmt.Sprintf("%+v", before)
	})
	for _, p := range all {
		if !wellFormedLSN.MatchString(p.get(before)) {
			t.Errorf("%s = %q is not an LSN", p.name, p.get(before))
		}
	}

	// Writes on the source move every position forward.
	src.Exec(t, db, "INSERT INTO items SELECT g, 'more' FROM generate_series(2, 500) g")
	src.Exec(t, db, "UPDATE items SET note = 'changed' WHERE id <= 100")
	var after Row
	waitFor(t, "every position past the writes", func() (bool, string) {
		after = collect(dst.URL("postgres"))
		for _, p := range advancing {
			if !lsnAfter(p.get(after), p.get(before)) {
				return false, fmt.Sprintf("%s: %q, before the writes %q", p.name, p.get(after), p.get(before))
			}
		}
		return true, ""
	})
	for _, p := range all {
		if !wellFormedLSN.MatchString(p.get(after)) {
			t.Errorf("%s = %q is not an LSN", p.name, p.get(after))
		}
	}
	t.Logf("before %+v\nafter %+v", before, after)

	// A target role without access to pg_replication_origin_status still
	// sees what the subscription received; applied is the walsender's
	// report of the apply position. (Before 14 such a role may not read
	// pg_subscription's oid: introspection refuses it before status.)
	if dst.Major() < 14 {
		return
	}
	w := collect(watcherURL)
	if !wellFormedLSN.MatchString(w.ReceivedLSN) || !wellFormedLSN.MatchString(w.AppliedLSN) || w.AppliedLSN != w.ReplayLSN {
		t.Errorf("as a role without pg_replication_origin_status: received %q, applied %q, replay %q", w.ReceivedLSN, w.AppliedLSN, w.ReplayLSN)
	}
}

// lsnAfter reports whether LSN a is past b.
func lsnAfter(a, b string) bool {
	x, err1 := pglogrepl.ParseLSN(a)
	y, err2 := pglogrepl.ParseLSN(b)
	return err1 == nil && err2 == nil && x > y
}

// waitFor polls cond for up to 60 seconds; it fails the test with cond's
// last description.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 60s: %s", what, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
