// Package diag is the one diagnostics type of database-replicator: the
// errors and warnings that the configuration language (lang), the planner
// and the live preflight checks report to the user.
//
// A Diagnostic has a severity, a stable code (for scripts and for
// docs/diagnostics.md), a summary and detail in words, and optionally the
// resource address it is about, the source range it points at and the fix
// to apply. Diagnostics is an ordered list of them. Callers keep errors and
// warnings apart (Errors, Warnings), show every one of them, and turn the
// errors into one Go error with Err, which carries all of them, never a
// warning in place of an error.
//
// The package depends on nothing of the project and on no database driver;
// it converts from hcl.Diagnostics, keeping ranges (FromHCL).
package diag

import (
	"fmt"
	"sort"
	"strings"
)

// Severity tells whether a diagnostic blocks the operation (error) or only
// informs (warning).
type Severity string

// Severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Code identifies the rule behind a diagnostic. Codes are stable, lower
// case, dotted and kebab-cased ("config.mutually-exclusive"); they are listed
// in docs/diagnostics.md. Scripts and tests match codes, never summaries.
type Code string

// Pos is a position in a source file. Line and Column count from 1; Column
// counts characters; Byte is the offset from the start of the file.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// Range is a span of a source file, from Start up to End (exclusive).
type Range struct {
	Filename string `json:"filename"`
	Start    Pos    `json:"start"`
	End      Pos    `json:"end"`
}

// String renders the start of the range as "file:line:column".
func (r Range) String() string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// Diagnostic is one error or warning. The JSON field order is stable:
// severity, code, summary, detail, address, range, fix; empty optional
// fields are left out.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	// Code is the stable identifier of the rule; empty only for
	// diagnostics from callers that have not been given codes yet.
	Code Code `json:"code,omitempty"`
	// Summary is a short, sentence-case headline.
	Summary string `json:"summary"`
	// Detail explains what is wrong; it may span lines.
	Detail string `json:"detail,omitempty"`
	// Address is the resource address the diagnostic is about, such as
	// "replication.main" or "table.myapp.public.users", if any.
	Address string `json:"address,omitempty"`
	// Range is the source range the diagnostic points at, if any.
	Range *Range `json:"range,omitempty"`
	// Fix says what to do about it, when that is not already in Detail.
	Fix string `json:"fix,omitempty"`
}

// IsError reports whether the diagnostic is an error.
func (d Diagnostic) IsError() bool { return d.Severity == Error }

// String renders the diagnostic on one line: "[location: ]summary[: detail]"
// where the location is the range, else the address. It is the form used by
// Err and by test failure messages.
func (d Diagnostic) String() string {
	var b strings.Builder
	switch {
	case d.Range != nil:
		b.WriteString(d.Range.String() + ": ")
	case d.Address != "":
		b.WriteString(d.Address + ": ")
	}
	b.WriteString(d.Summary)
	if d.Detail != "" {
		b.WriteString(": " + d.Detail)
	}
	return b.String()
}

// Diagnostics is an ordered list of diagnostics. The zero value is an empty
// list ready to use.
type Diagnostics []Diagnostic

// Append adds diagnostics at the end of the list.
func (ds *Diagnostics) Append(more ...Diagnostic) {
	*ds = append(*ds, more...)
}

// AddError appends an error with a code about addr (which may be "").
func (ds *Diagnostics) AddError(code Code, addr, summary, detailFormat string, args ...any) {
	ds.Append(Diagnostic{Severity: Error, Code: code, Summary: summary, Detail: fmt.Sprintf(detailFormat, args...), Address: addr})
}

// AddWarning appends a warning with a code about addr (which may be "").
func (ds *Diagnostics) AddWarning(code Code, addr, summary, detailFormat string, args ...any) {
	ds.Append(Diagnostic{Severity: Warning, Code: code, Summary: summary, Detail: fmt.Sprintf(detailFormat, args...), Address: addr})
}

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.IsError() {
			return true
		}
	}
	return false
}

// Errors returns the error diagnostics, in order; nil when there are none.
func (ds Diagnostics) Errors() Diagnostics { return ds.filter(Error) }

// Warnings returns the warning diagnostics, in order; nil when there are none.
func (ds Diagnostics) Warnings() Diagnostics { return ds.filter(Warning) }

func (ds Diagnostics) filter(sev Severity) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == sev {
			out = append(out, d)
		}
	}
	return out
}

// ErrorsFirst returns a copy of the list with every error before every
// warning, each group in its original order: the order in which they are
// shown.
func (ds Diagnostics) ErrorsFirst() Diagnostics {
	if len(ds) == 0 {
		return nil
	}
	out := make(Diagnostics, 0, len(ds))
	out = append(out, ds.Errors()...)
	return append(out, ds.Warnings()...)
}

// Sort orders the list by source range: by file name, then start line,
// then start column. Diagnostics without a range come first, in their
// original order; diagnostics at the same position keep their order.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Range, ds[j].Range
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		case a.Start.Line != b.Start.Line:
			return a.Start.Line < b.Start.Line
		}
		return a.Start.Column < b.Start.Column
	})
}

// Err returns nil when the list has no error, and otherwise an *ErrorList
// holding every error diagnostic (warnings are left out: they are shown,
// not returned).
func (ds Diagnostics) Err() error {
	errs := ds.Errors()
	if len(errs) == 0 {
		return nil
	}
	return &ErrorList{Diagnostics: errs}
}

// ErrorList is the error Diagnostics.Err returns: every error diagnostic
// of a list. Recover it with errors.As to render the diagnostics in full.
type ErrorList struct {
	Diagnostics Diagnostics
}

// Error renders one error as its one-line String form, and several as a
// count followed by one line each.
func (e *ErrorList) Error() string {
	if len(e.Diagnostics) == 1 {
		return e.Diagnostics[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d errors:", len(e.Diagnostics))
	for _, d := range e.Diagnostics {
		b.WriteString("\n- " + d.String())
	}
	return b.String()
}
