// Package snapshot creates logical replication slots with an exported
// snapshot (CreateSlotWithSnapshot), exports and holds snapshots (Export),
// and imports them into transactions (Import, Xmin, Bounds); ErrLost marks
// a snapshot that no longer exists.
package snapshot
