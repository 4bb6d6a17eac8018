package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// TestNoPasswordAnywhere gives the source password to the tool in each of
// the four ways (in the URL, PGPASSWORD, PGPASSFILE, ~/.pgpass) and runs
// plan --out, apply, status, verify and a background sync with it, while
// scanning the argv and environment of every child tool (pg_dump,
// pg_dumpall, pg_restore, psql). Afterwards the password must be nowhere:
// not in the output, the state file or its backup, the plan file, the
// daemon log, the temporary directory, nor the server logs of either
// server, which record every statement (log_statement = 'all'). Both
// servers have passwords of their own, so that no other test binary
// running at the same time can trip the scan.
func TestNoPasswordAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("live test with child processes")
	}
	logAll := pgtest.WithSetting("log_statement", "all")
	src := pgtest.Start(t, pgtest.UniquePassword(), logAll)
	// The target's server logs in to the source through its own password
	// file when the subscription stores no password (issue 13 item 7).
	dst := pgtest.Start(t, pgtest.UniquePassword(), logAll,
		pgtest.WithServerPassfile(fmt.Sprintf("127.0.0.1:%d:*:%s:%s", src.Port(), src.User(), src.Password())))
	if src.Password() == dst.Password() || src.Password() == pgtest.DefaultPassword {
		t.Fatal("the clusters do not have passwords of their own")
	}
	secrets := []string{src.Password(), dst.Password()}

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
				for _, s := range secrets {
					if bytes.Contains(cmdline, []byte(s)) {
						leaks = append(leaks, tool+" argv: "+strings.Join(argv, " "))
					}
					if bytes.Contains(environ, []byte(s)) {
						leaks = append(leaks, tool+" environment")
					}
				}
				mu.Unlock()
			}
			time.Sleep(time.Millisecond)
		}
	}()
	var stopOnce sync.Once
	stopScan := func() { stopOnce.Do(func() { close(stop); wg.Wait() }) }
	defer stopScan()

	pgpassLine := "127.0.0.1:*:*:" + src.User() + ":" + src.Password() + "\n"
	modes := []struct {
		name string
		// env returns the environment giving the password; dir is the
		// test's directory, home its $HOME.
		env func(dir, home string) []string
		// extra goes into the replication block.
		extra string
		// stores is whether the subscription's connection string holds the
		// password: only a password written in the source URL, and only
		// with sync.subscription_password = "url" (the default).
		stores bool
	}{
		{name: "url", stores: true, env: func(dir, home string) []string { return []string{"REPLICATOR_VAR_source_url=" + src.URL("postgres")} }},
		{name: "pgpassword", env: func(dir, home string) []string {
			return []string{"REPLICATOR_VAR_source_url=" + src.URLWithoutPassword("postgres"), "PGPASSWORD=" + src.Password()}
		}},
		{name: "url-none", extra: "  sync {\n    subscription_password = \"none\"\n  }", env: func(dir, home string) []string {
			return []string{"REPLICATOR_VAR_source_url=" + src.URL("postgres")}
		}},
		{name: "pgpassfile", env: func(dir, home string) []string {
			f := filepath.Join(dir, "pass", "my.pgpass")
			must(t, os.MkdirAll(filepath.Dir(f), 0o700))
			must(t, os.WriteFile(f, []byte(pgpassLine), 0o600))
			return []string{"REPLICATOR_VAR_source_url=" + src.URLWithoutPassword("postgres"), "PGPASSFILE=" + f}
		}},
		{name: "home-pgpass", env: func(dir, home string) []string {
			must(t, os.WriteFile(filepath.Join(home, ".pgpass"), []byte(pgpassLine), 0o600))
			return []string{"REPLICATOR_VAR_source_url=" + src.URLWithoutPassword("postgres")}
		}},
	}
	if os.Getenv("REPLICATOR_FAULTS") == "" {
		// make test runs the first three; make test-faults runs all.
		modes = modes[:3]
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			db := "app_" + strings.ReplaceAll(m.name, "-", "_")
			src.CreateDatabase(t, db)
			src.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, v text)")
			src.Exec(t, db, "INSERT INTO t SELECT g, 'v' FROM generate_series(1, 1000) g")
			dir := t.TempDir()
			r := newCLI(t, logicalConfig(dir, db, m.extra), "REPLICATOR_VAR_target_url="+dst.URL("postgres"))
			r.env = append(r.env, m.env(r.dir, r.home)...)
			var out strings.Builder
			out.WriteString(r.must("plan", "--out", filepath.Join(dir, "tfplan")))
			out.WriteString(r.must("apply", "--auto-approve"))
			src.Exec(t, db, "INSERT INTO t VALUES (1001, 'after apply')")
			waitDigestsEqual(t, src, dst, db, time.Minute)
			stored := dst.QueryInt(t, db, "SELECT count(*) FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND subconninfo LIKE '%password=%'")
			if (stored == 1) != m.stores {
				t.Fatalf("the subscription stores a password: %v, want %v", stored == 1, m.stores)
			}
			out.WriteString(r.must("status"))
			out.WriteString(r.must("verify"))
			out.WriteString(r.must("sync", "--daemon", "--sync-interval", "1s"))
			time.Sleep(2 * time.Second)
			out.WriteString(r.must("sync", "--stop"))
			// A second apply writes the state again, so a backup exists.
			out.WriteString(r.must("apply", "--auto-approve"))
			for _, s := range secrets {
				if strings.Contains(out.String(), s) {
					t.Fatalf("a password is in the output:\n%s", out.String())
				}
			}
			for _, s := range secrets {
				// state, backup, plan file, daemon log, TMPDIR
				scanForSecret(t, s, []string{filepath.Join(r.dir, "pass", "my.pgpass"), filepath.Join(r.home, ".pgpass")}, dir, r.dir)
			}
		})
	}
	stopScan()
	if len(leaks) > 0 {
		t.Fatalf("password visible in child processes: %v", leaks)
	}
	if len(seen) == 0 {
		t.Fatal("no child tool was observed: the scan proves nothing")
	}
	t.Logf("child tools observed: %v", seen)
	for _, c := range []*pgtest.Cluster{src, dst} {
		b, err := os.ReadFile(c.LogPath())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("CREATE")) {
			t.Fatalf("server log %s records no statement: the scan proves nothing", c.LogPath())
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				i := bytes.Index(b, []byte(s))
				t.Errorf("a password is in the server log %s: …%s…", c.LogPath(), b[max(0, i-300):i])
			}
		}
	}
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
