package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/database-replicator/database-replicator/cmd/database-replicator/views"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
	"github.com/database-replicator/database-replicator/state"
	"github.com/database-replicator/database-replicator/state/pgstate"
)

// planCmd introspects, diffs and prints the plan.
type planCmd struct {
	Out              string   `help:"Save the plan to FILE for a later 'apply FILE' or 'show FILE'." placeholder:"FILE"`
	JSON             bool     `name:"json" help:"Print the plan as JSON (docs/plan-json.md)." xor:"format"`
	Markdown         bool     `help:"Print the plan as markdown for a pull request." xor:"format"`
	DetailedExitcode bool     `help:"Exit 0 when there are no changes, 2 when there are, 1 on error."`
	Target           []string `help:"Limit the plan to this address (or prefix) and what it depends on (repeatable)." placeholder:"ADDR"`
}

// Run implements the command.
func (c *planCmd) Run(a *app) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	// plan changes nothing, so it takes no lock: it reads the last state
	// written (atomically) and never blocks, or is blocked by, an apply.
	// A plan saved with --out is refused at apply when the state moved on.
	backend, err := a.stateBackend(cfg)
	if err != nil {
		return err
	}
	eps, err := resolveEndpoints(cfg)
	if err != nil {
		return err
	}
	plan, diags, err := a.makePlan(cfg, eps, backend, c.Target)
	if err != nil {
		return err
	}
	if err := a.renderPlan(plan, c.JSON, c.Markdown); err != nil {
		return err
	}
	if diags.HasErrors() {
		return &exitError{code: 1, err: fmt.Errorf("plan: %d error(s) above must be fixed first", len(diags.Errors()))}
	}
	if c.Out != "" {
		if err := plan.WriteFile(c.Out); err != nil {
			return err
		}
		if !c.JSON {
			fmt.Fprintf(a.io.stdout, "\nSaved the plan to %s. Apply exactly this plan with:\n  database-replicator apply %s\n", c.Out, c.Out)
		}
	}
	if c.DetailedExitcode && plan.HasChanges() {
		return exitCode(2)
	}
	return nil
}

// makePlan reads state, introspects every endpoint and builds the plan.
func (a *app) makePlan(cfg *lang.Config, eps *endpoints.Set, backend state.Backend, targets []string) (*plans.Plan, diag.Diagnostics, error) {
	prior, err := backend.Read(a.ctx)
	if err != nil {
		return nil, nil, err
	}
	p, diags, err := planning.Make(a.ctx, planning.Input{Config: cfg, Endpoints: eps, Prior: prior, Targets: targets, Log: a.log})
	pointToStateBackup(backend, diags)
	return p, diags, err
}

// renderPlan prints the plan in the selected format.
func (a *app) renderPlan(p *plans.Plan, asJSON, asMarkdown bool) error {
	return views.NewPlanView(a.io.stdout, asJSON, asMarkdown, a.color).Plan(p)
}

// showCmd renders a saved plan.
type showCmd struct {
	JSON     bool   `name:"json" help:"Print the plan as JSON." xor:"format"`
	Markdown bool   `help:"Print the plan as markdown." xor:"format"`
	File     string `arg:"" help:"A plan saved with 'plan --out'." placeholder:"PLANFILE"`
}

// Run implements the command.
func (c *showCmd) Run(a *app) error {
	p, err := plans.ReadFile(c.File)
	if err != nil {
		return err
	}
	return a.renderPlan(p, c.JSON, c.Markdown)
}

// stateBackend opens the state backend the configuration (or --state) names.
func (a *app) stateBackend(cfg *lang.Config) (state.Backend, error) {
	sc := lang.DefaultState()
	if cfg != nil && cfg.State != nil {
		sc = cfg.State
	}
	if a.global.State != "" {
		return state.NewLocal(a.global.State), nil
	}
	switch sc.Backend {
	case lang.BackendPostgres:
		return pgstate.New(sc.URL, sc.Schema), nil
	default:
		return state.NewLocal(sc.Path), nil
	}
}

