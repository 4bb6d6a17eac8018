package actions

import (
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
)

// EndpointsFor builds the servers New needs for every replication of cfg
// from endpoints already resolved (each connection string parsed once),
// and the parallelism the snapshot settings ask for: the largest
// snapshot.jobs, at least 1.
func EndpointsFor(cfg *lang.Config, set *endpoints.Set) (map[string]Endpoints, int, error) {
	eps := map[string]Endpoints{}
	jobs := 1
	for _, r := range cfg.Replications {
		src, dst, err := set.Pair(r)
		if err != nil {
			return nil, 0, err
		}
		eps[r.Name] = Endpoints{Source: src, Target: dst, IndexJobs: r.Snapshot.IndexJobs,
			SplitLargerThan: r.Snapshot.SplitLargerThan, SplitParts: r.Snapshot.Jobs}
		jobs = max(jobs, r.Snapshot.Jobs)
	}
	return eps, jobs, nil
}
