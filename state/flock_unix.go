//go:build unix

package state

import (
	"errors"
	"os"
	"syscall"
)

// tryFlock takes an exclusive OS lock (flock) on f without waiting. It
// reports false when another open file holds it. The kernel releases the
// lock when the holder's process ends, however it ends.
func tryFlock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) {
		return false, nil
	}
	return err == nil, err
}

// sameFile reports whether f is still the file at path (not removed or
// replaced since f was opened).
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}
