package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/charmbracelet/huh"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/picker"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

// pickerUI draws the picker's forms (charmbracelet/huh) on the terminal
// of the command, or, in accessible mode, asks plain numbered questions
// line by line.
type pickerUI struct {
	ctx        context.Context
	in         io.Reader
	out        io.Writer
	accessible bool
	theme      *huh.Theme
	// eof is set once accessible mode read the end of its input: huh's
	// line prompts then return defaults, which must not count as answers.
	eof *atomic.Bool
}

// newPickerUI returns the picker's UI for the command's terminal: colour
// unless --no-color or NO_COLOR, accessible with --accessible or
// REPLICATOR_ACCESSIBLE.
func (a *app) newPickerUI() *pickerUI {
	ui := &pickerUI{ctx: a.ctx, in: a.io.stdin, out: a.io.stdout, theme: huh.ThemeBase16(), eof: &atomic.Bool{}}
	if !a.color {
		ui.theme = huh.ThemeBase()
	}
	if a.global.Accessible || envTrue(a.io.lookupEnv, pickerEnvAccessible) {
		ui.accessible = true
		ui.in = &eofReader{r: a.io.stdin, eof: ui.eof}
	}
	return ui
}

// eofReader records that its reader reached the end.
type eofReader struct {
	r   io.Reader
	eof *atomic.Bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, io.EOF) {
		e.eof.Store(true)
	}
	return n, err
}

// run shows one form and waits for it. Ctrl-C, a cancelled context and
// the end of the input in accessible mode return errPickerCancelled.
func (ui *pickerUI) run(groups ...*huh.Group) error {
	form := huh.NewForm(groups...).WithTheme(ui.theme).WithAccessible(ui.accessible).
		WithInput(ui.in).WithOutput(ui.out).WithShowHelp(true)
	var err error
	if ui.accessible {
		// Line prompts cannot be interrupted: leave them to finish in
		// the background when the context ends (the command exits).
		done := make(chan error, 1)
		go func() { done <- form.RunWithContext(ui.ctx) }()
		select {
		case err = <-done:
		case <-ui.ctx.Done():
			return errPickerCancelled
		}
	} else {
		err = form.RunWithContext(ui.ctx)
	}
	switch {
	case ui.ctx.Err() != nil, errors.Is(err, huh.ErrUserAborted), ui.eof.Load():
		return errPickerCancelled
	case err != nil:
		return err
	}
	return nil
}

// describe prints a question's description in accessible mode, where huh
// shows only titles; the drawn forms show it under the title.
func (ui *pickerUI) describe(description string) {
	if ui.accessible {
		fmt.Fprintln(ui.out, description)
	}
}

// record prints the answer of a step, so that it stays on the screen
// after the form is gone.
func (ui *pickerUI) record(format string, args ...any) {
	fmt.Fprintf(ui.out, "✓ "+format+"\n", args...)
}

