package views

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/preflight"
)

// ValidateView renders validate's result: the configuration summary, then
// the live checks (or nothing more with --offline).
type ValidateView interface {
	// Config says the configuration is valid; from names where it came
	// from (files, or the flags).
	Config(from string, reps []*lang.Replication) error
	// Offline ends the output when no server was checked.
	Offline() error
	// Checks renders the live checks.
	Checks(checks []preflight.Check) error
}

// NewValidateView returns the JSON or the human view writing to w.
func NewValidateView(w io.Writer, asJSON bool) ValidateView {
	if asJSON {
		return ValidateJSON{W: w}
	}
	return ValidateText{W: w}
}

// ValidateText renders validate for a terminal.
type ValidateText struct{ W io.Writer }

// Config implements ValidateView.
func (v ValidateText) Config(from string, reps []*lang.Replication) error {
	fmt.Fprintf(v.W, "Configuration is valid (%s).\n", from)
	for _, r := range reps {
		fmt.Fprintf(v.W, "  replication.%s: source.%s -> target.%s, %s, sync %s\n",
			r.Name, r.Source, r.Target, describeScope(r), r.Sync.Method)
	}
	return nil
}

// Offline implements ValidateView.
func (v ValidateText) Offline() error { return nil }

// Checks implements ValidateView: a table, then the fix of every check
// that did not pass, then a closing line when nothing blocks.
func (v ValidateText) Checks(checks []preflight.Check) error {
	w := tabwriter.NewWriter(v.W, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\n\tSUBJECT\tCHECK\tRESULT")
	for _, c := range checks {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", mark(c.Status), c.Subject, c.Name, c.Detail)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, c := range checks {
		if c.Fix != "" && c.Status != preflight.OK {
			fmt.Fprintf(v.W, "\n%s %s — %s:\n    %s\n", mark(c.Status), c.Subject, c.Name, c.Fix)
		}
	}
	if preflight.Failures(checks) == 0 {
		fmt.Fprintln(v.W, "\nAll blocking checks passed.")
	}
	return nil
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

// mark is a check's status in the human table.
func mark(s preflight.Status) string {
	switch s {
	case preflight.OK:
		return "✓"
	case preflight.Warn:
		return "!"
	}
	return "✗"
}

// ValidateJSON renders validate as one JSON document (docs/cli.md).
type ValidateJSON struct{ W io.Writer }

// validateReport is the JSON form of validate's result.
type validateReport struct {
	ConfigValid      bool        `json:"config_valid"`
	BlockingFailures int         `json:"blocking_failures"`
	Checks           []checkJSON `json:"checks"`
}

// checkJSON is one live check in JSON. Code is the check's stable code
// (docs/diagnostics.md), added within the document's shape.
type checkJSON struct {
	Subject string `json:"subject"`
	Check   string `json:"check"`
	Code    string `json:"code"`
	Status  string `json:"status"`
	Detail  string `json:"detail"`
	Fix     string `json:"fix,omitempty"`
}

// Config implements ValidateView: the summary is not part of the JSON.
func (v ValidateJSON) Config(string, []*lang.Replication) error { return nil }

// Offline implements ValidateView: a valid configuration, no checks.
func (v ValidateJSON) Offline() error { return v.Checks(nil) }

// Checks implements ValidateView.
func (v ValidateJSON) Checks(checks []preflight.Check) error {
	rep := validateReport{ConfigValid: true, BlockingFailures: preflight.Failures(checks), Checks: []checkJSON{}}
	for _, c := range checks {
		rep.Checks = append(rep.Checks, checkJSON{Subject: c.Subject, Check: c.Name, Code: string(c.Code), Status: word(c.Status), Detail: c.Detail, Fix: c.Fix})
	}
	return writeIndentedJSON(v.W, rep)
}

// word is a check's status in JSON: ok, warning or fail.
func word(s preflight.Status) string {
	switch s {
	case preflight.OK:
		return "ok"
	case preflight.Warn:
		return "warning"
	}
	return "fail"
}
