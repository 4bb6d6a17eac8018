//go:build !unix

package main

import "syscall"

// detachAttr has nothing to add where sessions do not exist.
func detachAttr() *syscall.SysProcAttr { return nil }
