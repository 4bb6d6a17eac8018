package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/state"
)

// TestSecondApplyFailsWhileLocked holds the state lock as a concurrent
// apply would, and checks that apply fails at once naming the holder,
// that plan takes no lock (it goes on to the servers, here unreachable),
// and that state force-unlock clears the lock.
func TestSecondApplyFailsWhileLocked(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "replication.hcl")
	statePath := filepath.Join(dir, "replicator.state.json")
	if err := os.WriteFile(cfg, []byte(`
source "prod" { url = "postgres://u@127.0.0.1:1/postgres" }
target "replica" { url = "postgres://u@127.0.0.1:2/postgres" }
replication "main" {
  source = source.prod
  target = target.replica
}
state { path = "`+statePath+`" }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	holder := state.NewLockInfo("apply", "test")
	if _, err := state.NewLocal(statePath).Lock(context.Background(), holder); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	env := &ioEnv{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, lookupEnv: func(string) (string, bool) { return "", false }}
	if code := run(context.Background(), []string{"-c", cfg, "plan", "--detailed-exitcode"}, env); code != 1 ||
		strings.Contains(stderr.String(), "locked") || !strings.Contains(stderr.String(), "connection refused") {
		t.Fatalf("plan while locked: exit %d, want 1 from the unreachable source, not from the lock; stderr:\n%s", code, stderr.String())
	}
	stderr.Reset()
	code := run(context.Background(), []string{"-c", cfg, "apply", "--auto-approve"}, env)
	if code != 1 {
		t.Fatalf("apply exit %d, want 1; stderr:\n%s", code, stderr.String())
	}
	msg := stderr.String()
	for _, want := range []string{"state is locked by apply", "pid " + strconv.Itoa(os.Getpid()), "force-unlock " + holder.ID} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"-c", cfg, "state", "force-unlock", holder.ID}, env); code != 0 {
		t.Fatalf("force-unlock exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(statePath + ".lock"); !os.IsNotExist(err) {
		t.Fatalf("lock file still there: %v", err)
	}
}
