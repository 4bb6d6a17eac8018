// Package planner turns a configuration, the introspected source and target
// servers and the prior state into a Plan: the ordered changes that apply
// will make, each with its reason and dependencies. It executes nothing.
package planner

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/database-replicator/database-replicator/planner/addrs"
)

// FormatVersion is the version of the plan JSON format.
const FormatVersion = "1"

// Action is what a change does to its resource.
type Action string

// Actions, with stable JSON strings.
const (
	Create  Action = "create"
	Update  Action = "update"
	Replace Action = "replace"
	Delete  Action = "delete"
	NoOp    Action = "noop"
)

// Marker is the one-character prefix used in text plans.
func (a Action) Marker() string {
	switch a {
	case Create:
		return "+"
	case Update:
		return "~"
	case Replace:
		return "-/+"
	case Delete:
		return "-"
	}
	return " "
}

// Verb is the past-participle form used in text plans ("will be created").
func (a Action) Verb() string {
	switch a {
	case Create:
		return "created"
	case Update:
		return "updated in-place"
	case Replace:
		return "replaced"
	case Delete:
		return "destroyed"
	}
	return "left unchanged"
}

// Change is one planned action on one resource.
type Change struct {
	Addr   addrs.Addr
	Action Action
	// Before is the resource as it exists now (nil when it does not); After
	// is what apply will make it (nil for a delete). Values are JSON-able.
	Before map[string]any
	After  map[string]any
	// Reason says why the change is planned, in words a reviewer reads.
	Reason string
	// DependsOn lists the changes that must finish first.
	DependsOn []addrs.Addr
}

// Kind is the resource kind of the change.
func (c *Change) Kind() addrs.Kind { return c.Addr.Kind }

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

// Plan is the ordered list of changes apply will make, and what it was
// computed from, so that a saved plan can be refused when it is stale.
type Plan struct {
	Changes  []*Change
	Warnings Diagnostics
	// ConfigDigest is a digest of the configuration the plan was made from.
	ConfigDigest string
	// StateLineage and StateSerial identify the prior state.
	StateLineage string
	StateSerial  uint64
	// Fingerprints maps "source.NAME"/"target.NAME" to the fingerprint of
	// the introspected server the plan depends on.
	Fingerprints map[string]string
	CreatedAt    time.Time
}

// Summary counts changes the way the text plan's last line does.
type Summary struct {
	Add     int `json:"add"`
	Change  int `json:"change"`
	Destroy int `json:"destroy"`
}

// Summary counts the plan's changes: a replace counts as one add and one
// destroy, as in Terraform.
func (p *Plan) Summary() Summary {
	var s Summary
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			s.Add++
		case Update:
			s.Change++
		case Replace:
			s.Add++
			s.Destroy++
		case Delete:
			s.Destroy++
		}
	}
	return s
}

// HasChanges reports whether the plan would change anything.
func (p *Plan) HasChanges() bool {
	for _, c := range p.Changes {
		if c.Action != NoOp {
			return true
		}
	}
	return false
}

// Sort orders changes by address (creation order of kinds, then key).
func (p *Plan) Sort() {
	sort.SliceStable(p.Changes, func(i, j int) bool { return p.Changes[i].Addr.Less(p.Changes[j].Addr) })
}

// jsonChange is the stable JSON form of a change (see docs/plan-json.md).
type jsonChange struct {
	Address   string         `json:"address"`
	Action    Action         `json:"action"`
	Kind      addrs.Kind     `json:"kind"`
	Before    map[string]any `json:"before"`
	After     map[string]any `json:"after"`
	Reason    string         `json:"reason"`
	DependsOn []string       `json:"depends_on"`
}

// jsonPlan is the stable JSON form of a plan.
type jsonPlan struct {
	FormatVersion string       `json:"format_version"`
	Changes       []jsonChange `json:"changes"`
	Warnings      Diagnostics  `json:"warnings"`
	Summary       Summary      `json:"summary"`
}

// MarshalJSON renders the plan in the documented format_version 1 shape.
func (p *Plan) MarshalJSON() ([]byte, error) {
	out := jsonPlan{FormatVersion: FormatVersion, Changes: []jsonChange{}, Warnings: p.Warnings, Summary: p.Summary()}
	if out.Warnings == nil {
		out.Warnings = Diagnostics{}
	}
	for _, c := range p.Changes {
		deps := make([]string, 0, len(c.DependsOn))
		for _, d := range c.DependsOn {
			deps = append(deps, d.String())
		}
		out.Changes = append(out.Changes, jsonChange{
			Address: c.Addr.String(), Action: c.Action, Kind: c.Addr.Kind,
			Before: c.Before, After: c.After, Reason: c.Reason, DependsOn: deps,
		})
	}
	return json.Marshal(out)
}
