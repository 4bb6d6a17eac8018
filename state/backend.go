package state

import (
	"context"
	"errors"
	"fmt"
)

// Backend stores a State and serialises the runs that change it.
// Implementations are safe for concurrent use.
type Backend interface {
	// Lock takes the exclusive lock or fails at once with *LockedError
	// describing the holder. The returned unlock releases it.
	Lock(ctx context.Context, info LockInfo) (unlock func(context.Context) error, err error)
	// Read returns the stored state, or an empty New() state when none
	// exists yet.
	Read(ctx context.Context) (*State, error)
	// Write stores a scrubbed copy of s. It sets s.Lineage when empty and
	// increments s.Serial on success. It refuses, with *ConflictError, a
	// state whose lineage differs from the stored one or whose serial is
	// behind it (another run wrote in between). Callers must not change s
	// while Write runs.
	Write(ctx context.Context, s *State) error
	// ForceUnlock removes the lock with the given ID, held by a run that
	// crashed or hangs.
	ForceUnlock(ctx context.Context, id string) error
	// Describe names the storage for messages, e.g.
	// `local file replicator.state.json`. It never contains secrets.
	Describe() string
}

// ErrLineageMismatch and ErrStaleSerial classify a *ConflictError.
var (
	ErrLineageMismatch = errors.New("state lineage mismatch")
	ErrStaleSerial     = errors.New("stale state serial")
)

// ErrNotLocked is wrapped by ForceUnlock when there is no lock to remove.
var ErrNotLocked = errors.New("state is not locked")

// ConflictError is returned by Write when the stored state is not the one
// the writer started from.
type ConflictError struct {
	// Kind is ErrLineageMismatch or ErrStaleSerial.
	Kind error
	// Where is the backend description.
	Where string
	// Stored and Writing are the lineage and serial of the stored state
	// and of the state being written.
	StoredLineage, WritingLineage string
	StoredSerial, WritingSerial   uint64
}

// Error implements error.
func (e *ConflictError) Error() string {
	if errors.Is(e.Kind, ErrLineageMismatch) {
		return fmt.Sprintf("refusing to write state to %s: its lineage %q differs from the stored lineage %q, "+
			"so it belongs to another project; check --state and the backend settings",
			e.Where, e.WritingLineage, e.StoredLineage)
	}
	return fmt.Sprintf("refusing to write state to %s: it was read at serial %d but the stored state is at serial %d "+
		"(lineage %s): another run wrote it in the meantime; run plan again",
		e.Where, e.WritingSerial, e.StoredSerial, e.StoredLineage)
}

// Unwrap returns Kind, so errors.Is(err, ErrStaleSerial) works.
func (e *ConflictError) Unwrap() error { return e.Kind }

// CheckWrite decides the lineage and serial of the next write of s over
// the stored lineage and serial (exists is false when nothing is stored).
func CheckWrite(where string, s *State, exists bool, storedLineage string, storedSerial uint64) (lineage string, serial uint64, err error) {
	if !exists {
		lineage = s.Lineage
		if lineage == "" {
			if lineage, err = NewLineage(); err != nil {
				return "", 0, err
			}
		}
		return lineage, s.Serial + 1, nil
	}
	conflict := &ConflictError{Where: where, StoredLineage: storedLineage, WritingLineage: s.Lineage,
		StoredSerial: storedSerial, WritingSerial: s.Serial}
	switch {
	case s.Lineage == "":
		// A fresh state (New) over a stored one: someone wrote after we read.
		conflict.Kind = ErrStaleSerial
		return "", 0, conflict
	case s.Lineage != storedLineage:
		conflict.Kind = ErrLineageMismatch
		return "", 0, conflict
	case s.Serial < storedSerial:
		conflict.Kind = ErrStaleSerial
		return "", 0, conflict
	}
	return s.Lineage, s.Serial + 1, nil
}

// EncodeWrite encodes scrubbed (a Scrub result) with the given lineage
// and serial.
func EncodeWrite(scrubbed *State, lineage string, serial uint64) ([]byte, error) {
	scrubbed.Version, scrubbed.Lineage, scrubbed.Serial = FormatVersion, lineage, serial
	return Encode(scrubbed)
}
