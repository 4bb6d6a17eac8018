//go:build linux

package streamapply

import (
	"os"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBatchSchedulingMovesEveryThread checks that after batchScheduling no
// thread of the process is left under the default policy, threads started
// afterwards included, and that a thread's nice value is kept.
func TestBatchSchedulingMovesEveryThread(t *testing.T) {
	// The nice value is per thread: this goroutine keeps its thread (which
	// ends with it).
	runtime.LockOSThread()
	if err := unix.Setpriority(unix.PRIO_PROCESS, 0, 3); err != nil {
		t.Fatalf("renice this thread: %v", err)
	}
	if err := batchScheduling(); err != nil {
		t.Fatalf("batchScheduling: %v", err)
	}
	// New threads: goroutines blocked in system calls make the runtime
	// start more of them.
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() {
			var fds [2]int
			if err := unix.Pipe(fds[:]); err == nil {
				buf := make([]byte, 1)
				go func() { <-done; _, _ = unix.Write(fds[1], buf) }()
				_, _ = unix.Read(fds[0], buf)
				unix.Close(fds[0])
				unix.Close(fds[1])
			}
		}()
	}
	defer close(done)
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	threads := 0
	for _, e := range entries {
		tid, _ := strconv.Atoi(e.Name())
		attr, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			continue
		}
		threads++
		if attr.Policy != unix.SCHED_BATCH {
			t.Errorf("thread %d: policy %d, want SCHED_BATCH (%d)", tid, attr.Policy, unix.SCHED_BATCH)
		}
	}
	if threads < 2 {
		t.Fatalf("saw %d threads; the check needs more than one", threads)
	}
	self, err := unix.SchedGetAttr(unix.Gettid(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if self.Nice != 3 {
		t.Errorf("nice of this thread = %d after batchScheduling, want 3 (kept)", self.Nice)
	}
}
