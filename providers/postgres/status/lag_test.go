package status

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
	"github.com/database-replicator/database-replicator/state"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// countingApp marks the connections whose statements a test counts.
const countingApp = "lagcount"

// logged counts the statements the counted connections issued in the
// server log since offset.
func logged(t *testing.T, c *pgtest.Cluster, offset int64) int {
	t.Helper()
	b, err := os.ReadFile(c.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(b[offset:]), "\n") {
		if strings.HasPrefix(l, countingApp+"|") && (strings.Contains(l, "LOG:  statement: ") || strings.Contains(l, "LOG:  execute ")) {
			n++
		}
	}
	return n
}

func logSize(t *testing.T, c *pgtest.Cluster) int64 {
	t.Helper()
	fi, err := os.Stat(c.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestReadLag sets up one logical replication of two databases and checks
// that ReadLag reports what the full status collection reports, with one
// query per server. It logs the statement counts of both: the sync loop's
// lag tick used the full collection before, ReadLag now.
func TestReadLag(t *testing.T) {
	logAll := []pgtest.Option{pgtest.WithSetting("log_statement", "all"), pgtest.WithSetting("log_line_prefix", "%a|")}
	src, dst := pgtest.Start(t, logAll...), pgtest.Start(t, logAll...)
	dbs := []string{"app", "crm"}
	st := state.New()
	for _, db := range dbs {
		src.CreateDatabase(t, db)
		dst.CreateDatabase(t, db)
		for _, c := range []*pgtest.Cluster{src, dst} {
			c.Exec(t, db, "CREATE TABLE items (id int PRIMARY KEY, note text)")
			for i := range 20 {
				c.Exec(t, db, "CREATE TABLE other_"+string(rune('a'+i))+" (id int PRIMARY KEY)")
			}
		}
		src.Exec(t, db, "CREATE PUBLICATION pub FOR TABLE items")
		dst.Exec(t, db, "CREATE SUBSCRIPTION sub CONNECTION '"+src.URL(db)+"' PUBLICATION pub WITH (slot_name = '"+planner.SlotName("sub", db)+"', copy_data = false)")
		st.SetResource(&state.Resource{Address: addrs.New("main", addrs.Database, db).String(), Kind: "database", Attributes: map[string]any{}})
	}
	srcURL, dstURL := src.URL("postgres")+"&application_name="+countingApp, dst.URL("postgres")+"&application_name="+countingApp
	cfg := &lang.Config{
		Sources: map[string]*lang.Endpoint{"prod": {Kind: lang.KindSource, Name: "prod", URL: srcURL}},
		Targets: map[string]*lang.Endpoint{"new": {Kind: lang.KindTarget, Name: "new", URL: dstURL}},
		Replications: []*lang.Replication{{Name: "main", Source: "prod", Target: "new", Databases: dbs,
			Sync: lang.Sync{Method: lang.SyncLogical, Subscription: "sub", Publication: "pub"}}},
	}
	eps, err := endpoints.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	si, di, err := eps.Pair(cfg.Replications[0])
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req := []Logical{{Replication: "main", Subscription: "sub", Source: si, Target: di, Databases: dbs}}

	// Wait until both subscriptions stream, and some change is applied.
	for _, db := range dbs {
		src.Exec(t, db, "INSERT INTO items VALUES (1, 'x')")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		rows, err := ReadLag(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 2 && rows[0].State == StateStreaming && rows[1].State == StateStreaming &&
			dst.QueryInt(t, "app", "SELECT count(*) FROM items") == 1 && dst.QueryInt(t, "crm", "SELECT count(*) FROM items") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscriptions do not stream: %+v", rows)
		}
		time.Sleep(200 * time.Millisecond)
	}

	so, do := logSize(t, src), logSize(t, dst)
	full, err := Collect(ctx, Input{Config: cfg, Endpoints: eps, State: st})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let the server log catch up
	before := logged(t, src, so) + logged(t, dst, do)

	so, do = logSize(t, src), logSize(t, dst)
	light, err := ReadLag(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	after := logged(t, src, so) + logged(t, dst, do)
	t.Logf("statements per lag tick, 1 replication of %d databases: full status collection %d, ReadLag %d", len(dbs), before, after)
	if after != 2 {
		t.Errorf("ReadLag issued %d statements, want 2 (one per server)", after)
	}
	if before <= after {
		t.Errorf("the full collection issued %d statements, ReadLag %d", before, after)
	}

	if len(full) != len(light) {
		t.Fatalf("Collect %d rows, ReadLag %d", len(full), len(light))
	}
	for i := range full {
		f, l := full[i], light[i]
		if f.Database != l.Database || f.State != l.State || f.Enabled != l.Enabled || f.Slot != l.Slot || f.SlotActive != l.SlotActive || f.Problem != l.Problem {
			t.Errorf("row %d: Collect %+v, ReadLag %+v", i, f, l)
		}
	}

	// A disabled subscription and a dropped slot read the same way.
	dst.Exec(t, "crm", "ALTER SUBSCRIPTION sub DISABLE")
	dst.Exec(t, "app", "ALTER SUBSCRIPTION sub DISABLE")
	dst.Exec(t, "app", "ALTER SUBSCRIPTION sub SET (slot_name = NONE)")
	dst.Exec(t, "app", "DROP SUBSCRIPTION sub")
	waitInactive(t, si.WithDatabase("postgres"), planner.SlotName("sub", "app"))
	src.Exec(t, "postgres", "SELECT pg_drop_replication_slot($1)", planner.SlotName("sub", "app"))
	light, err = ReadLag(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if light[0].State != StateSlotMissing || !strings.Contains(light[0].Problem, "slot is missing on the source") || light[0].LagKnown {
		t.Errorf("app: %+v", light[0])
	}
	if light[1].State != StateDisabled || light[1].Enabled || light[1].LagKnown || !strings.Contains(light[1].Problem, "disabled") {
		t.Errorf("crm: %+v", light[1])
	}
	if bad := Unhealthy(light, 0); !strings.Contains(bad, `"app" is not streaming (slot missing)`) {
		t.Errorf("Unhealthy = %q", bad)
	}
}

// waitInactive waits until no process streams from the slot.
func waitInactive(t *testing.T, info conninfo.Info, slot string) {
	t.Helper()
	ctx := context.Background()
	conn, err := conninfo.Connect(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for range 100 {
		var active bool
		if err := conn.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&active); err != nil || !active {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("slot %s stays active", slot)
}
