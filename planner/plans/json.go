package plans

import (
	"encoding/json"

	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/addrs"
)

// FormatVersion is the version of the plan JSON format
// (docs/plan-json.md).
const FormatVersion = "1"

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
	FormatVersion string           `json:"format_version"`
	Changes       []jsonChange     `json:"changes"`
	Warnings      diag.Diagnostics `json:"warnings"`
	Summary       Summary          `json:"summary"`
}

// MarshalJSON renders the plan in the documented format_version 1 shape:
// each change's attributes in their wire form (EncodeAttrs).
func (p *Plan) MarshalJSON() ([]byte, error) {
	out := jsonPlan{FormatVersion: FormatVersion, Changes: []jsonChange{}, Warnings: p.Diagnostics, Summary: p.Summary()}
	if out.Warnings == nil {
		out.Warnings = diag.Diagnostics{}
	}
	for _, c := range p.Changes {
		deps := make([]string, 0, len(c.DependsOn))
		for _, d := range c.DependsOn {
			deps = append(deps, d.String())
		}
		out.Changes = append(out.Changes, jsonChange{
			Address: c.Addr.String(), Action: c.Action, Kind: c.Addr.Kind,
			Before: EncodeAttrs(c.Before), After: EncodeAttrs(c.After), Reason: c.Reason, DependsOn: deps,
		})
	}
	return json.Marshal(out)
}
