package main

import (
	"fmt"

	"github.com/database-replicator/database-replicator/planner"
)

// destroyCmd removes the replication objects the state records.
type destroyCmd struct {
	AutoApprove bool `short:"y" aliases:"yes" help:"Destroy without asking for confirmation (also -y, --yes)."`
	DropData    bool `help:"Also drop the target databases the state records (their data is lost)."`
	connectionFlags
}

// Run implements the command.
func (c *destroyCmd) Run(a *app) error {
	cfg, err := a.loadConfigOrFlags(&c.connectionFlags)
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
	if err := planner.CheckPreventDestroy(cfg, p); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("destroy: %w", err)}
	}
	if !c.AutoApprove {
		if err := a.confirm("destroy", "--auto-approve", confirmYes); err != nil {
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
