package conninfo

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// openUnnamed opens a new 0600 file in dir that has no name: O_TMPFILE
// where the file system supports it, else a file created with O_EXCL and
// unlinked at once. libpq reads it through /dev/fd/N, which on Linux
// reopens the file itself (and stat sees a plain 0600 file, as libpq
// requires).
func openUnnamed(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), "pgpass"), nil
	}
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EINVAL) {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	for attempt := 0; ; attempt++ {
		var rnd [8]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return nil, err
		}
		path := filepath.Join(dir, "replicator-"+hex.EncodeToString(rnd[:])+".pgpass")
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			if err := os.Remove(path); err != nil {
				_ = f.Close()
				return nil, err
			}
			return f, nil
		}
		if !errors.Is(err, os.ErrExist) || attempt >= 10 {
			return nil, err
		}
	}
}
