package main

import (
	"errors"
	"fmt"

	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
)

// pauseCmd pauses continuous sync for flag users: the subscription is
// disabled (its slot keeps the source's changes) and no xmin cycle runs.
type pauseCmd struct {
	AutoApprove bool `short:"y" aliases:"yes" help:"Pause without asking for confirmation (also -y, --yes)."`
	connectionFlags
}

// resumeCmd resumes what pause paused, or a subscription disabled by hand.
type resumeCmd struct {
	AutoApprove bool `short:"y" aliases:"yes" help:"Resume without asking for confirmation (also -y, --yes)."`
	connectionFlags
}

// Run implements the command.
func (c *pauseCmd) Run(a *app) error { return a.setPaused(&c.connectionFlags, true, c.AutoApprove) }

// Run implements the command.
func (c *resumeCmd) Run(a *app) error { return a.setPaused(&c.connectionFlags, false, c.AutoApprove) }

// setPaused plans the replications of a flag configuration with sync
// paused (or resumed), shows the subscription and xmin changes that does,
// and applies only those: the change is recorded in the state, where
// flag-mode plans read it from then on. An HCL configuration says it in
// sync.enabled instead, so that plan and apply do not undo it.
func (a *app) setPaused(f *connectionFlags, paused, yes bool) error {
	name, enabled := "resume", true
	if paused {
		name, enabled = "pause", false
	}
	if !f.used() {
		return fmt.Errorf("%s goes with --source/--target: with a configuration file, set sync { enabled = %v } in the replication block and run apply (a pause made here would be undone by the next apply)", name, enabled)
	}
	cfg, err := a.loadConfigOrFlags(f)
	if err != nil {
		return err
	}
	eps, err := resolveEndpoints(cfg)
	if err != nil {
		return err
	}
	backend, unlock, err := a.lockState(cfg, name)
	if err != nil {
		return err
	}
	defer unlock()
	prior, err := backend.Read(a.ctx)
	if err != nil {
		return err
	}
	over := map[string]bool{}
	for _, r := range cfg.Replications {
		over[r.Name] = paused
	}
	full, diags, err := planning.Make(a.ctx, planning.Input{Config: cfg, Endpoints: eps, Prior: prior, Log: a.log, Paused: over})
	if err != nil {
		return err
	}
	if diags.HasErrors() {
		if err := a.renderPlan(full, false, false); err != nil {
			return err
		}
		return &exitError{code: 1, err: fmt.Errorf("%s: %d error(s) above must be fixed first; nothing was changed", name, len(diags.Errors()))}
	}
	plan, recorded := pauseChanges(full)
	if recorded == 0 {
		return errors.New(name + ": the state records no subscription or xmin cursor for this replication: nothing syncs yet (run init, then sync)")
	}
	if err := a.renderPlan(plan, false, false); err != nil {
		return err
	}
	if !plan.HasChanges() {
		fmt.Fprintf(a.io.stdout, "Continuous sync is already %sd.\n", map[bool]string{true: "pause", false: "resume"}[paused])
		return nil
	}
	if !yes {
		if err := a.confirm(name, "--auto-approve", confirmYN); err != nil {
			return err
		}
	}
	if err := a.runPlan(cfg, eps, backend, prior, plan, 0); err != nil {
		return err
	}
	if paused {
		fmt.Fprintln(a.io.stdout, "Continuous sync paused: the source's slot keeps its changes (and retains WAL) until `database-replicator resume`.")
	} else {
		fmt.Fprintln(a.io.stdout, "Continuous sync resumed.")
	}
	return nil
}

// pauseChanges keeps of a plan only its subscription and xmin cursor
// changes (what a pause or resume changes), and counts them whatever
// their action: other pending changes are left for init, sync or apply.
func pauseChanges(p *plans.Plan) (*plans.Plan, int) {
	out := *p
	out.Changes = nil
	n := 0
	for _, c := range p.Changes {
		if c.Addr.Kind != addrs.Subscription && c.Addr.Kind != addrs.Xmin {
			continue
		}
		if c.Action != plans.NoOp && c.Action != plans.Update {
			continue
		}
		if c.Before == nil {
			continue // not created yet
		}
		n++
		out.Changes = append(out.Changes, c)
	}
	return &out, n
}
