package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Lock implements Backend. It creates PATH.lock exclusively, holding info
// as JSON. The file appears with its content complete: it is written to a
// temporary file first and hard-linked into place (link fails when the
// name exists, like O_CREATE|O_EXCL); where hard links are unsupported it
// is created with O_CREATE|O_EXCL directly.
func (l *Local) Lock(ctx context.Context, info LockInfo) (func(context.Context) error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	info.Fill()
	l.mu.Lock()
	defer l.mu.Unlock()
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("lock state %s: %w", l.path, err)
	}
	data = append(data, '\n')
	err = createExclusive(l.LockPath(), data)
	if errors.Is(err, fs.ErrExist) {
		held, rerr := readLockFile(l.LockPath())
		if rerr != nil {
			return nil, fmt.Errorf("lock state %s: the lock file %s exists but cannot be read (%v); "+
				"if no database-replicator is running, delete it", l.path, l.LockPath(), rerr)
		}
		return nil, l.lockedError(held)
	}
	if err != nil {
		return nil, fmt.Errorf("lock state %s: %w", l.path, err)
	}
	l.held = info.ID
	var once sync.Once
	var uerr error
	return func(ctx context.Context) error {
		once.Do(func() { uerr = l.unlock(info.ID) })
		return uerr
	}, nil
}

// lockedError describes a lock held by info, noticing a dead holder.
func (l *Local) lockedError(info LockInfo) *LockedError {
	e := &LockedError{Info: info, Path: l.LockPath()}
	if host, err := os.Hostname(); err == nil && host == info.Host && info.PID > 0 {
		e.HolderGone = !processExists(info.PID)
	}
	return e
}

// unlock removes the lock file if it still holds id.
func (l *Local) unlock(id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == id {
		l.held = ""
	}
	info, err := readLockFile(l.LockPath())
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unlock state %s: the lock %s was removed by someone else (force-unlock?)", l.path, id)
	}
	if err != nil {
		return fmt.Errorf("unlock state %s: %w", l.path, err)
	}
	if info.ID != id {
		return fmt.Errorf("unlock state %s: the lock is now held by %s (id %s), not by this run; leaving it",
			l.path, info.Operation, info.ID)
	}
	if err := os.Remove(l.LockPath()); err != nil {
		return fmt.Errorf("unlock state %s: %w", l.path, err)
	}
	return nil
}

// ForceUnlock implements Backend: it removes the lock file when it holds
// the lock id.
func (l *Local) ForceUnlock(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	info, err := readLockFile(l.LockPath())
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("force-unlock %s: %w", l.path, ErrNotLocked)
	}
	if err != nil {
		return fmt.Errorf("force-unlock %s: %w; delete %s by hand if no database-replicator is running",
			l.path, err, l.LockPath())
	}
	if info.ID != id {
		return fmt.Errorf("force-unlock %s: lock ID %q does not match the current lock %q (held by %s, pid %d on host %s)",
			l.path, id, info.ID, info.Operation, info.PID, info.Host)
	}
	if err := os.Remove(l.LockPath()); err != nil {
		return fmt.Errorf("force-unlock %s: %w", l.path, err)
	}
	if l.held == id {
		l.held = ""
	}
	return nil
}

// readLockFile reads the LockInfo in a lock file.
func readLockFile(path string) (LockInfo, error) {
	var info LockInfo
	data, err := os.ReadFile(path)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("lock file %s: %w", path, err)
	}
	return info, nil
}

// createExclusive creates path with data, failing with fs.ErrExist when it
// already exists. The file is 0600 and fsynced.
func createExclusive(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary lock file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeAndSync(tmp, data); err != nil {
		return err
	}
	err = os.Link(tmp.Name(), path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		if err == nil {
			err = syncDir(dir)
		}
		return err
	}
	// No hard links here: create the lock file itself exclusively.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if err := writeAndSync(f, data); err != nil {
		_ = os.Remove(path)
		return err
	}
	return syncDir(dir)
}

// writeAndSync writes data to f, fsyncs and closes it.
func writeAndSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return nil
}
