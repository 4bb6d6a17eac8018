package state

import (
	"sort"
	"time"
)

// FormatVersion is the state format version this binary reads and writes.
const FormatVersion = 1

// State is everything database-replicator recorded about the objects it
// manages. The zero value is not ready for use: call New.
type State struct {
	// Version is the format version (FormatVersion).
	Version int
	// Lineage identifies one history of states. It is set on the first
	// write and never changed afterwards.
	Lineage string
	// Serial is incremented by every successful write.
	Serial uint64
	// Resources maps addresses to the recorded resources.
	Resources map[string]*Resource
}

// Resource is one object the tool created or one unit of work it tracks.
type Resource struct {
	// Address is the stable address, e.g. replication.main.slot["myapp"].
	Address string
	// Kind is the resource kind, e.g. "table", "slot", "subscription".
	Kind string
	// Attributes are generic JSON values describing the resource, numbers
	// as json.Number (64-bit LSNs and XIDs keep every digit), in the form
	// plans.EncodeAttrs writes and plans.DecodeAttrs reads.
	Attributes map[string]any
	// Status is the progress of the resource: StatusCreated,
	// StatusInProgress, StatusDone, or another short word.
	Status string
	// UpdatedAt is when the resource was last recorded.
	UpdatedAt time.Time
}

// Common Resource.Status values.
const (
	StatusCreated    = "created"
	StatusInProgress = "in_progress"
	StatusDone       = "done"
	StatusFailed     = "failed"
)

// New returns an empty state of the current format version, without a
// lineage and with serial 0: the state of a project never written.
func New() *State {
	return &State{Version: FormatVersion, Resources: map[string]*Resource{}}
}

// Empty reports whether the state records no resource.
func (s *State) Empty() bool { return s == nil || len(s.Resources) == 0 }

// Resource returns the resource at addr, or nil.
func (s *State) Resource(addr string) *Resource {
	if s == nil {
		return nil
	}
	return s.Resources[addr]
}

// SetResource records r under r.Address, replacing any earlier entry.
// A zero UpdatedAt is set to the current time.
func (s *State) SetResource(r *Resource) {
	if s.Resources == nil {
		s.Resources = map[string]*Resource{}
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = time.Now().UTC()
	}
	s.Resources[r.Address] = r
}

// RemoveResource forgets the resource at addr and reports whether it was
// recorded.
func (s *State) RemoveResource(addr string) bool {
	if s == nil {
		return false
	}
	_, ok := s.Resources[addr]
	delete(s.Resources, addr)
	return ok
}

// Clear forgets every recorded resource; lineage and serial stay, so the
// next write is still checked against the backend.
func (s *State) Clear() {
	if s == nil {
		return
	}
	for a := range s.Resources {
		delete(s.Resources, a)
	}
}

// Addresses returns the recorded addresses in sorted order.
func (s *State) Addresses() []string {
	if s == nil {
		return nil
	}
	out := make([]string, 0, len(s.Resources))
	for a := range s.Resources {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// DeepCopy returns a copy of s that shares no maps, slices or resources
// with it.
func (s *State) DeepCopy() *State {
	if s == nil {
		return nil
	}
	c := &State{Version: s.Version, Lineage: s.Lineage, Serial: s.Serial,
		Resources: make(map[string]*Resource, len(s.Resources))}
	for a, r := range s.Resources {
		c.Resources[a] = r.DeepCopy()
	}
	return c
}

// DeepCopy returns a copy of r that shares no maps or slices with it.
func (r *Resource) DeepCopy() *Resource {
	if r == nil {
		return nil
	}
	c := *r
	if r.Attributes != nil {
		c.Attributes = copyValue(r.Attributes).(map[string]any)
	}
	return &c
}
