package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Local stores the state in a JSON file, written atomically, and locks it
// with a PATH.lock file next to it. Checkpoints between whole writes go to
// an append-only journal, PATH.journal, which reads fold in and the next
// Write folds into the file.
type Local struct {
	path string
	mu   sync.Mutex // serialises Read/Write/Lock of this instance
	held string     // ID of the lock this instance holds, or ""
	// lockFile is the open lock file whose flock this instance holds.
	lockFile *os.File
	// tookOver is the dead holder's lock the last Lock took over.
	tookOver *LockInfo
	// written is the file this instance wrote last: when the file still
	// holds exactly these bytes and the journal is as known, Write knows
	// the stored lineage and serial without decoding the file again (with
	// thousands of resources the decode cost more than the rest of the
	// write).
	written []byte
	// known is what this instance knows of the stored state, or nil.
	known *knownFiles
}

// knownFiles is what a Local instance last wrote or read: the state file
// (by identity, size and modification time), the journal's length, and
// the lineage and serial they hold together. While both files are
// unchanged, Checkpoint appends without reading either.
type knownFiles struct {
	state      os.FileInfo
	journalLen int64
	lineage    string
	serial     uint64
}

var _ Checkpointer = (*Local)(nil)

// NewLocal returns a backend for the state file at path.
func NewLocal(path string) *Local { return &Local{path: path} }

// Path is the state file path.
func (l *Local) Path() string { return l.path }

// BackupPath is where the state before the latest write is kept (like
// Terraform's terraform.tfstate.backup): PATH.backup, mode 0600.
func (l *Local) BackupPath() string { return l.path + ".backup" }

// JournalPath is the journal of checkpoints written since the state file
// (PATH.journal, mode 0600): one record per Checkpoint, folded into the
// state file by the next Write, which removes it.
func (l *Local) JournalPath() string { return l.path + ".journal" }

// LockPath is the lock file path.
func (l *Local) LockPath() string { return l.path + ".lock" }

// Describe implements Backend.
func (l *Local) Describe() string { return "local file " + l.path }

// Read implements Backend.
func (l *Local) Read(ctx context.Context) (*State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, _, err := l.read()
	return s, err
}

// read returns the stored state (the state file with the journal folded
// in) and whether the file exists.
func (l *Local) read() (*State, bool, error) {
	data, err := os.ReadFile(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return New(), false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read state %s: %w", l.path, err)
	}
	s, _, err := l.decodeWithJournal(data)
	if err != nil {
		return nil, true, err
	}
	return s, true, nil
}

// journalState is the result of reading the journal over a state file.
type journalState struct {
	length  int64 // bytes in the journal file (0 when there is none)
	keep    int   // bytes worth keeping: the records that fold (or folded)
	applied int   // records applied over the state file
}

// decodeWithJournal decodes the state file data and folds the journal
// into it. A torn last record is left out (its append never returned).
func (l *Local) decodeWithJournal(data []byte) (*State, journalState, error) {
	var js journalState
	s, err := Decode(data)
	if err != nil {
		return nil, js, fmt.Errorf("read state %s: %w", l.path, err)
	}
	jdata, err := os.ReadFile(l.JournalPath())
	if errors.Is(err, fs.ErrNotExist) {
		return s, js, nil
	}
	if err != nil {
		return nil, js, fmt.Errorf("read state journal %s: %w", l.JournalPath(), err)
	}
	js.length = int64(len(jdata))
	recs, _, err := parseJournal(jdata)
	if err != nil {
		return nil, js, fmt.Errorf("read state journal %s: %w", l.JournalPath(), err)
	}
	if js.applied, js.keep, err = foldJournal(s, recs); err != nil {
		return nil, js, fmt.Errorf("read state journal %s: %w", l.JournalPath(), err)
	}
	return s, js, nil
}

