package plans

import "fmt"

// Severity of a plan diagnostic.
type Severity string

// Severities.
const (
	SevWarning Severity = "warning"
	SevError   Severity = "error"
)

// Diagnostic is a warning or error found while planning.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	Summary  string   `json:"summary"`
	Detail   string   `json:"detail,omitempty"`
	// Address is the resource the diagnostic is about, if any.
	Address string `json:"address,omitempty"`
}

// Diagnostics is a list of plan diagnostics.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == SevError {
			return true
		}
	}
	return false
}

// Errorf appends an error diagnostic.
func (ds *Diagnostics) Errorf(addr, summary, detailFormat string, args ...any) {
	*ds = append(*ds, Diagnostic{Severity: SevError, Summary: summary, Detail: fmt.Sprintf(detailFormat, args...), Address: addr})
}

// Warnf appends a warning diagnostic.
func (ds *Diagnostics) Warnf(addr, summary, detailFormat string, args ...any) {
	*ds = append(*ds, Diagnostic{Severity: SevWarning, Summary: summary, Detail: fmt.Sprintf(detailFormat, args...), Address: addr})
}
