//go:build linux

package pgtest

import "syscall"

// sysProcAttr puts a server process in its own process group and, on Linux,
// has the kernel SIGKILL it when the test binary dies.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
}
