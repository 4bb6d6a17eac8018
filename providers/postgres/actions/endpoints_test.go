package actions

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
)

func TestEndpointsForUsesTheResolvedSetAndTheLargestJobs(t *testing.T) {
	cfg := &lang.Config{
		Sources: map[string]*lang.Endpoint{"prod": {Kind: lang.KindSource, Name: "prod", URL: "postgres://u@src:5433/app"}},
		Targets: map[string]*lang.Endpoint{"new": {Kind: lang.KindTarget, Name: "new", URL: "postgres://u@dst/app"}},
		Replications: []*lang.Replication{
			{Name: "a", Source: "prod", Target: "new", Snapshot: lang.Snapshot{Jobs: 3, IndexJobs: 2, SplitLargerThan: 1 << 30}},
			{Name: "b", Source: "prod", Target: "new", Snapshot: lang.Snapshot{Jobs: 5}},
		},
	}
	set, err := endpoints.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	eps, jobs, err := EndpointsFor(cfg, set)
	if err != nil {
		t.Fatal(err)
	}
	if jobs != 5 {
		t.Errorf("jobs = %d, want the largest snapshot.jobs 5", jobs)
	}
	a := eps["a"]
	if a.Source.Host() != "src" || a.Source.Port() != 5433 || a.Target.Host() != "dst" ||
		a.IndexJobs != 2 || a.SplitLargerThan != 1<<30 || a.SplitParts != 3 {
		t.Errorf("replication a: %+v", a)
	}
}

func TestEndpointsForNamesAnEndpointThatDidNotParse(t *testing.T) {
	cfg := &lang.Config{
		Sources:      map[string]*lang.Endpoint{"prod": {Kind: lang.KindSource, Name: "prod", URL: "::not a url"}},
		Targets:      map[string]*lang.Endpoint{"new": {Kind: lang.KindTarget, Name: "new", URL: "postgres://u@dst/app"}},
		Replications: []*lang.Replication{{Name: "a", Source: "prod", Target: "new"}},
	}
	set, _ := endpoints.Resolve(cfg)
	if _, _, err := EndpointsFor(cfg, set); err == nil || !strings.Contains(err.Error(), "source.prod") {
		t.Fatalf("err = %v, want one naming source.prod", err)
	}
}
