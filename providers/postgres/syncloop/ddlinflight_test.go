package syncloop

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// A schema difference while captured DDL is on its way to the target
// (policy.capture_ddl) is not repaired by the running sync: the log's rows
// replay it in order. A log that does not move is stuck, and a difference
// left once the log caught up is drift: both are repaired.
func TestRepairWaitsForCapturedDDLInFlight(t *testing.T) {
	src, dst := pgtest.Start(t), pgtest.Start(t)
	for _, c := range []*pgtest.Cluster{src, dst} {
		c.CreateDatabase(t, "app")
		c.Exec(t, "app", `CREATE SCHEMA database_replicator; CREATE TABLE database_replicator.ddl_log (seq bigint PRIMARY KEY, command_tag text, object_identity text, outcome text, error text); CREATE TABLE t (id int)`)
	}
	src.Exec(t, "app", `ALTER TABLE t ADD COLUMN a int; INSERT INTO database_replicator.ddl_log VALUES (1), (2)`)
	dst.Exec(t, "app", `INSERT INTO database_replicator.ddl_log VALUES (1)`)
	info := func(c *pgtest.Cluster) conninfo.Info {
		i, err := conninfo.ParseURL(c.URL("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	r := &lang.Replication{Name: "main", Policy: lang.Policy{CaptureDDL: true}}
	j := &Job{Replication: r, Method: lang.SyncLogical, Source: info(src), Target: info(dst), Databases: []Database{{Name: "app"}}, Interval: time.Hour}
	repairs := 0
	runJob := RepairingRunJob(Options{Log: hclog.NewNullLogger()}, Repair{
		// Every cycle compares the schemas.
		OwnSchemas: []string{"database_replicator"}, SchemaEvery: time.Nanosecond,
		Run: func(context.Context) ([]Held, error) { repairs++; return nil, nil },
	})
	cycle := func(want int, why string) {
		t.Helper()
		if err := runJob(context.Background(), nil, j, Cycle{}); err != nil {
			t.Fatal(err)
		}
		if repairs != want {
			t.Fatalf("%s: %d repair(s), want %d", why, repairs, want)
		}
	}
	cycle(0, "log behind")
	if j.recheckIn != time.Nanosecond {
		t.Errorf("recheckIn %s, want the next cycle at the next comparison", j.recheckIn)
	}
	cycle(1, "log behind and not moved since: stuck")

	src.Exec(t, "app", `ALTER TABLE t ADD COLUMN b int; INSERT INTO database_replicator.ddl_log VALUES (3)`)
	dst.Exec(t, "app", `INSERT INTO database_replicator.ddl_log VALUES (2)`)
	cycle(1, "a new difference, log behind")
	dst.Exec(t, "app", `INSERT INTO database_replicator.ddl_log VALUES (3)`)
	cycle(2, "log caught up, the difference is left")
}
