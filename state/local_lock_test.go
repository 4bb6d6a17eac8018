package state

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLocalLockRefusesSecondLocker(t *testing.T) {
	ctx := context.Background()
	path := newLocal(t).Path()
	a, b := NewLocal(path), NewLocal(path)
	info := NewLockInfo("apply", "v0.1.0")
	unlock, err := a.Lock(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(a.LockPath())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v, %v", st, err)
	}
	_, err = b.Lock(ctx, NewLockInfo("plan", "v0.1.0"))
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Lock: %v, want *LockedError", err)
	}
	if le.Info.ID != info.ID || le.Info.PID != os.Getpid() || le.Info.Operation != "apply" || le.HolderGone {
		t.Fatalf("LockedError info %+v (gone %v)", le.Info, le.HolderGone)
	}
	host, _ := os.Hostname()
	for _, want := range []string{
		fmt.Sprintf("state is locked by apply (pid %d on host %s, user ", os.Getpid(), host),
		") since " + info.Created.Format(time.RFC3339) + ": another database-replicator is running; wait for it, ",
		"run `database-replicator state force-unlock " + info.ID + "`",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// Writes through another instance are refused while the lock is held;
	// the holder can write.
	if err := b.Write(ctx, New()); !errors.As(err, &le) {
		t.Fatalf("write by a non-holder: %v", err)
	}
	if err := a.Write(ctx, New()); err != nil {
		t.Fatalf("write by the holder: %v", err)
	}
	// Locking the same instance twice is refused as well.
	if _, err := a.Lock(ctx, NewLockInfo("apply", "")); !errors.As(err, &le) {
		t.Fatalf("relock: %v", err)
	}
	if err := unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := unlock(ctx); err != nil {
		t.Fatalf("second unlock: %v", err)
	}
	if _, err := os.Stat(a.LockPath()); !os.IsNotExist(err) {
		t.Fatalf("lock file left after unlock: %v", err)
	}
	unlockB, err := b.Lock(ctx, NewLockInfo("plan", ""))
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	if err := unlockB(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLocalLockConcurrentGoroutines(t *testing.T) {
	ctx := context.Background()
	path := newLocal(t).Path()
	const n = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		won     int
		unlocks []func(context.Context) error
		others  []error
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := NewLocal(path).Lock(ctx, NewLockInfo("apply", ""))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
				unlocks = append(unlocks, unlock)
			} else {
				others = append(others, err)
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d goroutines took the lock, want 1", won)
	}
	for _, err := range others {
		var le *LockedError
		if !errors.As(err, &le) || le.Info.ID == "" {
			t.Fatalf("loser error: %v", err)
		}
	}
	if err := unlocks[0](ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLocalForceUnlock(t *testing.T) {
	ctx := context.Background()
	path := newLocal(t).Path()
	a, b := NewLocal(path), NewLocal(path)
	if err := b.ForceUnlock(ctx, "whatever"); !errors.Is(err, ErrNotLocked) {
		t.Fatalf("ForceUnlock without a lock: %v", err)
	}
	info := NewLockInfo("sync", "")
	unlock, err := a.Lock(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ForceUnlock(ctx, "wrong-id"); err == nil || !strings.Contains(err.Error(), "does not match the current lock") {
		t.Fatalf("ForceUnlock with a wrong ID: %v", err)
	}
	if err := b.ForceUnlock(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	unlockB, err := b.Lock(ctx, NewLockInfo("apply", ""))
	if err != nil {
		t.Fatalf("Lock after force-unlock: %v", err)
	}
	// The original holder's unlock must not remove the new holder's lock.
	if err := unlock(ctx); err == nil || !strings.Contains(err.Error(), "not by this run") {
		t.Fatalf("stale unlock: %v", err)
	}
	if _, err := os.Stat(b.LockPath()); err != nil {
		t.Fatalf("new holder's lock removed: %v", err)
	}
	// The former holder can no longer write.
	if err := a.Write(ctx, New()); err == nil {
		t.Fatal("former holder wrote while another run holds the lock")
	}
	if err := unlockB(ctx); err != nil {
		t.Fatal(err)
	}
}

// lockHelperEnv names the state file a re-executed test binary locks.
const lockHelperEnv = "STATE_TEST_LOCK_HELPER"

// TestLockHelperProcess is not a test: run by startLockHolder in a child
// process, it takes the lock, prints its ID and waits for stdin to close.
func TestLockHelperProcess(t *testing.T) {
	path := os.Getenv(lockHelperEnv)
	if path == "" {
		t.Skip("helper process for the lock tests")
	}
	info := NewLockInfo("apply", "child")
	if _, err := NewLocal(path).Lock(context.Background(), info); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("locked", info.ID)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	os.Exit(0) // exits without unlocking, like a crash
}

// startLockHolder runs the test binary as a child that locks path.
func startLockHolder(t *testing.T, path string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "locked ") {
		t.Fatalf("child: %q, %v", line, err)
	}
	return cmd, strings.TrimSpace(strings.TrimPrefix(line, "locked "))
}

func TestLocalLockHeldByChildProcess(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	child, id := startLockHolder(t, l.Path())
	_, err := l.Lock(ctx, NewLockInfo("plan", ""))
	var le *LockedError
	if !errors.As(err, &le) || le.Info.ID != id || le.Info.PID != child.Process.Pid || le.HolderGone {
		t.Fatalf("Lock while a child holds it: %v (%+v)", err, le)
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(child.Process.Pid)) {
		t.Fatalf("error lacks the child's pid: %v", err)
	}

	// The child dies without unlocking (SIGKILL, like kill -9): the kernel
	// released its flock, so the next Lock takes the lock over.
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	info := NewLockInfo("apply", "")
	unlock, err := l.Lock(ctx, info)
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	if got := l.TookOver(); got == nil || got.ID != id || got.PID != child.Process.Pid {
		t.Fatalf("TookOver = %+v, want the killed child's lock %s", got, id)
	}
	held, err := readLockFile(l.LockPath())
	if err != nil || held.ID != info.ID {
		t.Fatalf("lock file after the take-over: %+v, %v", held, err)
	}
	// The taken-over lock is a real lock: another locker is refused.
	other := NewLocal(l.Path())
	if _, err := other.Lock(ctx, NewLockInfo("plan", "")); !errors.As(err, &le) || le.Info.ID != info.ID {
		t.Fatalf("second Lock after the take-over: %v", err)
	}
	if err := unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.LockPath()); !os.IsNotExist(err) {
		t.Fatalf("lock file left after unlock: %v", err)
	}
}

// TestLocalLockNotTakenOverUnlessProvablyGone writes lock files nobody
// flocks (an older version's, or one from another host) and checks that
// Lock refuses them unless their holder is a dead process of this host.
func TestLocalLockNotTakenOverUnlessProvablyGone(t *testing.T) {
	ctx := context.Background()
	host, _ := os.Hostname()
	for _, tc := range []struct {
		name     string
		holder   LockInfo
		wantGone bool
	}{
		{"live process on this host", LockInfo{ID: "live", PID: os.Getpid(), Host: host}, false},
		{"process on another host", LockInfo{ID: "remote", PID: 1 << 22, Host: host + "-elsewhere"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLocal(t)
			tc.holder.Fill()
			data, _ := json.Marshal(tc.holder)
			if err := os.WriteFile(l.LockPath(), data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := l.Lock(ctx, NewLockInfo("apply", ""))
			var le *LockedError
			if !errors.As(err, &le) || le.Info.ID != tc.holder.ID || le.HolderGone != tc.wantGone {
				t.Fatalf("Lock over %s: %v", tc.name, err)
			}
			if !strings.Contains(err.Error(), "force-unlock "+tc.holder.ID) {
				t.Fatalf("error lacks the force-unlock hint: %v", err)
			}
		})
	}
	// A lock file of a dead process of this host that nobody flocks (left
	// by an older version) is taken over.
	l := newLocal(t)
	dead := LockInfo{ID: "dead", PID: deadPID(t), Host: host}
	dead.Fill()
	data, _ := json.Marshal(dead)
	if err := os.WriteFile(l.LockPath(), data, 0o600); err != nil {
		t.Fatal(err)
	}
	unlock, err := l.Lock(ctx, NewLockInfo("apply", ""))
	if err != nil {
		t.Fatalf("Lock over a dead process's lock: %v", err)
	}
	if got := l.TookOver(); got == nil || got.ID != "dead" {
		t.Fatalf("TookOver = %+v", got)
	}
	if err := unlock(ctx); err != nil {
		t.Fatal(err)
	}
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	return cmd.Process.Pid
}

func TestLocalLockUnreadableLockFile(t *testing.T) {
	l := newLocal(t)
	if err := os.WriteFile(l.LockPath(), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := l.Lock(context.Background(), NewLockInfo("apply", ""))
	if err == nil || !strings.Contains(err.Error(), "exists but cannot be read") {
		t.Fatalf("Lock over an empty lock file: %v", err)
	}
}
