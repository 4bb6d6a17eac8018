package syncloop

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
	"github.com/database-replicator/database-replicator/state"
)

// prepareHooks records Prepare's calls of Show and Apply.
type prepareHooks struct{ shown, applied int }

func (h *prepareHooks) input(cfg *lang.Config, eps *endpoints.Set, p *plans.Plan, backend state.Backend) PrepareInput {
	return PrepareInput{
		Jobs:  JobsInput{Config: cfg, Endpoints: eps},
		Plan:  p,
		State: backend,
		Show:  func(*plans.Plan) error { h.shown++; return nil },
		Apply: func(context.Context, *plans.Plan) error { h.applied++; return nil },
	}
}

func TestPrepareRefusesAnIncompleteSnapshot(t *testing.T) {
	p := &plans.Plan{Changes: []*plans.Change{
		{Addr: addrs.New("main", addrs.Subscription, "app"), Action: plans.Create},
		{Addr: addrs.New("main", addrs.Table, "app.public.a"), Action: plans.Create},
		{Addr: addrs.New("main", addrs.Table, "app.public.b"), Action: plans.Create},
		{Addr: addrs.New("main", addrs.Table, "app.public.c"), Action: plans.Create},
		{Addr: addrs.New("main", addrs.Table, "app.public.d"), Action: plans.Create},
	}}
	var h prepareHooks
	_, _, err := Prepare(context.Background(), h.input(&lang.Config{}, nil, p, nil))
	var inc *SnapshotIncompleteError
	if !errors.As(err, &inc) || len(inc.Pending) != 4 {
		t.Fatalf("err = %v, want a SnapshotIncompleteError with the 4 tables", err)
	}
	if !strings.Contains(err.Error(), "4 change(s) besides subscriptions are pending") ||
		!strings.Contains(err.Error(), `app.public.c"] (create)). Run`) || strings.Contains(err.Error(), "app.public.d") {
		t.Errorf("message lists the count and the first three: %v", err)
	}
	if h.shown != 1 || h.applied != 0 {
		t.Errorf("shown %d, applied %d; want the plan shown and nothing applied", h.shown, h.applied)
	}
}

func TestPrepareAppliesSubscriptionsThenDescribesJobs(t *testing.T) {
	srv := pgtest.Start(t)
	srv.CreateDatabase(t, "app")
	srv.Exec(t, "app", "CREATE TABLE items (id int PRIMARY KEY)")
	cfg := &lang.Config{
		Sources: map[string]*lang.Endpoint{"prod": {Kind: lang.KindSource, Name: "prod", URL: srv.URL("postgres")}},
		Targets: map[string]*lang.Endpoint{"new": {Kind: lang.KindTarget, Name: "new", URL: srv.URL("postgres")}},
		Replications: []*lang.Replication{{Name: "main", Source: "prod", Target: "new", Databases: []string{"app"},
			Sync: lang.Sync{Method: lang.SyncLogical}}},
	}
	eps, err := endpoints.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	backend := state.NewLocal(filepath.Join(t.TempDir(), "state.json"))
	ctx := context.Background()

	var h prepareHooks
	p := &plans.Plan{Changes: []*plans.Change{
		{Addr: addrs.New("main", addrs.Table, "app.public.items"), Action: plans.NoOp},
		{Addr: addrs.New("main", addrs.Subscription, "app"), Action: plans.Create},
	}}
	jobs, choices, err := Prepare(ctx, h.input(cfg, eps, p, backend))
	if err != nil {
		t.Fatal(err)
	}
	if h.shown != 1 || h.applied != 1 {
		t.Errorf("shown %d, applied %d; want a pending subscription shown and applied", h.shown, h.applied)
	}
	if len(choices) != 1 || choices[0].Method != lang.SyncLogical {
		t.Errorf("choices %+v, want logical for main", choices)
	}
	if len(jobs) != 1 || jobs[0].Method != lang.SyncLogical || len(jobs[0].Databases) != 1 || jobs[0].Databases[0].Name != "app" {
		t.Fatalf("jobs %+v, want one logical job over app", jobs)
	}

	h = prepareHooks{}
	p.Changes = p.Changes[:1]
	if _, _, err := Prepare(ctx, h.input(cfg, eps, p, backend)); err != nil {
		t.Fatal(err)
	}
	if h.shown != 0 || h.applied != 0 {
		t.Errorf("nothing pending: shown %d, applied %d; want neither", h.shown, h.applied)
	}
}
