//go:build linux

package streamapply

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// batchScheduling moves every thread of this process that runs under the
// default policy (SCHED_OTHER) to SCHED_BATCH, keeping its nice value. The
// applier wakes up for every message it receives and every result the
// target sends; under the default policy each wake-up may preempt a
// running task, and on a machine shared with the source server that task
// is often the source's walsender, which then falls behind (docs/sync.md).
// SCHED_BATCH keeps the same share of CPU but does not preempt on wake-up.
// Threads started later inherit the policy from the thread that starts
// them; a second pass catches threads started during the first.
func batchScheduling() error {
	for pass := 0; pass < 3; pass++ {
		changed, err := batchThreads()
		if err != nil || changed == 0 {
			return err
		}
	}
	return nil
}

// batchThreads moves the process's SCHED_OTHER threads to SCHED_BATCH and
// returns how many it moved.
func batchThreads() (int, error) {
	changed := 0
	err := eachThread(func(tid int, attr *unix.SchedAttr) error {
		if attr.Policy != unix.SCHED_NORMAL {
			return nil // batch already, or chosen by whoever started the process
		}
		attr.Size = unix.SizeofSchedAttr
		attr.Policy = unix.SCHED_BATCH
		if err := unix.SchedSetAttr(tid, attr, 0); err != nil {
			return fmt.Errorf("set SCHED_BATCH on thread %d: %w", tid, err)
		}
		changed++
		return nil
	})
	return changed, err
}

// eachThread calls fn with every thread of the process and its scheduling
// attributes; threads that end while listed are passed over.
func eachThread(fn func(tid int, attr *unix.SchedAttr) error) error {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("list threads: %w", err)
	}
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		attr, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			continue // the thread ended
		}
		if err := fn(tid, attr); err != nil {
			return err
		}
	}
	return nil
}