// pick asks every question and returns the answers.
func (ui *pickerUI) pick(src *catalog.Server) (picker.Choices, error) {
	var c picker.Choices
	dbs := picker.Databases(src)
	if len(dbs) == 0 {
		return c, errors.New("the source has no database that can be replicated (every database is a template or refuses connections)")
	}
	steps := []func(*catalog.Server, *picker.Choices) error{
		ui.pickDatabases, ui.pickExcluded, ui.pickSchemaOnly, ui.pickFilters, ui.pickMethod, ui.pickIdentity,
	}
	for _, step := range steps {
		if err := step(src, &c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// pickDatabases asks for the databases, again until at least one is
// chosen (checked after the form: huh would show its check's message
// before the first key, and its accessible prompts would re-ask forever
// at the end of the input).
func (ui *pickerUI) pickDatabases(src *catalog.Server, c *picker.Choices) error {
	var opts []huh.Option[string]
	for _, d := range picker.Databases(src) {
		opts = append(opts, huh.NewOption(d.Label(), d.Name))
	}
	for len(c.Databases) == 0 {
		ui.describe("Choose the databases to copy and keep in sync: enter a number to toggle it, 0 when done.")
		if err := ui.run(huh.NewGroup(huh.NewMultiSelect[string]().
			Title("Databases to replicate").
			Description("space or x toggles, / filters, ctrl+a selects all, enter goes on").
			Options(opts...).Filterable(true).Value(&c.Databases))); err != nil {
			return err
		}
		if len(c.Databases) == 0 {
			fmt.Fprintln(ui.out, "Choose at least one database: space or x toggles the one under the cursor.")
		}
	}
	slices.Sort(c.Databases)
	ui.record("Databases: %s", strings.Join(c.Databases, ", "))
	return nil
}

// tableOptions returns the options for the tables of db that keep
// satisfies, with the selected ones marked.
func tableOptions(src *catalog.Server, db string, keep func(picker.Table) bool) []huh.Option[lang.TableRef] {
	var opts []huh.Option[lang.TableRef]
	for _, t := range picker.Tables(src, db) {
		if keep(t) {
			opts = append(opts, huh.NewOption(t.Label(), t.Ref))
		}
	}
	return opts
}

// perDatabase asks one multi-select per chosen database over the tables
// keep satisfies, with title and description per database; it returns
// every table chosen.
func (ui *pickerUI) perDatabase(src *catalog.Server, c *picker.Choices, keep func(picker.Table) bool, title, description string) ([]lang.TableRef, error) {
	answers := make([][]lang.TableRef, len(c.Databases))
	var groups []*huh.Group
	for i, db := range c.Databases {
		opts := tableOptions(src, db, keep)
		if len(opts) == 0 {
			continue
		}
		groups = append(groups, huh.NewGroup(huh.NewMultiSelect[lang.TableRef]().
			Title(fmt.Sprintf(title, db)).Description(description).
			Options(opts...).Filterable(true).Value(&answers[i])))
	}
	if len(groups) == 0 {
		return nil, nil
	}
	ui.describe(accessibleDescription)
	if err := ui.run(groups...); err != nil {
		return nil, err
	}
	var out []lang.TableRef
	for _, a := range answers {
		out = append(out, a...)
	}
	return out, nil
}

// accessibleDescription is what the table questions say in accessible
// mode instead of their key help.
const accessibleDescription = "Enter a number to toggle that table, 0 when done (choosing none is fine)."

// refNames renders table references for a record line.
func refNames(refs []lang.TableRef) string {
	if len(refs) == 0 {
		return "none"
	}
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.String()
	}
	return strings.Join(names, ", ")
}

// pickExcluded asks, per database, which tables to leave out.
func (ui *pickerUI) pickExcluded(src *catalog.Server, c *picker.Choices) error {
	refs, err := ui.perDatabase(src, c, func(picker.Table) bool { return true },
		"Tables of %s to leave out (optional)",
		"space or x toggles, / filters, enter goes on; choose none to copy every table")
	if err != nil {
		return err
	}
	c.Exclude = refs
	ui.record("Left out: %s", refNames(refs))
	return nil
}

// pickSchemaOnly asks, per database, which of the remaining tables to copy
// as structure only.
func (ui *pickerUI) pickSchemaOnly(src *catalog.Server, c *picker.Choices) error {
	refs, err := ui.perDatabase(src, c, func(t picker.Table) bool { return !slices.Contains(c.Exclude, t.Ref) },
		"Tables of %s to copy as structure only, without rows (optional)",
		"space or x toggles, / filters, enter goes on")
	if err != nil {
		return err
	}
	c.SchemaOnly = refs
	ui.record("Structure only: %s", refNames(refs))
	return nil
}

// whereKind is the filter-kind answer that asks for a SQL condition; any
// other answer names the column of a time window.
const whereKind = "\x00where"

// pickFilters asks which copied tables keep only some rows, then per
// table how (a time window on one of its date or timestamp columns, or a
// SQL condition), then the window or the condition.
func (ui *pickerUI) pickFilters(src *catalog.Server, c *picker.Choices) error {
	copied := c.Copied(src)
	if len(copied) == 0 {
		return nil
	}
	var opts []huh.Option[lang.TableRef]
	for _, t := range copied {
		opts = append(opts, huh.NewOption(t.Ref.Database+"."+t.Label(), t.Ref))
	}
	var chosen []lang.TableRef
	ui.describe("A time window keeps recent rows, a SQL condition any subset. " + accessibleDescription)
	if err := ui.run(huh.NewGroup(huh.NewMultiSelect[lang.TableRef]().
		Title("Tables to copy only some rows of (optional)").
		Description("a time window keeps recent rows, a SQL condition any subset; enter with none chosen copies every row").
		Options(opts...).Filterable(true).Value(&chosen))); err != nil {
		return err
	}
	if len(chosen) == 0 {
		ui.record("Row filters: none")
		return nil
	}
	tables := map[lang.TableRef]picker.Table{}
	for _, t := range copied {
		tables[t.Ref] = t
	}
	kinds := make([]string, len(chosen))
	var groups []*huh.Group
	for i, ref := range chosen {
		var kindOpts []huh.Option[string]
		for _, col := range tables[ref].TimeColumns {
			kindOpts = append(kindOpts, huh.NewOption(fmt.Sprintf("recent rows by %s (a time window)", col), col))
		}
		kindOpts = append(kindOpts, huh.NewOption("rows matching a SQL condition (WHERE)", whereKind))
		kinds[i] = kindOpts[0].Value
		groups = append(groups, huh.NewGroup(huh.NewSelect[string]().
			Title(fmt.Sprintf("How to choose the rows of %s", ref)).Options(kindOpts...).Value(&kinds[i])))
	}
	if err := ui.run(groups...); err != nil {
		return err
	}
	values := make([]string, len(chosen))
	groups = groups[:0]
	for i, ref := range chosen {
		in := huh.NewInput().Value(&values[i])
		if kinds[i] == whereKind {
			in.Title(fmt.Sprintf("Copy the rows of %s where (a SQL condition)", ref)).
				Description("a SQL condition over its columns, e.g. id > 1000 or region = 'eu'").
				Validate(lang.CheckRowFilterSyntax)
		} else {
			in.Title(fmt.Sprintf("Copy the rows of %s whose %s lies within the last (e.g. 90 days)", ref, kinds[i])).
				Description("e.g. 90 days, 6 months, 2 weeks, 1 year").Placeholder("90 days").
				Validate(func(s string) error { _, err := lang.ParseWindow(s); return err })
		}
		groups = append(groups, huh.NewGroup(in))
	}
	if err := ui.run(groups...); err != nil {
		return err
	}
	var described []string
	for i, ref := range chosen {
		f := picker.Filter{Table: ref}
		if kinds[i] == whereKind {
			if err := lang.CheckRowFilterSyntax(values[i]); err != nil {
				return fmt.Errorf("row filter of %s: %w", ref, err)
			}
			f.Where = strings.TrimSpace(values[i])
			described = append(described, fmt.Sprintf("%s where %s", ref, f.Where))
		} else {
			w, err := lang.ParseWindow(values[i])
			if err != nil {
				return fmt.Errorf("time window of %s: %w", ref, err)
			}
			f.Window = &lang.TimeWindow{Column: kinds[i], Last: w}
			described = append(described, fmt.Sprintf("%s: %s within the last %s", ref, kinds[i], w))
		}
		c.Filters = append(c.Filters, f)
	}
	ui.record("Row filters: %s", strings.Join(described, "; "))
	return nil
}

// pickMethod shows the sync method the tool detects, and why, and lets the
// user keep it (auto) or choose another.
func (ui *pickerUI) pickMethod(src *catalog.Server, c *picker.Choices) error {
	d := c.MethodDecision(src)
	method := lang.SyncAuto
	opts := []huh.Option[lang.SyncMethod]{huh.NewOption(fmt.Sprintf("auto: %s (detected)", d.Method), lang.SyncAuto)}
	if d.Method != lang.SyncXmin {
		opts = append(opts, huh.NewOption("xmin: poll changed rows (no source changes required)", lang.SyncXmin))
	}
	opts = append(opts, huh.NewOption("none: snapshot only, no continuous sync", lang.SyncNone))
	ui.describe(d.Why + ".")
	if err := ui.run(huh.NewGroup(huh.NewSelect[lang.SyncMethod]().
		Title("Sync method after the snapshot").Description(d.Why).
		Options(opts...).Value(&method))); err != nil {
		return err
	}
	if method != lang.SyncAuto {
		c.Method = method
	}
	ui.record("Sync method: %s", c.MethodDecision(src).Method)
	return nil
}

// pickIdentity asks, under logical sync, what to do with the copied
// tables that have no primary key: published with REPLICA IDENTITY FULL
// (chosen by default), or left out. Time windows on a column outside the
// primary key get FULL too (plan refuses them otherwise), and say so in
// the summary.
func (ui *pickerUI) pickIdentity(src *catalog.Server, c *picker.Choices) error {
	c.ReplicaIdentityFull = append(c.ReplicaIdentityFull, c.WindowsOutsideKey(src)...)
	need := c.NeedsIdentity(src)
	if len(need) == 0 {
		return nil
	}
	var opts []huh.Option[lang.TableRef]
	for _, ref := range need {
		opts = append(opts, huh.NewOption(ref.String(), ref).Selected(true))
	}
	full := slices.Clone(need)
	ui.describe(identityDescription + " " + accessibleDescription)
	if err := ui.run(huh.NewGroup(huh.NewMultiSelect[lang.TableRef]().
		Title("Tables without a primary key: publish with REPLICA IDENTITY FULL?").
		Description(identityDescription).
		Options(opts...).Value(&full))); err != nil {
		return err
	}
	for _, ref := range need {
		if slices.Contains(full, ref) {
			c.ReplicaIdentityFull = append(c.ReplicaIdentityFull, ref)
			continue
		}
		c.Exclude = append(c.Exclude, ref)
		c.Filters = slices.DeleteFunc(c.Filters, func(f picker.Filter) bool { return f.Table == ref })
	}
	ui.record("REPLICA IDENTITY FULL: %s", refNames(full))
	return nil
}

// identityDescription explains the question about tables without a
// primary key.
const identityDescription = "Logical replication needs it for UPDATE and DELETE on them to keep working on the source; it is set on the source and the target. Unselected tables are left out."

// confirm asks a yes/no question, No by default.
func (ui *pickerUI) confirm(question, description string) (bool, error) {
	ok := false
	ui.describe(description)
	err := ui.run(huh.NewGroup(huh.NewConfirm().Title(question).Description(description).
		Affirmative("Yes").Negative("No").Value(&ok)))
	return ok, err
}

// useExisting asks whether to go on with the configuration file at path
// (true) or to choose again and replace it.
func (ui *pickerUI) useExisting(path string) (bool, error) {
	use := true
	ui.describe("It may hold the choices of an earlier setup (init, then sync).")
	err := ui.run(huh.NewGroup(huh.NewSelect[bool]().
		Title(path+" exists here").
		Description("It may hold the choices of an earlier setup (init, then sync).").
		Options(
			huh.NewOption("use "+path+" as it is, with the URLs of --source and --target", true),
			huh.NewOption("choose again, and replace "+path+" after the summary", false),
		).Value(&use)))
	if err == nil {
		if use {
			ui.record("Using %s", path)
		} else {
			ui.record("Choosing again")
		}
	}
	return use, err
}
