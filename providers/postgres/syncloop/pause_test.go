package syncloop

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/state"
)

// An xmin cursor recorded paused gets no cycle: a replication whose every
// cursor is paused has no job, and sync says to resume when nothing else
// syncs; a pause or resume of a cursor is a change sync applies itself.
func TestPausedXminCursorsGetNoCycle(t *testing.T) {
	cfg := &lang.Config{
		Sources: map[string]*lang.Endpoint{"prod": {Kind: lang.KindSource, Name: "prod", URL: "postgres://src/postgres"}},
		Targets: map[string]*lang.Endpoint{"new": {Kind: lang.KindTarget, Name: "new", URL: "postgres://dst/postgres"}},
		Replications: []*lang.Replication{{Name: "main", Source: "prod", Target: "new", Databases: []string{"app"},
			Sync: lang.Sync{Method: lang.SyncXmin}}},
	}
	eps, err := endpoints.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := &catalog.Server{WalLevel: "replica", Databases: []*catalog.Database{{Name: "app", AllowConn: true, Introspected: true,
		Schemas: []string{"public"}, Tables: []*catalog.Table{
			{Schema: "public", Name: "a", Kind: catalog.KindTable, PrimaryKey: []string{"id"}, Columns: []catalog.Column{{Name: "id", Type: "integer"}}},
			{Schema: "public", Name: "b", Kind: catalog.KindTable, PrimaryKey: []string{"id"}, Columns: []catalog.Column{{Name: "id", Type: "integer"}}},
		}}}}
	servers := map[string]*catalog.Server{"source.prod": src, "target.new": {}}
	record := func(st *state.State, table string, paused bool) {
		st.SetResource(&state.Resource{Address: addrs.New("main", addrs.Xmin, "app.public."+table).String(), Kind: "xmin",
			Attributes: plans.EncodeAttrs(&plans.XminAttrs{Interval: "1h", BatchSize: 1, XminWatermark: 9, Paused: paused})})
	}
	st := state.New()
	record(st, "a", false)
	record(st, "b", true)
	jobs, _, err := Jobs(JobsInput{Config: cfg, Endpoints: eps, State: st, Servers: servers})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || len(jobs[0].Databases[0].Tables) != 1 || jobs[0].Databases[0].Tables[0].Key != "public.a" {
		t.Fatalf("jobs = %+v, want one job polling public.a only", jobs)
	}
	record(st, "a", true)
	_, _, err = Jobs(JobsInput{Config: cfg, Endpoints: eps, State: st, Servers: servers})
	if err == nil || !strings.Contains(err.Error(), "continuous sync of replication main is paused") || !strings.Contains(err.Error(), "database-replicator resume") {
		t.Fatalf("every cursor paused: err = %v", err)
	}
	subs, blocking := Pending(&plans.Plan{Changes: []*plans.Change{{Addr: addrs.New("main", addrs.Xmin, "app.public.a"), Action: plans.Update}}})
	if subs != 1 || len(blocking) != 0 {
		t.Fatalf("a paused cursor's update: Pending = %d %v, want it applied by sync", subs, blocking)
	}
}
