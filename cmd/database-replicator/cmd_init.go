package main

import (
	"fmt"

	"github.com/database-replicator/database-replicator/cmd/database-replicator/views"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
	"github.com/database-replicator/database-replicator/state"
)

// initCmd is the predecessor's snapshot command: apply everything but the
// subscription. The slot created for the snapshot stays on the source, so
// a later `sync` (or `apply`) starts streaming exactly where the copy ended.
type initCmd struct {
	Yes          bool `short:"y" help:"Do not ask for confirmation (-y)."`
	DropExisting bool `help:"Drop and recreate target databases that already hold data."`
	NoResume     bool `help:"Start fresh: drop the replication objects the state records, forget the state, and copy everything again (implies --drop-existing)."`
	connectionFlags
}

// Run implements the command.
func (c *initCmd) Run(a *app) error {
	picked := a.pickerWanted(&c.connectionFlags, c.Yes)
	var cfg *lang.Config
	var err error
	if picked {
		cfg, err = a.pickAndLoad(&c.connectionFlags, pickerNext{Then: "go on with init",
			Detail: "init then shows its plan and the sizes, and asks before it copies anything."})
	} else {
		cfg, err = a.loadConfigOrFlags(&c.connectionFlags)
	}
	if err != nil {
		return err
	}
	for _, r := range cfg.Replications {
		if c.DropExisting || c.NoResume {
			r.Snapshot.DropExisting = true
		}
	}
	backend, unlock, err := a.lockState(cfg, "init")
	if err != nil {
		return err
	}
	defer unlock()
	eps, err := resolveEndpoints(cfg)
	if err != nil {
		return err
	}

	confirmed := c.Yes
	if c.NoResume {
		prior, err := backend.Read(a.ctx)
		if err != nil {
			return err
		}
		forget := planning.ForgetPlan(prior)
		if len(forget.Changes) > 0 && !confirmed {
			// Ask before anything is dropped (the plan of the fresh copy
			// can only be made after): without a terminal, nothing is.
			fmt.Fprintf(a.io.stdout, "init --no-resume drops the %d replication object(s) the state records (publications, slots, subscriptions), recreates the target databases and copies everything again.\n", len(forget.Changes))
			if err := a.confirm("init", "--yes", confirmYN); err != nil {
				return err
			}
			confirmed = true
		}
		if err := a.forgetState(cfg, eps, backend, prior, forget); err != nil {
			return err
		}
	}
	plan, diags, err := a.makePlan(cfg, eps, backend, nil)
	if err != nil {
		return err
	}
	// The snapshot part only: no subscription yet.
	plan.Without(addrs.Subscription)
	if err := a.renderPlan(plan, false, false); err != nil {
		return err
	}
	if diags.HasErrors() {
		return &exitError{code: 1, err: fmt.Errorf("init: %d error(s) above must be fixed first; nothing was changed", len(diags.Errors()))}
	}
	if !plan.HasChanges() {
		fmt.Fprintf(a.io.stdout, "\nThe snapshot is complete; run `%s` to create the subscription.\n", nextStep(&c.connectionFlags, picked))
		return nil
	}
	if err := views.SnapshotSizes(a.io.stdout, planning.SnapshotEstimate(plan)); err != nil {
		return err
	}
	if !confirmed {
		if err := a.confirm("init", "--yes", confirmYN); err != nil {
			return err
		}
	}
	if err := a.execute(cfg, eps, backend, plan, 0); err != nil {
		return err
	}
	fmt.Fprintf(a.io.stdout, "Snapshot complete. The replication slot keeps every change since the snapshot: run `%s` to start streaming from it.\n", nextStep(&c.connectionFlags, picked))
	fmt.Fprintf(a.io.stdout, "Until then the slot retains WAL on the source, and its disk use grows with every write there; `%s` removes the slot (and the publication) if you do not go on.\n", removeStep(&c.connectionFlags, picked))
	return nil
}

// forgetState runs p, the plan that drops the replication objects prior
// records (subscriptions, slots, publications; planning.ForgetPlan), then
// writes an empty state: --no-resume.
func (a *app) forgetState(cfg *lang.Config, eps *endpoints.Set, backend state.Backend, prior *state.State, p *plans.Plan) error {
	if len(p.Changes) > 0 {
		fmt.Fprintf(a.io.stdout, "init --no-resume: dropping %d replication object(s) recorded in state.\n", len(p.Changes))
		if err := a.runPlan(cfg, eps, backend, prior, p, 1); err != nil {
			return err
		}
	}
	prior.Clear()
	return backend.Write(a.ctx, prior)
}

// pickedEnv is how a command given a file the interactive setup wrote
// gets the server URLs.
const pickedEnv = "REPLICATOR_VAR_source_url=... REPLICATOR_VAR_target_url=... "

// nextStep is the command that creates the subscription after init: apply
// with a configuration file, sync with the same flags (apply needs a file),
// sync with the URL variables after the interactive setup (picked).
func nextStep(f *connectionFlags, picked bool) string {
	if picked {
		return pickedEnv + "database-replicator sync"
	}
	if f.used() {
		return "database-replicator sync --source ... --target ... (with the same filter flags)"
	}
	return "database-replicator apply"
}

// removeStep is the command that removes what init left on the source.
func removeStep(f *connectionFlags, picked bool) string {
	if picked {
		return pickedEnv + "database-replicator destroy"
	}
	if f.used() {
		return "database-replicator destroy --source ... --target ... (with the same filter flags)"
	}
	return "database-replicator destroy"
}
