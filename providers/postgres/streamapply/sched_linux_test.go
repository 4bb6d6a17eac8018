//go:build linux

package streamapply

import (
	"runtime"
	"testing"
	"time"

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
	before := countThreads(t)
	// New threads: a goroutine locked to its thread keeps that thread to
	// itself, so more of them than the process has threads make the
	// runtime start new ones.
	done := make(chan struct{})
	defer close(done)
	for i := 0; i < before+8; i++ {
		go func() {
			runtime.LockOSThread()
			<-done
		}()
	}
	after := before
	for deadline := time.Now().Add(5 * time.Second); after <= before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		after = countThreads(t)
	}
	if after <= before {
		t.Fatalf("no thread started after batchScheduling (%d before, %d after); the check needs one", before, after)
	}
	err := eachThread(func(tid int, attr *unix.SchedAttr) error {
		if attr.Policy != unix.SCHED_BATCH {
			t.Errorf("thread %d: policy %d, want SCHED_BATCH (%d)", tid, attr.Policy, unix.SCHED_BATCH)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	self, err := unix.SchedGetAttr(unix.Gettid(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if self.Nice != 3 {
		t.Errorf("nice of this thread = %d after batchScheduling, want 3 (kept)", self.Nice)
	}
}

// countThreads is the number of threads the process has.
func countThreads(t *testing.T) int {
	t.Helper()
	n := 0
	if err := eachThread(func(int, *unix.SchedAttr) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