// lockState opens the configured state backend and takes its lock for op;
// a second concurrent run fails at once, naming the holder.
func (a *app) lockState(cfg *lang.Config, op string) (state.Backend, func(), error) {
	backend, err := a.stateBackend(cfg)
	if err != nil {
		return nil, nil, err
	}
	unlock, err := backend.Lock(a.ctx, a.lockInfo(op))
	if err != nil {
		return nil, nil, err
	}
	if local, ok := backend.(*state.Local); ok {
		if dead := local.TookOver(); dead != nil {
			a.log.Warn("took over the state lock of a run that died holding it (the kernel released its file lock)",
				"operation", dead.Operation, "pid", dead.PID, "since", dead.Created.Format(time.RFC3339), "lock_id", dead.ID)
		}
	}
	return backend, func() {
		if err := unlock(context.Background()); err != nil {
			a.log.Warn("could not release the state lock", "error", err)
		}
	}, nil
}

// lockInfo describes this process for the state lock.
func (a *app) lockInfo(op string) state.LockInfo { return state.NewLockInfo(op, version) }

// stateCmd groups state inspection commands.
type stateCmd struct {
	List        stateListCmd        `cmd:"" help:"List the addresses recorded in state."`
	Show        stateShowCmd        `cmd:"" help:"Show one state entry."`
	Rm          stateRmCmd          `cmd:"" help:"Forget a state entry (the object itself is left alone)."`
	ForceUnlock stateForceUnlockCmd `cmd:"" name:"force-unlock" help:"Remove a stale lock left by a crashed run."`
}

type stateListCmd struct{}

// Run implements the command.
func (c *stateListCmd) Run(a *app) error {
	st, err := a.readState()
	if err != nil {
		return err
	}
	addrs := st.Addresses()
	sort.Strings(addrs)
	for _, ad := range addrs {
		fmt.Fprintln(a.io.stdout, ad)
	}
	return nil
}

type stateShowCmd struct {
	Address string `arg:"" help:"The address, e.g. replication.main.table[\"myapp.public.users\"]." placeholder:"ADDR"`
}

// Run implements the command.
func (c *stateShowCmd) Run(a *app) error {
	st, err := a.readState()
	if err != nil {
		return err
	}
	r := st.Resource(c.Address)
	if r == nil {
		return fmt.Errorf("state show: no entry %s; `database-replicator state list` shows what is recorded", c.Address)
	}
	return views.StateEntry(a.io.stdout, r)
}

type stateRmCmd struct {
	Address []string `arg:"" help:"Addresses to forget." placeholder:"ADDR"`
}

// Run implements the command.
func (c *stateRmCmd) Run(a *app) error {
	cfg, _ := a.loadConfigIfPresent()
	backend, unlock, err := a.lockState(cfg, "state rm")
	if err != nil {
		return err
	}
	defer unlock()
	st, err := backend.Read(a.ctx)
	if err != nil {
		return err
	}
	for _, ad := range c.Address {
		if st.Resource(ad) == nil {
			return fmt.Errorf("state rm: no entry %s; `database-replicator state list` shows what is recorded", ad)
		}
		st.RemoveResource(ad)
	}
	if err := backend.Write(a.ctx, st); err != nil {
		return err
	}
	for _, ad := range c.Address {
		fmt.Fprintf(a.io.stdout, "Removed %s\n", ad)
	}
	return nil
}

type stateForceUnlockCmd struct {
	ID string `arg:"" help:"The lock ID printed in the 'state is locked' error." placeholder:"LOCK_ID"`
}

// Run implements the command.
func (c *stateForceUnlockCmd) Run(a *app) error {
	cfg, _ := a.loadConfigIfPresent()
	backend, err := a.stateBackend(cfg)
	if err != nil {
		return err
	}
	if err := backend.ForceUnlock(a.ctx, c.ID); err != nil {
		return err
	}
	fmt.Fprintf(a.io.stdout, "Lock %s removed from %s.\n", c.ID, backend.Describe())
	return nil
}

// readState reads state without locking (read-only commands).
func (a *app) readState() (*state.State, error) {
	cfg, _ := a.loadConfigIfPresent()
	backend, err := a.stateBackend(cfg)
	if err != nil {
		return nil, err
	}
	return backend.Read(a.ctx)
}
