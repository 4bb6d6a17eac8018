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
