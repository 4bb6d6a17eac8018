package views

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/sergi/go-diff/diffmatchpatch"
)

// PlanView shows a plan (plan, show, apply and init print one).
type PlanView interface {
	Plan(p *plans.Plan) error
}

// PlanText renders a plan for a terminal: markers, attribute diffs,
// reasons, warnings and the summary line.
type PlanText struct {
	W io.Writer
	// Color enables ANSI colours (on a TTY, unless --no-color).
	Color bool
}

// PlanJSON renders the documented JSON format (docs/plan-json.md).
type PlanJSON struct {
	W io.Writer
}

// PlanMarkdown renders a summary table and collapsible details for a pull
// request.
type PlanMarkdown struct {
	W io.Writer
}

// NewPlanView returns the view of the selected format: JSON, markdown, or
// (neither) text, coloured when color is set.
func NewPlanView(w io.Writer, asJSON, asMarkdown, color bool) PlanView {
	switch {
	case asJSON:
		return PlanJSON{W: w}
	case asMarkdown:
		return PlanMarkdown{W: w}
	}
	return PlanText{W: w, Color: color}
}

// ANSI colour codes used by the text view.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
	ansiCyan   = "\x1b[36m"
)

// longValue is the length beyond which string changes are shown as a diff.
const longValue = 60

func (v PlanText) paint(code, s string) string {
	if !v.Color {
		return s
	}
	return code + s + ansiReset
}

func actionColor(a plans.Action) string {
	switch a {
	case plans.Create:
		return ansiGreen
	case plans.Update:
		return ansiYellow
	case plans.Replace:
		return ansiCyan
	case plans.Delete:
		return ansiRed
	}
	return ""
}

// Plan writes the text plan.
func (v PlanText) Plan(p *plans.Plan) error {
	var b strings.Builder
	if !p.HasChanges() {
		b.WriteString(v.paint(ansiBold+ansiGreen, "No changes.") + " The target matches the configuration and the source.\n")
	} else {
		b.WriteString("database-replicator will perform the following actions:\n")
		for _, c := range p.Changes {
			if c.Action == plans.NoOp {
				continue
			}
			v.renderChange(&b, c)
		}
	}
	if len(p.Diagnostics) > 0 {
		b.WriteString("\n")
		// Errors first, then warnings: a warning never stands where an
		// error is expected.
		for _, d := range p.Diagnostics.ErrorsFirst() {
			label := v.paint(ansiBold+ansiYellow, "Warning:")
			if d.IsError() {
				label = v.paint(ansiBold+ansiRed, "Error:")
			}
			fmt.Fprintf(&b, "%s %s\n", label, d.Summary)
			if d.Address != "" {
				fmt.Fprintf(&b, "  on %s\n", d.Address)
			}
			for _, text := range []string{d.Detail, d.Fix} {
				for _, l := range strings.Split(text, "\n") {
					if l != "" {
						fmt.Fprintf(&b, "  %s\n", l)
					}
				}
			}
		}
	}
	s := p.Summary()
	fmt.Fprintf(&b, "\n%s %d to add, %d to change, %d to destroy.\n", v.paint(ansiBold, "Plan:"), s.Add, s.Change, s.Destroy)
	_, err := io.WriteString(v.W, b.String())
	return err
}

func (v PlanText) renderChange(b *strings.Builder, c *plans.Change) {
	marker := v.paint(actionColor(c.Action), c.Action.Marker())
	fmt.Fprintf(b, "\n  %s %s will be %s\n", v.paint(ansiBold, "#"), v.paint(ansiBold, c.Addr.String()), c.Action.Verb())
	if c.Reason != "" {
		fmt.Fprintf(b, "  # (%s)\n", c.Reason)
	}
	if c.Addr.Key == "" {
		fmt.Fprintf(b, "  %s %s {\n", marker, c.Addr.Kind)
	} else {
		fmt.Fprintf(b, "  %s %s %q {\n", marker, c.Addr.Kind, c.Addr.Key)
	}
	beforeAttrs, afterAttrs := plans.EncodeAttrs(c.Before), plans.EncodeAttrs(c.After)
	stmts := schemaStatements(c)
	if len(stmts) > 0 {
		delete(afterAttrs, "ddl") // each statement is shown on its own below
	}
	keys := attrKeys(beforeAttrs, afterAttrs)
	width := 0
	for _, k := range keys {
		if len(k) > width {
			width = len(k)
		}
	}
	for _, k := range keys {
		before, hadBefore := beforeAttrs[k]
		after, hasAfter := afterAttrs[k]
		name := k + strings.Repeat(" ", width-len(k))
		switch {
		case !hadBefore && hasAfter:
			fmt.Fprintf(b, "      %s %s = %s\n", v.paint(ansiGreen, "+"), name, formatValue(after))
		case hadBefore && !hasAfter:
			fmt.Fprintf(b, "      %s %s = %s\n", v.paint(ansiRed, "-"), name, formatValue(before))
		case formatValue(before) == formatValue(after):
			// Equal as rendered: 49152 read back from state as a float or
			// a json.Number is the same value as the int64 planned.
			if c.Action != plans.Update && c.Action != plans.Replace {
				fmt.Fprintf(b, "        %s = %s\n", name, formatValue(after))
			}
		default:
			bs, as := formatValue(before), formatValue(after)
			if len(bs)+len(as) > 2*longValue || strings.Contains(bs+as, "\n") {
				fmt.Fprintf(b, "      %s %s:\n", v.paint(ansiYellow, "~"), name)
				for _, l := range v.diffLines(stringOf(before), stringOf(after)) {
					fmt.Fprintf(b, "          %s\n", l)
				}
			} else {
				fmt.Fprintf(b, "      %s %s = %s -> %s\n", v.paint(ansiYellow, "~"), name, bs, as)
			}
		}
	}
	for i, st := range stmts {
		fmt.Fprintf(b, "      %s ddl[%d] %s: %s\n", v.paint(ansiYellow, "~"), i+1, st.Object, st.Change)
		for _, l := range strings.Split(st.SQL, "\n") {
			fmt.Fprintf(b, "          %s\n", l)
		}
		if st.Warning != "" {
			fmt.Fprintf(b, "          %s %s\n", v.paint(ansiYellow, "# warning:"), st.Warning)
		}
	}
	b.WriteString("    }\n")
	if len(c.DependsOn) > 0 {
		deps := make([]string, len(c.DependsOn))
		for i, d := range c.DependsOn {
			deps[i] = d.String()
		}
		fmt.Fprintf(b, "    # after: %s\n", strings.Join(deps, ", "))
	}
}

