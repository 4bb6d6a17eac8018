//go:build !linux

package pgtool

import "syscall"

// toolProcAttr returns nil: only Linux can tie a child's life to its
// parent's.
func toolProcAttr() *syscall.SysProcAttr { return nil }
