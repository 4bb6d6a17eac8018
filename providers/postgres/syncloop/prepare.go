package syncloop

import (
	"context"
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
	"github.com/database-replicator/database-replicator/state"
)

// PrepareInput is what Prepare needs: a plan without error diagnostics,
// the hooks that show and apply it, and the settings of the jobs.
type PrepareInput struct {
	// Jobs holds the configuration, its endpoints and the interval
	// settings; Prepare fills in State and Servers.
	Jobs JobsInput
	// Plan is the plan for the configuration, made under the state lock.
	Plan *plans.Plan
	// State is the state backend, read after the plan is applied.
	State state.Backend
	// Show renders the plan; called before anything is refused or applied.
	Show func(*plans.Plan) error
	// Apply applies the plan (which then holds subscriptions only).
	Apply func(context.Context, *plans.Plan) error
}

// SnapshotIncompleteError is Prepare's refusal when the plan has pending
// changes besides subscriptions: the snapshot must be applied first.
type SnapshotIncompleteError struct {
	// Pending lists the blocking changes as "address (action)".
	Pending []string
}

func (e *SnapshotIncompleteError) Error() string {
	first := e.Pending
	if len(first) > 3 {
		first = first[:3]
	}
	return fmt.Sprintf("sync: the snapshot is not complete: %d change(s) besides subscriptions are pending (%s). Run `database-replicator apply` (or `init`) first; sync only creates or repairs subscriptions and runs the sync loop", len(e.Pending), strings.Join(first, ", "))
}

// Prepare gets a sync ready: it refuses when the snapshot is incomplete
// (*SnapshotIncompleteError), creates or repairs the subscriptions the plan
// asks for (showing the plan first), then reads the state, introspects
// every endpoint and describes each replication's loop (see Jobs).
func Prepare(ctx context.Context, in PrepareInput) ([]*Job, []Choice, error) {
	subscriptions, blocking := Pending(in.Plan)
	if len(blocking) > 0 {
		if err := in.Show(in.Plan); err != nil {
			return nil, nil, err
		}
		return nil, nil, &SnapshotIncompleteError{Pending: blocking}
	}
	if subscriptions > 0 {
		if err := in.Show(in.Plan); err != nil {
			return nil, nil, err
		}
		if err := in.Apply(ctx, in.Plan); err != nil {
			return nil, nil, err
		}
	}
	st, err := in.State.Read(ctx)
	if err != nil {
		return nil, nil, err
	}
	servers, err := planning.IntrospectAll(ctx, in.Jobs.Endpoints, planning.DatabasesInScope(in.Jobs.Config, st), in.Jobs.Log)
	if err != nil {
		return nil, nil, err
	}
	jobs := in.Jobs
	jobs.State, jobs.Servers = st, servers
	return Jobs(jobs)
}