// diffLines renders a word-level diff of two long values: removed text in
// [-…-], inserted text in {+…+}, as git diff --word-diff does.
func (v PlanText) diffLines(before, after string) []string {
	dmp := diffmatchpatch.New()
	diffs := dmp.DiffCleanupSemantic(dmp.DiffMain(before, after, false))
	var s strings.Builder
	for _, d := range diffs {
		switch d.Type {
		case diffmatchpatch.DiffDelete:
			s.WriteString(v.paint(ansiRed, "[-"+d.Text+"-]"))
		case diffmatchpatch.DiffInsert:
			s.WriteString(v.paint(ansiGreen, "{+"+d.Text+"+}"))
		default:
			s.WriteString(d.Text)
		}
	}
	return strings.Split(s.String(), "\n")
}

// attrKeys returns the union of attribute names, sorted.
func attrKeys(maps ...map[string]any) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range maps {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// stringOf returns a string value as is and anything else as JSON.
func stringOf(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	s, _ := plainJSON(v)
	return s
}

// plainJSON renders v as JSON without HTML escaping: a filter reads
// `id <= 100`, not `id \u003c= 100`.
func plainJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// formatValue renders an attribute value in HCL-like syntax.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", x)
	}
	s, err := plainJSON(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return s
}

// schemaStatements are the schema statements of a drift update (none
// for any other change).
func schemaStatements(c *plans.Change) []plans.SchemaStatement {
	if a, ok := c.After.(*plans.SchemaAttrs); ok && a.Drift != nil {
		return a.Drift.Statements
	}
	return nil
}

// Plan writes the plan as indented JSON followed by a newline.
func (v PlanJSON) Plan(p *plans.Plan) error {
	if err := writeIndentedJSON(v.W, p); err != nil {
		return fmt.Errorf("render plan as JSON: %w", err)
	}
	return nil
}

// Plan writes the markdown plan.
func (v PlanMarkdown) Plan(p *plans.Plan) error {
	var b strings.Builder
	s := p.Summary()
	b.WriteString("### database-replicator plan\n\n")
	if !p.HasChanges() {
		b.WriteString("**No changes.** The target matches the configuration and the source.\n")
	} else {
		fmt.Fprintf(&b, "**Plan:** %d to add, %d to change, %d to destroy.\n\n", s.Add, s.Change, s.Destroy)
		b.WriteString("| action | address | reason |\n|---|---|---|\n")
		for _, c := range p.Changes {
			if c.Action == plans.NoOp {
				continue
			}
			fmt.Fprintf(&b, "| `%s` %s | `%s` | %s |\n", c.Action.Marker(), c.Action, mdEscape(c.Addr.String()), mdEscape(c.Reason))
			for i, st := range schemaStatements(c) {
				what := st.Object + ": " + st.Change
				if st.Warning != "" {
					what += " ⚠️ " + st.Warning
				}
				fmt.Fprintf(&b, "| `~` ddl[%d] | `%s` | %s<br>`%s` |\n", i+1, mdEscape(c.Addr.String()), mdEscape(what),
					mdEscape(st.SQL))
			}
		}
		b.WriteString("\n<details><summary>Details</summary>\n\n```diff\n")
		var text strings.Builder
		for _, c := range p.Changes {
			if c.Action != plans.NoOp {
				PlanText{}.renderChange(&text, c)
			}
		}
		b.WriteString(strings.TrimLeft(text.String(), "\n"))
		b.WriteString("```\n\n</details>\n")
	}
	// Errors under their own heading before the warnings.
	writeMarkdownDiagnostics(&b, "Errors", "❌", p.Diagnostics.Errors())
	writeMarkdownDiagnostics(&b, "Warnings", "⚠️", p.Diagnostics.Warnings())
	_, err := io.WriteString(v.W, b.String())
	return err
}

// writeMarkdownDiagnostics writes a heading and one bullet per diagnostic,
// nothing when ds is empty.
func writeMarkdownDiagnostics(b *strings.Builder, heading, icon string, ds diag.Diagnostics) {
	if len(ds) == 0 {
		return
	}
	fmt.Fprintf(b, "\n#### %s\n\n", heading)
	for _, d := range ds {
		fmt.Fprintf(b, "- %s **%s**", icon, mdEscape(d.Summary))
		if d.Address != "" {
			fmt.Fprintf(b, " (`%s`)", d.Address)
		}
		if d.Detail != "" {
			fmt.Fprintf(b, ": %s", mdEscape(strings.ReplaceAll(d.Detail, "\n", " ")))
		}
		if d.Fix != "" {
			fmt.Fprintf(b, " Fix: %s", mdEscape(strings.ReplaceAll(d.Fix, "\n", " ")))
		}
		b.WriteString("\n")
	}
}

// mdEscape escapes characters that break a markdown table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
