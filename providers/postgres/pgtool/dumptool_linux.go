package pgtool

import "syscall"

// toolProcAttr makes a child tool die with this process: a psql still
// restoring after apply was killed could otherwise commit behind the back
// of the next apply, which plans from what it sees (correctness rule 8).
func toolProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
