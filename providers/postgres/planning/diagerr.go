package planning

import (
	"errors"

	"github.com/database-replicator/database-replicator/planner/plans"
)

// DiagnosticsErr returns every error diagnostic of ds as one error (one
// line each: the detail, or the summary when there is none), and nil when
// ds has no error. Warnings are left out.
//
// It stands in for diag.Diagnostics.Err until the planner's diagnostics
// are lang/diag's.
func DiagnosticsErr(ds plans.Diagnostics) error {
	var errs []error
	for _, d := range ds {
		if d.Severity != plans.SevError {
			continue
		}
		msg := d.Detail
		if msg == "" {
			msg = d.Summary
		}
		errs = append(errs, errors.New(msg))
	}
	return errors.Join(errs...)
}
