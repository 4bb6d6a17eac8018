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

// pickAndWrite runs the picker for --source/--target, writes the chosen
// configuration to path and returns the choices' configuration. then
// says, in the confirmation question, what follows ("go on with init";
// "" when nothing does).
func (a *app) pickAndWrite(f *connectionFlags, path, then string) (*lang.Config, error) {
	base, diags := lang.FlagConfig(lang.FilterFlags{}, f.Source, f.Target)
	if err := a.printDiagnostics(diags, nil); err != nil {
		return nil, err
	}
	if diags.HasErrors() {
		return nil, exitCode(1)
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
	fmt.Fprintf(a.io.stdout, "Interactive setup: choose what to replicate, review, confirm. (Ctrl-C leaves without writing or changing anything; --no-interactive or any filter flag skips these questions.)\nReading %s ...\n", srcInfo.Redacted())
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
		choices.SubscriptionPassword = lang.SubscriptionPassword(f.SubscriptionPassword)
	}
	if err := views.PickerSummary(a.io.stdout, picker.Summarize(src, choices)); err != nil {
		return nil, err
	}
	question := "Write " + path
	if _, err := os.Stat(path); err == nil {
		question = "Replace the existing " + path
	}
	if then != "" {
		question += " and " + then
	}
	question += "?"
	ok, err := ui.confirm(question, "The file holds no password: the URLs come from REPLICATOR_VAR_source_url and REPLICATOR_VAR_target_url (or --var).")
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

// pickAndLoad runs the picker of init and sync: it writes the chosen
// configuration to the --config path (replication.hcl) and loads it back
// from there, as `-c replication.hcl` would, with the URLs of
// --source/--target as the variables the file declares. then is what
// follows the confirmation.
func (a *app) pickAndLoad(f *connectionFlags, then string) (*lang.Config, error) {
	if _, err := a.pickAndWrite(f, a.global.Config, then); err != nil {
		return nil, err
	}
	return a.loadConfigWithVars(map[string]string{lang.SourceURLVar: f.Source, lang.TargetURLVar: f.Target})
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
