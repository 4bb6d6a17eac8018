package planner

import (
	"fmt"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
)

// CheckPreventDestroy refuses a destroy plan (see Destroy) that would drop
// an object of a replication whose policy.prevent_destroy is true; the
// cluster-wide globals are not a replication's and do not count. The
// error names the first such replication in configuration order.
func CheckPreventDestroy(cfg *lang.Config, p *plans.Plan) error {
	for _, r := range cfg.Replications {
		if !r.Policy.PreventDestroy {
			continue
		}
		for _, ch := range p.Changes {
			if ch.Addr.Replication == r.Name && ch.Addr.Kind != addrs.Globals {
				return fmt.Errorf("replication.%s has policy.prevent_destroy = true: set it to false to destroy its objects; nothing was changed", r.Name)
			}
		}
	}
	return nil
}