// Write implements Backend. It writes the whole state file, which folds
// in every checkpoint of the journal, and then removes the journal. It
// refuses to write while another run holds the lock file.
func (l *Local) Write(ctx context.Context, s *State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	scrubbed, err := Scrub(s)
	if err != nil {
		return fmt.Errorf("write state %s: %w", l.path, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.checkLock(); err != nil {
		return err
	}
	prev, err := os.ReadFile(l.path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write state: read state %s: %w", l.path, err)
	}
	journalLen, err := fileLen(l.JournalPath())
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	var storedLineage string
	var storedSerial uint64
	backup := prev
	switch {
	case !exists:
	case l.written != nil && l.known != nil && journalLen == 0 && l.known.journalLen == 0 && bytes.Equal(prev, l.written):
		// Unchanged since this instance wrote it and no journal:
		// decoding it again would give what we know.
		storedLineage, storedSerial = l.known.lineage, l.known.serial
	default:
		stored, js, err := l.decodeWithJournal(prev)
		if err != nil {
			return fmt.Errorf("write state: %w", err)
		}
		storedLineage, storedSerial = stored.Lineage, stored.Serial
		if js.applied > 0 {
			// The state this write replaces is the file with the
			// journal folded in: that is what the backup keeps.
			if backup, err = Encode(stored); err != nil {
				return fmt.Errorf("write state backup %s: %w", l.BackupPath(), err)
			}
		}
	}
	lineage, serial, err := CheckWrite(l.Describe(), s, exists, storedLineage, storedSerial)
	if err != nil {
		return err
	}
	data, err := EncodeWrite(scrubbed, lineage, serial)
	if err != nil {
		return fmt.Errorf("write state %s: %w", l.path, err)
	}
	if exists {
		// Keep the state this write replaces: when the state file is
		// deleted or damaged, the backup is the way back.
		if err := writeFileAtomic(l.BackupPath(), backup); err != nil {
			return fmt.Errorf("write state backup %s: %w", l.BackupPath(), err)
		}
	}
	l.written, l.known = nil, nil
	if err := writeFileAtomic(l.path, data); err != nil {
		return fmt.Errorf("write state %s: %w", l.path, err)
	}
	// The new file holds every checkpoint: the journal is done with. A
	// crash before its removal leaves records at or below the file's
	// serial, which reads skip.
	if journalLen > 0 {
		if err := os.Remove(l.JournalPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove state journal %s: %w", l.JournalPath(), err)
		}
		if err := syncDir(filepath.Dir(l.path)); err != nil {
			return fmt.Errorf("remove state journal %s: %w", l.JournalPath(), err)
		}
	}
	if fi, err := os.Stat(l.path); err == nil {
		l.written = data
		l.known = &knownFiles{state: fi, lineage: lineage, serial: serial}
	}
	s.Lineage, s.Serial = lineage, serial
	if s.Version == 0 {
		s.Version = FormatVersion
	}
	return nil
}

// Checkpoint implements Checkpointer: it appends one record with the
// resources at addrs to the journal (PATH.journal) and fsyncs it, instead
// of rewriting the state file. While the state file and the journal are
// as this instance left them, it reads neither; otherwise it reads both
// once, checks lineage and serial against them, and cuts a torn last
// record off the journal before appending. A state never written yet is
// written whole (Write).
func (l *Local) Checkpoint(ctx context.Context, s *State, addrs []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.Lineage == "" {
		return l.Write(ctx, s)
	}
	cp, err := NewCheckpoint(s, addrs)
	if err != nil {
		return fmt.Errorf("write state %s: %w", l.path, err)
	}
	l.mu.Lock()
	if err := l.checkLock(); err != nil {
		l.mu.Unlock()
		return err
	}
	known, err := l.knownNow()
	if err != nil {
		l.mu.Unlock()
		return err
	}
	if known == nil {
		// No state file: write it whole.
		l.mu.Unlock()
		return l.Write(ctx, s)
	}
	defer l.mu.Unlock()
	lineage, serial, err := CheckWrite(l.Describe(), s, true, known.lineage, known.serial)
	if err != nil {
		return err
	}
	rec := cp.rec
	rec.Lineage, rec.Serial = lineage, serial
	line, err := encodeJournalRecord(&rec)
	if err != nil {
		return fmt.Errorf("write state journal %s: %w", l.JournalPath(), err)
	}
	// Until the append is known complete, nothing is known: a failed
	// append may leave a torn record, which the next call cuts off.
	l.known = nil
	if err := appendFileSync(l.JournalPath(), known.journalLen, line); err != nil {
		return fmt.Errorf("write state journal %s: %w", l.JournalPath(), err)
	}
	known.journalLen += int64(len(line))
	known.serial = serial
	l.known = known
	s.Lineage, s.Serial = lineage, serial
	if s.Version == 0 {
		s.Version = FormatVersion
	}
	return nil
}

// checkLock refuses a write while another run holds the lock file. The
// caller holds l.mu.
func (l *Local) checkLock() error {
	if info, err := readLockFile(l.LockPath()); err == nil && info.ID != l.held {
		return fmt.Errorf("write state %s: %w", l.path, l.lockedError(info))
	}
	return nil
}

// knownNow returns the stored lineage and serial and the journal's
// length, from what this instance knows when the state file and the
// journal are unchanged since, or else by reading both (and cutting a
// torn or stale tail off the journal). It returns nil when there is no
// state file. The caller holds l.mu.
func (l *Local) knownNow() (*knownFiles, error) {
	fi, err := os.Stat(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("write state: %w", err)
	}
	journalLen, err := fileLen(l.JournalPath())
	if err != nil {
		return nil, fmt.Errorf("write state: %w", err)
	}
	if k := l.known; k != nil && os.SameFile(k.state, fi) && k.state.Size() == fi.Size() &&
		k.state.ModTime().Equal(fi.ModTime()) && k.journalLen == journalLen {
		return k, nil
	}
	l.written, l.known = nil, nil
	data, err := os.ReadFile(l.path)
	if err != nil {
		return nil, fmt.Errorf("write state: read state %s: %w", l.path, err)
	}
	stored, js, err := l.decodeWithJournal(data)
	if err != nil {
		return nil, fmt.Errorf("write state: %w", err)
	}
	if int64(js.keep) < js.length {
		// A torn last record (a crash during its append) or records
		// that do not continue the state file: appending after them
		// would hide the new records from every reader.
		if err := truncateFileSync(l.JournalPath(), int64(js.keep)); err != nil {
			return nil, fmt.Errorf("write state: cut the unreadable end off the state journal %s: %w", l.JournalPath(), err)
		}
	}
	return &knownFiles{state: fi, journalLen: int64(js.keep), lineage: stored.Lineage, serial: stored.Serial}, nil
}

// fileLen returns the size of the file at path, 0 when it does not exist.
func fileLen(path string) (int64, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	return fi.Size(), nil
}

// appendFileSync writes data at offset at of the file at path (created
// 0600 when missing, with its directory entry fsynced) and fsyncs it.
func appendFileSync(path string, at int64, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	if _, err := f.WriteAt(data, at); err != nil {
		_ = f.Close()
		return fmt.Errorf("append: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("fsync: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if at == 0 {
		return syncDir(filepath.Dir(path))
	}
	return nil
}

// truncateFileSync cuts the file at path to size bytes and fsyncs it.
func truncateFileSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}

// writeFileAtomic replaces path with data: it writes a 0600 temporary file
// in the same directory, fsyncs it, renames it over path and fsyncs the
// directory, so that a crash leaves either the old or the new file.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("chmod temporary file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write temporary file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("fsync temporary file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temporary file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename temporary file: %w", err)
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so that a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory for fsync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("fsync directory: %w", err)
	}
	return nil
}
