package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/picker"
)

// configCmd groups configuration helpers.
type configCmd struct {
	Convert  configConvertCmd  `cmd:"" help:"Convert the predecessor's TOML configuration to HCL (printed to stdout)."`
	Generate configGenerateCmd `cmd:"" help:"Write a replication.hcl for --source/--target: from the filter flags, or chosen interactively on a terminal."`
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

// configGenerateCmd writes the configuration that --source/--target and
// the filter flags describe, or that the user picks interactively.
type configGenerateCmd struct {
	Interactive bool   `help:"Choose the databases and tables in the terminal (the default on a terminal when no filter flag is given)."`
	Out         string `short:"o" help:"File to write; - prints it to stdout (not with the interactive setup)." default:"replication.hcl" placeholder:"PATH"`
	Force       bool   `help:"Replace an existing file (the interactive setup asks instead)."`
	connectionFlags
}

// generatedHeader opens a file config generate writes from flags.
const generatedHeader = `# Written by database-replicator config generate. The server URLs are not in
# this file: set REPLICATOR_VAR_source_url and REPLICATOR_VAR_target_url.

`

// Run implements the command.
func (c *configGenerateCmd) Run(a *app) error {
	f := &c.connectionFlags
	if f.Source == "" || f.Target == "" {
		return errors.New("config generate needs --source and --target: the file it writes reads them from variables, but the servers tell what there is to choose from")
	}
	interactive := a.pickerWanted(f, false)
	if c.Interactive {
		switch {
		case a.global.NoInteractive:
			return errors.New("--interactive and --no-interactive contradict each other: drop one")
		case f.filtersUsed() || len(f.ReplicaIdentityFull) > 0:
			return errors.New("--interactive asks for the databases and tables: drop the filter flags, or drop --interactive to write the file from them")
		case !a.io.stdinTTY || !a.io.stdoutTTY:
			return errors.New("--interactive needs a terminal on stdin and stdout: run it in a terminal, or give the filter flags instead")
		}
		interactive = true
	}
	if interactive {
		if c.Out == "-" {
			return errors.New("the interactive setup writes a file: give -o PATH instead of -")
		}
		if _, err := a.pickAndWrite(f, c.Out, pickerNext{}); err != nil {
			return err
		}
		fmt.Fprintf(a.io.stdout, "Next: %sdatabase-replicator plan -c %s\n", pickedEnv, c.Out)
		return nil
	}
	cfg, diags := lang.FlagConfig(lang.FilterFlags{
		IncludeDatabases: f.IncludeDatabases, ExcludeDatabases: f.ExcludeDatabases,
		IncludeTables: f.IncludeTables, ExcludeTables: f.ExcludeTables, SchemaOnlyTables: f.SchemaOnlyTables,
		TableFilters: f.TableFilter, TimeFilters: f.TimeFilter, ReplicaIdentityFull: f.ReplicaIdentityFull,
	}, f.Source, f.Target)
	if err := a.printDiagnostics(diags, nil); err != nil {
		return err
	}
	if diags.HasErrors() {
		return exitCode(1)
	}
	if err := f.applySubscriptionPassword(cfg); err != nil {
		return err
	}
	cfg.Variables[lang.SourceURLVar].Description = picker.SourceURLDescription
	cfg.Variables[lang.TargetURLVar].Description = picker.TargetURLDescription
	out := append([]byte(generatedHeader), lang.WriteHCL(cfg)...)
	if c.Out == "-" {
		_, err := a.io.stdout.Write(out)
		return err
	}
	if _, err := os.Stat(c.Out); err == nil && !c.Force {
		return fmt.Errorf("config generate: %s exists: pass --force to replace it, or -o OTHER.hcl", c.Out)
	}
	if err := writeFileAtomic(c.Out, out); err != nil {
		return err
	}
	fmt.Fprintf(a.io.stdout, "Wrote %s.\nNext: %sdatabase-replicator plan -c %s\n", c.Out, pickedEnv, c.Out)
	return nil
}
