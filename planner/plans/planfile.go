package plans

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/addrs"
)

// planFileVersion is the version of the saved-plan file format.
const planFileVersion = 1

// savedPlan is the on-disk form of a plan written by `plan --out`.
type savedPlan struct {
	FileVersion  int               `json:"file_version"`
	CreatedAt    time.Time         `json:"created_at"`
	ConfigDigest string            `json:"config_digest"`
	StateLineage string            `json:"state_lineage"`
	StateSerial  uint64            `json:"state_serial"`
	Fingerprints map[string]string `json:"fingerprints"`
	Changes      []savedChange     `json:"changes"`
	Warnings     diag.Diagnostics  `json:"warnings"`
}

type savedChange struct {
	Address   string         `json:"address"`
	Action    Action         `json:"action"`
	Before    map[string]any `json:"before,omitempty"`
	After     map[string]any `json:"after,omitempty"`
	Reason    string         `json:"reason,omitempty"`
	DependsOn []string       `json:"depends_on,omitempty"`
}

// WriteFile saves the plan for a later `apply PLANFILE` or `show PLANFILE`.
// The file is created 0600 and replaced atomically.
func (p *Plan) WriteFile(path string) error {
	sp := savedPlan{
		FileVersion: planFileVersion, CreatedAt: p.CreatedAt.UTC(), ConfigDigest: p.ConfigDigest,
		StateLineage: p.StateLineage, StateSerial: p.StateSerial, Fingerprints: p.Fingerprints, Warnings: p.Diagnostics,
	}
	for _, c := range p.Changes {
		deps := make([]string, len(c.DependsOn))
		for i, d := range c.DependsOn {
			deps[i] = d.String()
		}
		sp.Changes = append(sp.Changes, savedChange{Address: c.Addr.String(), Action: c.Action, Before: EncodeAttrs(c.Before), After: EncodeAttrs(c.After), Reason: c.Reason, DependsOn: deps})
	}
	b, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	return nil
}

// ReadFile loads a plan saved by WriteFile.
func ReadFile(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	var sp savedPlan
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // attributes decode as their wire form (EncodeAttrs)
	if err := dec.Decode(&sp); err != nil {
		return nil, fmt.Errorf("read plan %s: not a saved plan (%v): create one with `database-replicator plan --out %s`", path, err, path)
	}
	if sp.FileVersion != planFileVersion {
		return nil, fmt.Errorf("read plan %s: file version %d is not supported by this binary (%d): run plan again with this version", path, sp.FileVersion, planFileVersion)
	}
	p := &Plan{
		ConfigDigest: sp.ConfigDigest, StateLineage: sp.StateLineage, StateSerial: sp.StateSerial,
		Fingerprints: sp.Fingerprints, Diagnostics: sp.Warnings, CreatedAt: sp.CreatedAt,
	}
	for _, c := range sp.Changes {
		a, err := addrs.Parse(c.Address)
		if err != nil {
			return nil, fmt.Errorf("read plan %s: %w", path, err)
		}
		ch := &Change{Addr: a, Action: c.Action, Reason: c.Reason}
		if ch.Before, err = DecodeAttrs(a.Kind, c.Before); err != nil {
			return nil, fmt.Errorf("read plan %s: %s: %w", path, c.Address, err)
		}
		if ch.After, err = DecodeAttrs(a.Kind, c.After); err != nil {
			return nil, fmt.Errorf("read plan %s: %s: %w", path, c.Address, err)
		}
		for _, d := range c.DependsOn {
			da, err := addrs.Parse(d)
			if err != nil {
				return nil, fmt.Errorf("read plan %s: %w", path, err)
			}
			ch.DependsOn = append(ch.DependsOn, da)
		}
		p.Changes = append(p.Changes, ch)
	}
	return p, nil
}

// ErrStalePlan is wrapped by the error CheckFresh returns.
var ErrStalePlan = errors.New("saved plan is stale")

// CheckFresh compares a saved plan with the current configuration digest,
// state and server fingerprints, and says what moved when it is stale.
func (p *Plan) CheckFresh(configDigest, lineage string, serial uint64, fingerprints map[string]string) error {
	var moved []string
	if p.ConfigDigest != configDigest {
		moved = append(moved, "the configuration changed")
	}
	if p.StateLineage != "" && p.StateLineage != lineage {
		moved = append(moved, fmt.Sprintf("the state belongs to another lineage (%s, plan made for %s)", lineage, p.StateLineage))
	}
	if p.StateSerial != serial {
		moved = append(moved, fmt.Sprintf("the state was written since (serial %d, plan made at %d)", serial, p.StateSerial))
	}
	names := make([]string, 0, len(p.Fingerprints))
	for n := range p.Fingerprints {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if fingerprints[n] != p.Fingerprints[n] {
			moved = append(moved, n+" changed (objects the plan depends on were altered)")
		}
	}
	if len(moved) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s; run `database-replicator plan --out FILE` again and review the new plan", ErrStalePlan, strings.Join(moved, "; "))
}
