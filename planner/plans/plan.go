// Package plans defines what a plan is: the ordered changes apply will
// make, each with typed attributes per resource kind, its reason and its
// dependencies, and the diagnostics found while planning. The planner
// builds plans; the executor and the providers consume them. The plan JSON
// wire format (docs/plan-json.md) and the saved-plan file are encodings of
// these types, kept here.
package plans

import (
	"slices"
	"sort"
	"time"

	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/addrs"
)

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
	// is what apply will make it (nil for a delete, except a database that
	// destroy --drop-data drops). Both hold the attributes type of the
	// address's kind (e.g. *TableAttrs for a table).
	Before Attrs
	After  Attrs
	// Reason says why the change is planned, in words a reviewer reads.
	Reason string
	// DependsOn lists the changes that must finish first.
	DependsOn []addrs.Addr
}

// Kind is the resource kind of the change.
func (c *Change) Kind() addrs.Kind { return c.Addr.Kind }

// Acted returns the attributes a change acts on: what the resource was
// for a delete, what it will be otherwise.
func (c *Change) Acted() Attrs {
	if c.Action == Delete {
		return c.Before
	}
	return c.After
}

// Plan is the ordered list of changes apply will make, and what it was
// computed from, so that a saved plan can be refused when it is stale.
type Plan struct {
	Changes []*Change
	// Diagnostics are the errors and warnings found while planning, in
	// the order found; the plan JSON keeps them under "warnings".
	Diagnostics diag.Diagnostics
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

// Without removes every change of the given resource kinds, keeping the
// order of the rest (init keeps the snapshot part of a plan this way).
func (p *Plan) Without(kinds ...addrs.Kind) {
	kept := p.Changes[:0]
	for _, ch := range p.Changes {
		if !slices.Contains(kinds, ch.Addr.Kind) {
			kept = append(kept, ch)
		}
	}
	p.Changes = kept
}

// Sort orders changes by address (creation order of kinds, then key).
func (p *Plan) Sort() {
	sort.SliceStable(p.Changes, func(i, j int) bool { return p.Changes[i].Addr.Less(p.Changes[j].Addr) })
}
