package main

import (
	"fmt"
	"os"

	"github.com/database-replicator/database-replicator/lang"
)

// configCmd groups configuration helpers.
type configCmd struct {
	Convert configConvertCmd `cmd:"" help:"Convert the predecessor's TOML configuration to HCL (printed to stdout)."`
}

// configConvertCmd converts a predecessor TOML file.
type configConvertCmd struct {
	File string `arg:"" help:"The predecessor's TOML file." placeholder:"FILE.toml"`
}

// Run implements the command.
func (c *configConvertCmd) Run(a *app) error {
	if _, err := os.Stat(c.File); err != nil {
		return fmt.Errorf("config convert: %w", err)
	}
	out, diags := lang.ConvertTOML(c.File)
	if err := a.printDiagnostics(diags, nil); err != nil {
		return err
	}
	if diags.HasErrors() {
		return exitCode(1)
	}
	_, err := a.io.stdout.Write(out)
	return err
}
