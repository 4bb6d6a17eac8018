package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Lock implements Backend. It creates PATH.lock exclusively, holding info
// as JSON, and holds an OS lock (flock) on it until unlock. The file
// appears with its content complete and already flocked: it is written to
// a temporary file, locked, and hard-linked into place (link fails when
// the name exists, like O_CREATE|O_EXCL); where hard links are unsupported
// it is created with O_CREATE|O_EXCL directly.
//
// The kernel releases the flock when the holder's process ends, however it
// ends (kill -9 included). So when PATH.lock exists but nobody holds its
// flock, and it names a process of this host that no longer exists, the
// holder is provably gone and Lock takes the lock over. A lock from
// another host is never taken over: `state force-unlock` removes it.
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
	l.tookOver = nil
	var f *os.File
	for attempt := 0; f == nil; attempt++ {
		if attempt == 10 {
			return nil, fmt.Errorf("lock state %s: the lock file %s keeps changing; retry", l.path, l.LockPath())
		}
		f, err = createExclusive(l.LockPath(), data)
		if errors.Is(err, fs.ErrExist) {
			f, err = l.takeOver(data)
			if errors.Is(err, errLockChanged) {
				continue
			}
		}
		if err != nil {
			var le *LockedError
			if errors.As(err, &le) {
				return nil, err
			}
			return nil, fmt.Errorf("lock state %s: %w", l.path, err)
		}
	}
	l.held, l.lockFile = info.ID, f
	var once sync.Once
	var uerr error
	return func(ctx context.Context) error {
		once.Do(func() { uerr = l.unlock(info.ID) })
		return uerr
	}, nil
}

// errLockChanged reports that the lock file was removed or replaced while
// Lock looked at it: Lock starts again.
var errLockChanged = errors.New("lock file changed")

// takeOver handles an existing lock file: it returns *LockedError when its
// holder runs (or may run), or, when the holder is provably gone, writes
// data over the file and returns it flocked.
func (l *Local) takeOver(data []byte) (*os.File, error) {
	path := l.LockPath()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errLockChanged
	}
	if err != nil {
		return nil, err
	}
	got, ferr := tryFlock(f)
	if got && !sameFile(f, path) {
		_ = f.Close()
		return nil, errLockChanged
	}
	held, rerr := readLock(f, path)
	if rerr != nil {
		_ = f.Close()
		return nil, fmt.Errorf("the lock file %s exists but cannot be read (%v); "+
			"if no database-replicator is running, delete it", path, rerr)
	}
	le := l.lockedError(held)
	if !got || ferr != nil || !le.HolderGone {
		_ = f.Close()
		return nil, le
	}
	// Nobody holds the flock and the holder's process is gone: the kernel
	// released its lock when it died. Rewrite the file in place (same
	// inode, so a concurrent locker's flock on it fails).
	if err := f.Truncate(0); err == nil {
		if _, err = f.WriteAt(data, 0); err == nil {
			err = f.Sync()
		}
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("take over the stale lock %s: %w", path, err)
		}
	} else {
		_ = f.Close()
		return nil, fmt.Errorf("take over the stale lock %s: %w", path, err)
	}
	l.tookOver = &held
	return f, nil
}

// TookOver returns the lock the last successful Lock took over from a
// process that had died holding it, or nil.
func (l *Local) TookOver() *LockInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tookOver
}

// readLock reads the LockInfo from an open lock file.
func readLock(f *os.File, path string) (LockInfo, error) {
	var info LockInfo
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("lock file %s: %w", path, err)
	}
	return info, nil
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
		defer l.releaseFlock()
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

// releaseFlock closes the held lock file, releasing its flock.
func (l *Local) releaseFlock() {
	if l.lockFile != nil {
		_ = l.lockFile.Close()
		l.lockFile = nil
	}
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
		l.releaseFlock()
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
// already exists. The file is 0600, fsynced, and returned open with its
// flock held.
func createExclusive(path string, data []byte) (*os.File, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create temporary lock file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeAndSync(tmp, data, false); err != nil {
		_ = tmp.Close()
		return nil, err
	}
	// Locked before it appears under its name: nobody sees it unlocked.
	if _, err := tryFlock(tmp); err != nil {
		_ = tmp.Close()
		return nil, fmt.Errorf("flock %s: %w", tmp.Name(), err)
	}
	err = os.Link(tmp.Name(), path)
	if err == nil {
		if err = syncDir(dir); err != nil {
			_ = os.Remove(path)
			_ = tmp.Close()
			return nil, err
		}
		return tmp, nil
	}
	_ = tmp.Close()
	if errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	// No hard links here: create the lock file itself exclusively.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := tryFlock(f); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	if err := writeAndSync(f, data, false); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	return f, nil
}

// writeAndSync writes data to f and fsyncs it; it closes f when close is
// set.
func writeAndSync(f *os.File, data []byte, close bool) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if close {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return nil
}
