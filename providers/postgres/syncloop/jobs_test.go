package syncloop

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/state"
)

func TestPending(t *testing.T) {
	p := &plans.Plan{Changes: []*plans.Change{
		{Addr: addrs.New("main", addrs.Subscription, "app"), Action: plans.Create},
		{Addr: addrs.New("main", addrs.Table, "app.public.t"), Action: plans.NoOp},
		{Addr: addrs.New("main", addrs.Table, "app.public.u"), Action: plans.Replace},
		{Addr: addrs.New("main", addrs.Subscription, "crm"), Action: plans.NoOp},
	}}
	subs, blocking := Pending(p)
	if subs != 1 || fmt.Sprint(blocking) != `[replication.main.table["app.public.u"] (replace)]` {
		t.Fatalf("Pending = %d %v", subs, blocking)
	}
}

func TestJobsMethodsAndIntervals(t *testing.T) {
	cfg := &lang.Config{
		Sources: map[string]*lang.Endpoint{"prod": {Kind: lang.KindSource, Name: "prod", URL: "postgres://src/postgres"}},
		Targets: map[string]*lang.Endpoint{"new": {Kind: lang.KindTarget, Name: "new", URL: "postgres://dst/postgres"}},
		Replications: []*lang.Replication{
			{Name: "off", Source: "prod", Target: "new", Sync: lang.Sync{Method: lang.SyncNone}},
			{Name: "main", Source: "prod", Target: "new", Sync: lang.Sync{Method: lang.SyncAuto, Interval: time.Minute, ReconcileInterval: time.Hour}},
		},
	}
	eps, err := endpoints.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	servers := map[string]*catalog.Server{"source.prod": {WalLevel: "replica"}, "target.new": {}}
	in := JobsInput{Config: cfg, Endpoints: eps, State: state.New(), Servers: servers}
	jobs, choices, err := Jobs(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(choices) != 2 || choices[0].Method != lang.SyncNone || choices[1].Method != lang.SyncXmin || choices[1].Fallback != planner.FallbackWalLevel {
		t.Fatalf("choices %+v", choices)
	}
	if len(jobs) != 1 || jobs[0].Interval != time.Minute || jobs[0].ReconcileEvery != time.Hour || jobs[0].Source.Host() != "src" {
		t.Fatalf("jobs %+v", jobs)
	}

	in.SyncInterval, in.ReconcileInterval = 5*time.Second, 10*time.Minute
	if jobs, _, _ := Jobs(in); jobs[0].Interval != 5*time.Second || jobs[0].ReconcileEvery != 10*time.Minute {
		t.Fatalf("flags override the configuration: %+v", jobs[0])
	}
	in.NoReconcile = true
	if jobs, _, _ := Jobs(in); jobs[0].ReconcileEvery != -1 {
		t.Fatalf("--no-reconcile: %+v", jobs[0])
	}
	in.NoReconcile, in.SyncInterval, in.ReconcileInterval = false, 0, 0
	cfg.Replications[1].Sync = lang.Sync{Method: lang.SyncXmin}
	if jobs, _, _ := Jobs(in); jobs[0].Interval != lang.DefaultSyncInterval || jobs[0].ReconcileEvery != -1 {
		t.Fatalf("defaults (reconcile_interval = \"off\" is zero): %+v", jobs[0])
	}

	cfg.Replications[1].Sync.Method = lang.SyncStream
	if jobs, choices, err := Jobs(in); err != nil || len(jobs) != 1 || jobs[0].Method != lang.SyncStream || len(choices) != 2 {
		t.Fatalf("stream: %v %+v", err, choices)
	}
	cfg.Replications[1].Sync.Method = lang.SyncNone
	if _, _, err := Jobs(in); err == nil || !strings.Contains(err.Error(), "no replication has a sync method") {
		t.Fatalf("none everywhere: %v", err)
	}
}

func TestJobsReportsEveryScopeError(t *testing.T) {
	cfg := &lang.Config{
		Sources: map[string]*lang.Endpoint{"prod": {Kind: lang.KindSource, Name: "prod", URL: "postgres://src/postgres"}},
		Targets: map[string]*lang.Endpoint{"new": {Kind: lang.KindTarget, Name: "new", URL: "postgres://dst/postgres"}},
		Replications: []*lang.Replication{{Name: "main", Source: "prod", Target: "new", Databases: []string{"gone1", "gone2"},
			Sync: lang.Sync{Method: lang.SyncXmin}}},
	}
	eps, err := endpoints.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	servers := map[string]*catalog.Server{"source.prod": {WalLevel: "replica"}, "target.new": {}}
	_, _, err = Jobs(JobsInput{Config: cfg, Endpoints: eps, State: state.New(), Servers: servers})
	if err == nil || !strings.Contains(err.Error(), `"gone1"`) || !strings.Contains(err.Error(), `"gone2"`) {
		t.Fatalf("err = %v, want both missing databases named (not only the first diagnostic)", err)
	}
}

// Schema drift and what follows it are repairs sync applies; a table new
// to a database whose snapshot is done too, not one of a database still
// being created.
func TestPendingDriftRepairs(t *testing.T) {
	p := &plans.Plan{Changes: []*plans.Change{
		{Addr: addrs.New("main", addrs.Schema, "app"), Action: plans.Update, After: &plans.SchemaAttrs{Drift: &plans.SchemaDrift{}}},
		{Addr: addrs.New("main", addrs.Publication, "app"), Action: plans.Update},
		{Addr: addrs.New("main", addrs.Table, "app.public.new"), Action: plans.Create},
		{Addr: addrs.New("main", addrs.Xmin, "app.public.new"), Action: plans.Create},
		{Addr: addrs.New("main", addrs.Schema, "fresh"), Action: plans.Create},
		{Addr: addrs.New("main", addrs.Table, "fresh.public.t"), Action: plans.Create},
	}}
	subs, blocking := Pending(p)
	if subs != 4 || fmt.Sprint(blocking) != `[replication.main.schema["fresh"] (create) replication.main.table["fresh.public.t"] (create)]` {
		t.Fatalf("Pending = %d %v", subs, blocking)
	}
}
