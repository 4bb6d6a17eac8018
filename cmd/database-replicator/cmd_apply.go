package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/planner/plans"
)

// applyCmd makes the target match the plan.
type applyCmd struct {
	AutoApprove bool   `short:"y" aliases:"yes" help:"Apply without asking for confirmation (also -y, --yes)."`
	Parallelism int    `help:"Changes applied at once (default: snapshot.jobs)." placeholder:"N"`
	PlanFile    string `arg:"" optional:"" help:"A plan saved with 'plan --out'; refused when stale." placeholder:"PLANFILE"`
}

// Run implements the command.
func (c *applyCmd) Run(a *app) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	backend, unlock, err := a.lockState(cfg, "apply")
	if err != nil {
		return err
	}
	defer unlock()

	eps, err := resolveEndpoints(cfg)
	if err != nil {
		return err
	}
	fresh, diags, err := a.makePlan(cfg, eps, backend, nil)
	if err != nil {
		return err
	}
	plan := fresh
	if c.PlanFile != "" {
		saved, err := plans.ReadFile(c.PlanFile)
		if err != nil {
			return err
		}
		if err := saved.CheckFresh(fresh.ConfigDigest, fresh.StateLineage, fresh.StateSerial, fresh.Fingerprints); err != nil {
			return err
		}
		plan = saved
	}
	if err := a.renderPlan(plan, false, false); err != nil {
		return err
	}
	if diags.HasErrors() {
		return &exitError{code: 1, err: fmt.Errorf("apply: %d error(s) above must be fixed first; nothing was changed", len(diags.Errors()))}
	}
	if !plan.HasChanges() {
		return nil
	}
	if !c.AutoApprove {
		if err := a.confirm("apply", "--auto-approve", confirmYes); err != nil {
			return err
		}
	}
	if err := a.execute(cfg, eps, backend, plan, c.Parallelism); err != nil {
		return err
	}
	fmt.Fprintln(a.io.stdout, "Apply complete.")
	return nil
}

// confirmStyle is how a command asks before it changes anything.
type confirmStyle int

const (
	// confirmYes is Terraform's question for apply and destroy: only
	// "yes" proceeds.
	confirmYes confirmStyle = iota
	// confirmYN is the predecessor's question for its commands:
	// "[y/N]", y or yes (any case) proceeds, anything else declines.
	confirmYN
)

// confirm asks on a terminal and refuses without one or with
// --no-interactive, naming skipFlag.
func (a *app) confirm(command, skipFlag string, style confirmStyle) error {
	if a.global != nil && a.global.NoInteractive {
		return fmt.Errorf("%s needs confirmation and --no-interactive forbids asking: pass %s (or -y) after reviewing the plan", command, skipFlag)
	}
	if !a.io.stdinTTY {
		return fmt.Errorf("%s needs confirmation: run it in a terminal, or pass %s (e.g. in CI, after reviewing the plan)", command, skipFlag)
	}
	if style == confirmYN {
		fmt.Fprint(a.io.stdout, "\nProceed with replication? [y/N]: ")
	} else {
		fmt.Fprint(a.io.stdout, "\nDo you want to perform these actions? Only 'yes' will be accepted.\n  Enter a value: ")
	}
	line, _ := bufio.NewReader(a.io.stdin).ReadString('\n')
	answer := strings.TrimSpace(line)
	ok := answer == "yes"
	if style == confirmYN {
		ok = strings.EqualFold(answer, "y") || strings.EqualFold(answer, "yes")
	}
	if !ok {
		return &exitError{code: 1, err: fmt.Errorf("%s cancelled; nothing was changed", command)}
	}
	return nil
}
