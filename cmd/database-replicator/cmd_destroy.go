package main

import (
	"fmt"

	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/planner/addrs"
)

// destroyCmd removes the replication objects the state records.
type destroyCmd struct {
	AutoApprove bool `help:"Destroy without asking for confirmation."`
	DropData    bool `help:"Also drop the target databases the state records (their data is lost)."`
}

// Run implements the command.
func (c *destroyCmd) Run(a *app) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	backend, unlock, err := a.lockState(cfg, "destroy")
	if err != nil {
		return err
	}
	defer unlock()
	prior, err := backend.Read(a.ctx)
	if err != nil {
		return err
	}
	p := planner.Destroy(prior, c.DropData, "destroy")
	if err := a.renderPlan(p, false, false); err != nil {
		return err
	}
	if !p.HasChanges() {
		return nil
	}
	for _, r := range cfg.Replications {
		if !r.Policy.PreventDestroy {
			continue
		}
		for _, ch := range p.Changes {
			if ch.Addr.Replication == r.Name && ch.Addr.Kind != addrs.Globals {
				return &exitError{code: 1, err: fmt.Errorf("destroy: replication.%s has policy.prevent_destroy = true: set it to false to destroy its objects; nothing was changed", r.Name)}
			}
		}
	}
	if !c.AutoApprove {
		if err := a.confirm("destroy", "--auto-approve"); err != nil {
			return err
		}
	}
	eps, err := resolveEndpoints(cfg)
	if err != nil {
		return err
	}
	if err := a.runPlan(cfg, eps, backend, prior, p, 1); err != nil {
		return err
	}
	fmt.Fprintln(a.io.stdout, "Destroy complete.")
	return nil
}
