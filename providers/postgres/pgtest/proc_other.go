//go:build unix && !linux

package pgtest

import "syscall"

// sysProcAttr puts a server process in its own process group. Outside
// Linux there is no parent-death signal; cleanups stop the servers.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}
