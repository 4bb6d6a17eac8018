//go:build !unix

package main

import (
	"os"
	"syscall"
)

// detachAttr has nothing to add where sessions do not exist.
func detachAttr() *syscall.SysProcAttr { return nil }

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	_ = p.Release()
	return true
}

// terminate stops the process. Without signals there is no graceful
// stop: the batch being applied is rolled back and resumed by the next
// start (the cursor moves in the batch's transaction).
func terminate(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}
