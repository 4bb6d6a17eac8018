//go:build unix

package main

import "syscall"

// detachAttr starts the background sync in a session of its own, so that
// it outlives the terminal that started it.
func detachAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// terminate asks the process to stop (SIGTERM): the background sync
// finishes the batch it is applying and exits.
func terminate(pid int) error { return syscall.Kill(pid, syscall.SIGTERM) }
