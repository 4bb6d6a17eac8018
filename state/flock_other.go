//go:build !unix

package state

import "os"

// tryFlock cannot lock on this platform: it reports the lock as held, so
// that a lock file is never taken over by mistake.
func tryFlock(f *os.File) (bool, error) { return false, nil }

// sameFile reports whether f is still the file at path.
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}
