package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
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
	out := a.io.stdout
	if c.JSON {
		out = io.Discard
	}
	from := strings.Join(cfg.Files, ", ")
	if c.used() {
		from = "--source/--target and filter flags"
	}
	fmt.Fprintf(out, "Configuration is valid (%s).\n", from)
	for _, r := range cfg.Replications {
		fmt.Fprintf(out, "  replication.%s: source.%s -> target.%s, %s, sync %s\n",
			r.Name, r.Source, r.Target, describeScope(r), r.Sync.Method)
	}
	if c.Offline {
		if c.JSON {
			return writeJSON(a.io.stdout, validateReport{ConfigValid: true, Checks: []checkJSON{}})
		}
		return nil
	}
	return a.validateLive(cfg, c.JSON)
}

// describeScope summarises which databases a replication covers.
func describeScope(r *lang.Replication) string {
	switch {
	case len(r.Databases) > 0:
		return "databases " + strings.Join(r.Databases, ", ")
	case len(r.ExcludeDatabases) > 0:
		return "every database except " + strings.Join(r.ExcludeDatabases, ", ")
	}
	return "every non-template database"
}
