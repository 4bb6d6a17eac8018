package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/database-replicator/database-replicator/cmd/database-replicator/views"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
)

// loadConfig loads the configuration named by --config, prints every
// diagnostic to stderr, and returns an error when any of them is an error.
func (a *app) loadConfig() (*lang.Config, error) {
	return a.loadConfigWithVars(nil)
}

// loadConfigWithVars is loadConfig with variables that override --var
// (the URLs of --source/--target for a TOML file).
func (a *app) loadConfigWithVars(override map[string]string) (*lang.Config, error) {
	path := a.global.Config
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("configuration %s not found: create it (examples/ has starting points) or pass -c PATH", path)
		}
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	vars, err := parseVars(a.global.Var)
	if err != nil {
		return nil, err
	}
	for k, v := range override {
		vars[k] = v
	}
	cfg, diags := lang.LoadPath(path, lang.LoadOptions{Vars: vars, LookupEnv: a.io.lookupEnv})
	if err := a.printDiagnostics(diags, nil); err != nil {
		return nil, err
	}
	if diags.HasErrors() {
		return nil, exitCode(1)
	}
	return cfg, nil
}

// printDiagnostics writes every diagnostic, errors first, with source
// snippets to stderr; sources holds file contents already read (others are
// read from disk).
func (a *app) printDiagnostics(diags diag.Diagnostics, sources map[string][]byte) error {
	if len(diags) == 0 {
		return nil
	}
	_, noColor := a.io.lookupEnv("NO_COLOR")
	color := a.io.stderrTTY && !a.global.NoColor && !noColor
	v := views.HumanDiagnostics{W: a.io.stderr, Color: color, Sources: sources}
	if err := v.Render(diags); err != nil {
		return fmt.Errorf("print diagnostics: %w", err)
	}
	return nil
}

// loadConfigIfPresent loads the configuration when the --config path
// exists, and returns nil without error when it does not (state commands
// work from --state alone).
func (a *app) loadConfigIfPresent() (*lang.Config, error) {
	if _, err := os.Stat(a.global.Config); err != nil {
		return nil, nil
	}
	return a.loadConfig()
}
