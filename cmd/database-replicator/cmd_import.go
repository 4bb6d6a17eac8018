package main

import (
	"fmt"

	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
)

// importCmd brings an existing publication, slot or subscription under
// management, as Terraform's import does: it checks the object against the
// configuration, read-only, and records it in the state.
type importCmd struct {
	Address string `arg:"" help:"The address as plan prints it, e.g. 'replication.main.subscription[\"app\"]' (quote it for the shell)." placeholder:"ADDRESS"`
	ID      string `arg:"" help:"The object's name on its server: the publication (source database), the slot (source server) or the subscription (target database)." placeholder:"ID"`
	connectionFlags
}

// Run implements the command.
func (c *importCmd) Run(a *app) error {
	addr, err := addrs.Parse(c.Address)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	cfg, err := a.loadConfigOrFlags(&c.connectionFlags)
	if err != nil {
		return err
	}
	backend, unlock, err := a.lockState(cfg, "import")
	if err != nil {
		return err
	}
	defer unlock()
	eps, err := resolveEndpoints(cfg)
	if err != nil {
		return err
	}
	st, err := backend.Read(a.ctx)
	if err != nil {
		return err
	}
	im, diags, err := planning.Import(a.ctx, planning.ImportInput{Config: cfg, Endpoints: eps, Prior: st, Log: a.log, Addr: addr, ID: c.ID})
	if err != nil {
		return err
	}
	if err := a.printDiagnostics(diags, nil); err != nil {
		return err
	}
	if diags.HasErrors() {
		return &exitError{code: 1, err: fmt.Errorf("import: %d error(s) above; nothing was recorded", len(diags.Errors()))}
	}
	for _, r := range im.Resources {
		st.SetResource(r)
	}
	if err := backend.Write(a.ctx, st); err != nil {
		return err
	}
	out := a.io.stdout
	fmt.Fprintf(out, "Imported %s: %s.\n", addr, im.Object)
	if len(im.With) > 0 {
		fmt.Fprintln(out, "\nRecorded with it, as already replicated (nothing is copied again):")
		for _, w := range im.With {
			fmt.Fprintf(out, "  %s\n", w)
		}
	}
	if len(im.Left) > 0 {
		fmt.Fprintln(out, "\nLeft to the plan:")
		for _, l := range im.Left {
			fmt.Fprintf(out, "  %s\n", l)
		}
	}
	if cfg.FlagMode {
		fmt.Fprintf(out, "\nThe state records it now: %s shows what remains to do, and asks before it changes anything.\n", planner.Command(cfg, "init"))
	} else {
		fmt.Fprintf(out, "\nThe state records it now: %s shows what remains to do.\n", planner.Command(cfg, "plan"))
	}
	return nil
}
