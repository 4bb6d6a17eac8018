//go:build unix

package state

import (
	"errors"
	"syscall"
)

// processExists reports whether a process with the given pid runs on this
// host (a process of another user counts).
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
