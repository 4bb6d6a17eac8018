package jobs

import (
	"os/exec"
	"runtime"
	"syscall"
)

// setChildAttrs makes the kernel kill the command when the agent dies
// (kill -9 included), so that a sync never outlives the lease holder.
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// startChild starts cmd on a locked OS thread: Pdeathsig fires when the
// thread that forked exits, so that thread stays until exited is closed
// (after the child was waited for); then the goroutine returns still
// locked and the runtime ends the thread.
func startChild(cmd *exec.Cmd, exited <-chan struct{}) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		err := cmd.Start()
		errc <- err
		if err == nil {
			<-exited
		}
	}()
	return <-errc
}
