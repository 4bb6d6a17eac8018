package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// TestNoPasswordInChildProcesses runs apply while scanning every process's
// argv and environment: the child tools (pg_dump, pg_dumpall, pg_restore,
// psql) must get the password only from their pass file.
func TestNoPasswordInChildProcesses(t *testing.T) {
	src, dst := pgtest.Start(t), pgtest.Start(t)
	src.CreateDatabase(t, "app")
	src.Exec(t, "app", "CREATE TABLE t (id int PRIMARY KEY, v text)")
	src.Exec(t, "app", "INSERT INTO t SELECT g, 'v' FROM generate_series(1, 1000) g")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "replication.hcl")
	if err := os.WriteFile(cfg, []byte(`
variable "source_url" {
  sensitive = true
}
source "s" { url = var.source_url }
target "t" { url = "`+dst.URL("postgres")+`" }
replication "main" {
  source    = source.s
  target    = target.t
  databases = ["app"]
}
state { path = "`+filepath.Join(dir, "state.json")+`" }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	password := src.Password()

	stop := make(chan struct{})
	var mu sync.Mutex
	seen := map[string]bool{}
	var leaks []string
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			procs, _ := filepath.Glob("/proc/[0-9]*")
			for _, p := range procs {
				cmdline, err := os.ReadFile(p + "/cmdline")
				if err != nil || len(cmdline) == 0 {
					continue
				}
				argv := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
				tool := filepath.Base(argv[0])
				switch tool {
				case "pg_dump", "pg_dumpall", "pg_restore", "psql":
				default:
					continue
				}
				environ, _ := os.ReadFile(p + "/environ")
				mu.Lock()
				seen[tool] = true
				if bytes.Contains(cmdline, []byte(password)) {
					leaks = append(leaks, tool+" argv: "+strings.Join(argv, " "))
				}
				if bytes.Contains(environ, []byte(password)) {
					leaks = append(leaks, tool+" environment")
				}
				mu.Unlock()
			}
			time.Sleep(time.Millisecond)
		}
	}()

	var stdout, stderr bytes.Buffer
	env := &ioEnv{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, lookupEnv: func(k string) (string, bool) {
		if k == "REPLICATOR_VAR_source_url" {
			return src.URL("postgres"), true
		}
		return "", false
	}}
	code := run(context.Background(), []string{"-c", cfg, "apply", "--auto-approve"}, env)
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Fatalf("apply exit %d:\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if len(leaks) > 0 {
		t.Fatalf("password visible in child processes: %v", leaks)
	}
	if len(seen) == 0 {
		t.Fatal("no child tool was observed: the scan proves nothing")
	}
	t.Logf("child tools observed: %v", seen)
	if strings.Contains(stdout.String()+stderr.String(), password) {
		t.Fatal("password in apply's output")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "state.json")); bytes.Contains(b, []byte(password)) {
		t.Fatal("password in the state file")
	}
}
