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
// with a PATH.lock file next to it.
type Local struct {
	path string
	mu   sync.Mutex // serialises Read/Write/Lock of this instance
	held string     // ID of the lock this instance holds, or ""
	// lockFile is the open lock file whose flock this instance holds.
	lockFile *os.File
	// tookOver is the dead holder's lock the last Lock took over.
	tookOver *LockInfo
	// written is the file this instance wrote last, with its lineage and
	// serial: when the file still holds exactly these bytes, Write knows
	// its lineage and serial without decoding it again (with thousands of
	// resources the decode cost more than the rest of the write).
	written        []byte
	writtenLineage string
	writtenSerial  uint64
}

var _ Backend = (*Local)(nil)

// NewLocal returns a backend for the state file at path.
func NewLocal(path string) *Local { return &Local{path: path} }

// Path is the state file path.
func (l *Local) Path() string { return l.path }

// BackupPath is where the state before the latest write is kept (like
// Terraform's terraform.tfstate.backup): PATH.backup, mode 0600.
func (l *Local) BackupPath() string { return l.path + ".backup" }

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

// read returns the stored state and whether the file exists.
func (l *Local) read() (*State, bool, error) {
	data, err := os.ReadFile(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return New(), false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read state %s: %w", l.path, err)
	}
	s, err := Decode(data)
	if err != nil {
		return nil, true, fmt.Errorf("read state %s: %w", l.path, err)
	}
	return s, true, nil
}

// Write implements Backend. It refuses to write while another run holds
// the lock file.
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
	if info, err := readLockFile(l.LockPath()); err == nil && info.ID != l.held {
		return fmt.Errorf("write state %s: %w", l.path, l.lockedError(info))
	}
	prev, err := os.ReadFile(l.path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write state: read state %s: %w", l.path, err)
	}
	var storedLineage string
	var storedSerial uint64
	switch {
	case !exists:
	case l.written != nil && bytes.Equal(prev, l.written):
		// Unchanged since this instance wrote it: decoding it again
		// would give what we know.
		storedLineage, storedSerial = l.writtenLineage, l.writtenSerial
	default:
		stored, err := Decode(prev)
		if err != nil {
			return fmt.Errorf("write state: read state %s: %w", l.path, err)
		}
		storedLineage, storedSerial = stored.Lineage, stored.Serial
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
		// Keep the state this write replaces (the bytes read above): when
		// the state file is deleted or damaged, the backup is the way back.
		if err := writeFileAtomic(l.BackupPath(), prev); err != nil {
			return fmt.Errorf("write state backup %s: %w", l.BackupPath(), err)
		}
	}
	l.written = nil
	if err := writeFileAtomic(l.path, data); err != nil {
		return fmt.Errorf("write state %s: %w", l.path, err)
	}
	l.written, l.writtenLineage, l.writtenSerial = data, lineage, serial
	s.Lineage, s.Serial = lineage, serial
	if s.Version == 0 {
		s.Version = FormatVersion
	}
	return nil
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
