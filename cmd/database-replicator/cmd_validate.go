package main

import (
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/cmd/database-replicator/views"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/preflight"
)

// validateCmd checks the configuration and, unless --offline, the servers.
type validateCmd struct {
	Offline bool `help:"Check the configuration only; connect to no server."`
	JSON    bool `name:"json" help:"Print the result as JSON (configuration diagnostics still go to stderr)."`
	connectionFlags
}

// Run implements the command.
func (c *validateCmd) Run(a *app) error {
	cfg, err := a.loadConfigOrFlags(&c.connectionFlags)
	if err != nil {
		return err
	}
	view := views.NewValidateView(a.io.stdout, c.JSON)
	from := strings.Join(cfg.Files, ", ")
	switch {
	case c.used() && len(cfg.Files) > 0:
		from += " with --source/--target"
	case c.used():
		from = "--source/--target and filter flags"
	}
	if err := view.Config(from, cfg.Replications); err != nil {
		return err
	}
	if c.Offline {
		return view.Offline()
	}
	// A connection string that does not parse is a failed check: the
	// error is in the set, per endpoint.
	eps, _ := endpoints.Resolve(cfg)
	checks := preflight.Run(a.ctx, cfg, eps)
	if err := view.Checks(checks); err != nil {
		return err
	}
	if failed := preflight.Failures(checks); failed > 0 {
		if c.JSON {
			return exitCode(1)
		}
		return &exitError{code: 1, err: fmt.Errorf("validate: %d blocking check(s) failed", failed)}
	}
	return nil
}
