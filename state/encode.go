package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"
)

// ErrNewerVersion is wrapped by Decode when the state was written by a newer
// format version than this binary supports.
var ErrNewerVersion = errors.New("state format version is newer than this binary supports")

// fileState is the JSON form of a State: resources are a list sorted by
// address, so that the file is stable and diffs well.
type fileState struct {
	Version   int            `json:"version"`
	Lineage   string         `json:"lineage"`
	Serial    uint64         `json:"serial"`
	Resources []fileResource `json:"resources"`
}

// fileResource is the JSON form of a Resource.
type fileResource struct {
	Address    string         `json:"address"`
	Kind       string         `json:"kind"`
	Status     string         `json:"status,omitempty"`
	UpdatedAt  time.Time      `json:"updated_at"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Encode renders s as indented JSON with a trailing newline. The output is
// stable: resources are sorted by address and map keys are sorted. Encode
// does not scrub secrets; backends call Scrub first.
func Encode(s *State) ([]byte, error) {
	if s == nil {
		return nil, errors.New("encode state: nil state")
	}
	f := fileState{Version: s.Version, Lineage: s.Lineage, Serial: s.Serial,
		Resources: make([]fileResource, 0, len(s.Resources))}
	if f.Version == 0 {
		f.Version = FormatVersion
	}
	for _, addr := range s.Addresses() {
		r := s.Resources[addr]
		if r == nil {
			return nil, fmt.Errorf("encode state: resource %s is nil", addr)
		}
		if r.Address != addr {
			return nil, fmt.Errorf("encode state: resource recorded under %s has address %q", addr, r.Address)
		}
		f.Resources = append(f.Resources, fileResource{Address: r.Address, Kind: r.Kind, Status: r.Status,
			UpdatedAt: r.UpdatedAt.UTC(), Attributes: r.Attributes})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil { // Encode appends the trailing newline
		return nil, fmt.Errorf("encode state: %w", err)
	}
	return buf.Bytes(), nil
}

// Decode parses a state written by Encode. It refuses a state of a newer
// format version (wrapping ErrNewerVersion), unknown fields, and duplicate
// or empty addresses. Attribute numbers decode as json.Number.
func Decode(data []byte) (*State, error) {
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("decode state: not a database-replicator state (invalid JSON): %w", err)
	}
	switch {
	case head.Version == nil || *head.Version <= 0:
		return nil, errors.New("decode state: not a database-replicator state (no format version)")
	case *head.Version > FormatVersion:
		return nil, fmt.Errorf("%w: state format version %d is newer than this binary supports (%d): upgrade database-replicator",
			ErrNewerVersion, *head.Version, FormatVersion)
	}
	var f fileState
	if err := decodeJSON(data, &f); err != nil {
		return nil, fmt.Errorf("decode state: %w", err)
	}
	s := &State{Version: f.Version, Lineage: f.Lineage, Serial: f.Serial,
		Resources: make(map[string]*Resource, len(f.Resources))}
	for i, r := range f.Resources {
		if r.Address == "" {
			return nil, fmt.Errorf("decode state: resource %d has no address", i)
		}
		if _, dup := s.Resources[r.Address]; dup {
			return nil, fmt.Errorf("decode state: resource %s recorded twice", r.Address)
		}
		s.Resources[r.Address] = &Resource{Address: r.Address, Kind: r.Kind, Status: r.Status,
			UpdatedAt: r.UpdatedAt, Attributes: r.Attributes}
	}
	return s, nil
}

// decodeJSON decodes exactly one JSON value, keeping numbers as json.Number
// and refusing unknown struct fields.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the state document")
	}
	return nil
}

// sortedKeys returns the keys of m in sorted order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
