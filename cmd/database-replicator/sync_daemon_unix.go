//go:build unix

package main

import "syscall"

// detachAttr starts the background sync in a session of its own, so that
// it outlives the terminal that started it.
func detachAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
