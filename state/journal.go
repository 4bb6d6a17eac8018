package state

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"strconv"
)

// Checkpointer is a Backend that can record a few changed resources
// without rewriting the whole state. The executor checkpoints after every
// change through it and ends its run with one Write, which folds the
// checkpoints into the stored state.
type Checkpointer interface {
	Backend
	// Checkpoint stores the resources of s at addrs (an address s no
	// longer records is stored as removed), with the checks and the
	// serial increment of Write. When it returns nil, what it stored
	// survives a crash and every later Read includes it. Resources of s
	// at other addresses must be stored already (s was read or written
	// through this backend, and only addrs changed since).
	Checkpoint(ctx context.Context, s *State, addrs []string) error
}

// journalRecord is one checkpoint in the journal: the resources set and
// removed by the write that took the state from Serial-1 to Serial.
type journalRecord struct {
	Version int            `json:"version"`
	Lineage string         `json:"lineage"`
	Serial  uint64         `json:"serial"`
	Set     []fileResource `json:"set,omitempty"`
	Remove  []string       `json:"remove,omitempty"`
	// end is the offset in the journal just after this record (not
	// stored).
	end int
}

// encodeJournalRecord renders rec as one journal line: the CRC-32 of the
// JSON text in 8 hex digits, a space, the JSON text and a newline. The
// checksum and the newline let a reader tell a torn last record (a crash
// during its append) from a complete one.
func encodeJournalRecord(rec *journalRecord) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil { // appends the newline
		return nil, fmt.Errorf("encode state journal record: %w", err)
	}
	body := buf.Bytes()
	line := make([]byte, 0, 9+len(body))
	line = fmt.Appendf(line, "%08x ", crc32.ChecksumIEEE(body[:len(body)-1]))
	return append(line, body...), nil
}

// parseJournal returns the complete, intact records at the start of data
// and the length of the bytes they take. It stops at the first record
// that is incomplete (no newline), fails its checksum or is not a record:
// the end of a journal whose last append was torn by a crash. A record of
// a newer format version is an error, not a torn record.
func parseJournal(data []byte) (recs []journalRecord, valid int, err error) {
	for valid < len(data) {
		nl := bytes.IndexByte(data[valid:], '\n')
		if nl < 0 {
			break
		}
		line := data[valid : valid+nl]
		if len(line) < 10 || line[8] != ' ' {
			break
		}
		sum, perr := strconv.ParseUint(string(line[:8]), 16, 32)
		if perr != nil || uint32(sum) != crc32.ChecksumIEEE(line[9:]) {
			break
		}
		var rec journalRecord
		if derr := decodeJSON(line[9:], &rec); derr != nil {
			break
		}
		if rec.Version > FormatVersion {
			return nil, 0, fmt.Errorf("%w: a state journal record of format version %d is newer than this binary supports (%d): upgrade database-replicator",
				ErrNewerVersion, rec.Version, FormatVersion)
		}
		valid += nl + 1
		rec.end = valid
		recs = append(recs, rec)
	}
	return recs, valid, nil
}

// foldJournal applies to s, in order, the records that continue its
// history: records of another lineage end the fold, records at or below
// s.Serial are skipped (already folded into the state file by a write
// that crashed before it removed the journal), and a gap in the serials
// ends it. It returns how many records it applied and the length of the
// journal prefix worth keeping (the records it applied or skipped).
func foldJournal(s *State, recs []journalRecord) (applied int, keep int, err error) {
	for _, rec := range recs {
		if rec.Lineage != s.Lineage || rec.Serial > s.Serial+1 {
			break
		}
		keep = rec.end
		if rec.Serial <= s.Serial {
			continue
		}
		for _, r := range rec.Set {
			if r.Address == "" {
				return 0, 0, fmt.Errorf("state journal record %d sets a resource without an address", rec.Serial)
			}
			s.Resources[r.Address] = &Resource{Address: r.Address, Kind: r.Kind, Status: r.Status,
				UpdatedAt: r.UpdatedAt, Attributes: r.Attributes}
		}
		for _, a := range rec.Remove {
			delete(s.Resources, a)
		}
		s.Serial = rec.Serial
		applied++
	}
	return applied, keep, nil
}

// Checkpoint is one checkpoint's content, scrubbed: the resources a
// change touched, ready to be stored by a Checkpointer with the lineage
// and serial of its write.
type Checkpoint struct {
	rec journalRecord
}

// NewCheckpoint scrubs the resources of s at addrs into a checkpoint; an
// address s no longer records is a removal.
func NewCheckpoint(s *State, addrs []string) (*Checkpoint, error) {
	part := &State{Version: s.Version, Lineage: s.Lineage, Serial: s.Serial, Resources: map[string]*Resource{}}
	c := &Checkpoint{rec: journalRecord{Version: FormatVersion}}
	for _, a := range addrs {
		if r := s.Resources[a]; r != nil {
			part.Resources[a] = r
		} else {
			c.rec.Remove = append(c.rec.Remove, a)
		}
	}
	scrubbed, err := Scrub(part)
	if err != nil {
		return nil, err
	}
	for _, a := range scrubbed.Addresses() {
		r := scrubbed.Resources[a]
		c.rec.Set = append(c.rec.Set, fileResource{Address: r.Address, Kind: r.Kind, Status: r.Status,
			UpdatedAt: r.UpdatedAt.UTC(), Attributes: r.Attributes})
	}
	return c, nil
}

// Encode renders the checkpoint as the JSON record of the write that
// takes the state of lineage to serial.
func (c *Checkpoint) Encode(lineage string, serial uint64) ([]byte, error) {
	rec := c.rec
	rec.Lineage, rec.Serial = lineage, serial
	data, err := json.Marshal(&rec)
	if err != nil {
		return nil, fmt.Errorf("encode state checkpoint: %w", err)
	}
	return data, nil
}

// ApplyCheckpoints folds checkpoint records (Checkpoint.Encode output, in
// serial order) into s, as the journal of the local backend is folded:
// records at or below s.Serial are skipped, and a record of another
// lineage or after a gap ends the fold. A record that cannot be decoded
// is an error.
func ApplyCheckpoints(s *State, records [][]byte) error {
	recs := make([]journalRecord, 0, len(records))
	for i, data := range records {
		var rec journalRecord
		if err := decodeJSON(data, &rec); err != nil {
			return fmt.Errorf("decode state checkpoint %d: %w", i, err)
		}
		if rec.Version > FormatVersion {
			return fmt.Errorf("%w: a state checkpoint of format version %d is newer than this binary supports (%d): upgrade database-replicator",
				ErrNewerVersion, rec.Version, FormatVersion)
		}
		recs = append(recs, rec)
	}
	_, _, err := foldJournal(s, recs)
	return err
}
