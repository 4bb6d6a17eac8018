package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/database-replicator/database-replicator/cmd/database-replicator/views"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/picker"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
)

// The interactive picker: on a terminal, init, sync and config generate
// given --source and --target without any filter flag ask which
// databases and tables to replicate, write the answer as an HCL file,
// and (init, sync) go on with that file.

// pickerEnvAccessible turns on the picker's accessible mode (plain
// numbered prompts, one per line, for screen readers), as --accessible.
const pickerEnvAccessible = "REPLICATOR_ACCESSIBLE"

// pickerWanted reports whether a command given f runs the picker: both
// URLs, no filter flag (nor --replica-identity-full), the default
// --config path, no --yes (yes) and no --no-interactive, a terminal on
// stdin and stdout, and not in CI (CI set to anything but "", "false" or
// "0"). Anything else runs exactly as without the picker.
func (a *app) pickerWanted(f *connectionFlags, yes bool) bool {
	switch {
	case yes, a.global.NoInteractive, f.Source == "", f.Target == "", f.filtersUsed(), len(f.ReplicaIdentityFull) > 0:
		return false
	case a.global.Config != defaultConfigPath:
		return false
	case envTrue(a.io.lookupEnv, "CI"):
		return false
	}
	return a.io.stdinTTY && a.io.stdoutTTY
}

// envTrue reports whether the environment variable is set to anything
// but "", "0" or "false".
func envTrue(lookup func(string) (string, bool), name string) bool {
	v, ok := lookup(name)
	v = strings.TrimSpace(v)
	return ok && v != "" && v != "0" && !strings.EqualFold(v, "false")
}

// errPickerCancelled is returned when the user leaves the picker (Ctrl-C,
// or No at the confirmation): nothing was written and nothing changed.
var errPickerCancelled = errors.New("interactive setup cancelled: nothing was written and nothing was changed on either server")

// pickerNext is what follows the interactive setup, for its last
// question: Then completes "Write replication.hcl and ...?" ("" when
// nothing follows), Detail says what that does.
type pickerNext struct {
	Then, Detail string
}

// pickerURLNote says where the written file takes the URLs from.
const pickerURLNote = "The URLs stay out of the file: it reads them from REPLICATOR_VAR_source_url and REPLICATOR_VAR_target_url."

// pickAndWrite runs the picker for --source/--target, writes the chosen
// configuration to path and returns the choices' configuration.
func (a *app) pickAndWrite(f *connectionFlags, path string, next pickerNext) (*lang.Config, error) {
	base, diags := lang.FlagConfig(lang.FilterFlags{}, f.Source, f.Target)
	if err := a.printDiagnostics(diags, nil); err != nil {
		return nil, err
	}
	if diags.HasErrors() {
		return nil, exitCode(1)
	}
	// A wrong --subscription-password fails before any question.
	if err := f.applySubscriptionPassword(base); err != nil {
		return nil, err
	}
	eps, err := endpoints.Resolve(base)
	if err != nil {
		return nil, err
	}
	srcInfo, err := eps.Source(base.Replications[0])
	if err != nil {
		return nil, err
	}
	ui := a.newPickerUI()
	fmt.Fprintf(a.io.stdout, "Interactive setup (Ctrl-C leaves it without writing or changing anything).\nReading %s ...\n", srcInfo.Redacted())
	src, err := catalog.Introspect(a.ctx, srcInfo, nil)
	if err != nil {
		if a.ctx.Err() != nil {
			return nil, &exitError{code: 1, err: errPickerCancelled}
		}
		return nil, fmt.Errorf("interactive setup: %w", err)
	}
	choices, err := ui.pick(src)
	if err != nil {
		return nil, pickerError(err)
	}
	if f.SubscriptionPassword != "" {
		choices.SubscriptionPassword = base.Replications[0].Sync.SubscriptionPassword
	}
	if err := views.PickerSummary(a.io.stdout, picker.Summarize(src, choices)); err != nil {
		return nil, err
	}
	question := "Write " + path
	if _, err := os.Stat(path); err == nil {
		question = "Replace the existing " + path
	}
	if next.Then != "" {
		question += " and " + next.Then
	}
	ok, err := ui.confirm(question+"?", strings.TrimSpace(next.Detail+" "+pickerURLNote))
	if err != nil {
		return nil, pickerError(err)
	}
	if !ok {
		return nil, &exitError{code: 1, err: errPickerCancelled}
	}
	cfg := choices.Config(f.Source, f.Target)
	if err := writeFileAtomic(path, append([]byte(pickedHeader), lang.WriteHCL(cfg)...)); err != nil {
		return nil, err
	}
	fmt.Fprintf(a.io.stdout, "\nWrote %s.\n", path)
	return cfg, nil
}

// pickedHeader opens a file the picker writes.
const pickedHeader = `# Written by the interactive setup of database-replicator. Edit it freely;
# ` + "`database-replicator plan`" + ` shows what it does. The server URLs are not in
# this file: set REPLICATOR_VAR_source_url and REPLICATOR_VAR_target_url.

`

// pickerError maps the picker's cancellation to the exit error that says
// nothing changed; other errors pass.
func pickerError(err error) error {
	if errors.Is(err, errPickerCancelled) {
		return &exitError{code: 1, err: errPickerCancelled}
	}
	return fmt.Errorf("interactive setup: %w", err)
}

// pickAndLoad runs the interactive setup of init and sync and returns
// the configuration to go on with, loaded from the --config path
// (replication.hcl) as `-c replication.hcl` would load it, with the URLs
// of --source/--target as the variables the file declares. When that
// file exists, the first question is whether to use it as it is (the
// setup of an earlier init, for the sync after it) or to choose again
// and replace it.
func (a *app) pickAndLoad(f *connectionFlags, next pickerNext) (*lang.Config, error) {
	path := a.global.Config
	if _, err := os.Stat(path); err == nil {
		use, err := a.newPickerUI().useExisting(path)
		if err != nil {
			return nil, pickerError(err)
		}
		if use {
			return a.loadConfigWithVars(pickedVars(f))
		}
	}
	if _, err := a.pickAndWrite(f, path, next); err != nil {
		return nil, err
	}
	return a.loadConfigWithVars(pickedVars(f))
}

// pickedVars gives the variables of a file the setup wrote the URLs of
// --source/--target.
func pickedVars(f *connectionFlags) map[string]string {
	return map[string]string{lang.SourceURLVar: f.Source, lang.TargetURLVar: f.Target}
}

// writeFileAtomic writes data to path through a temporary file in the
// same directory and a rename, so that an interrupted write leaves no
// partial file.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
