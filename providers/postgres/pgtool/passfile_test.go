package pgtool

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// TestDumpReadsThePassFile runs the real pg_dump over TCP, where the
// server asks for a password: libpq reads it from the file Run hands
// over (on Linux /dev/fd/N of an unnamed file), and TMPDIR stays empty.
func TestDumpReadsThePassFile(t *testing.T) {
	c := pgtest.Start(t)
	c.Exec(t, "postgres", "CREATE TABLE marker_table (id int)")
	info, err := conninfo.ParseURL(c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	passDir := t.TempDir()
	var out bytes.Buffer
	if err := Run(context.Background(), Command{Name: "pg_dump", Info: info, Args: []string{"--schema-only"}, Stdout: &out, PassDir: passDir}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "marker_table") {
		t.Fatalf("pg_dump output lacks marker_table:\n%s", out.String())
	}
	if left, _ := os.ReadDir(passDir); len(left) > 0 {
		t.Fatalf("%s holds %v", passDir, left)
	}
}

// TestKilledDumpLeavesNoPassword kills -9 a process while its pg_dump
// waits on a lock: no file under its TMPDIR holds the password, neither
// then nor after a second run.
func TestKilledDumpLeavesNoPassword(t *testing.T) {
	c := pgtest.Start(t)
	c.Exec(t, "postgres", "CREATE TABLE locked (id int)")
	tmp := t.TempDir()
	locker := c.Connect(t, "postgres")
	ctx := context.Background()
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE locked IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), dumpChildVar+"="+c.URL("postgres"), "TMPDIR="+tmp)
		return cmd
	}
	cmd := child()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for c.QueryInt(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pg_dump' AND wait_event_type = 'Lock'") == 0 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("pg_dump never waited on the lock")
		}
		time.Sleep(50 * time.Millisecond)
	}
	noPassword := func(when string) {
		t.Helper()
		_ = filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(c.Password())) {
				t.Errorf("%s: %s holds the password", when, p)
			}
			return nil
		})
	}
	noPassword("while pg_dump runs")
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	noPassword("after kill -9")
	_ = tx.Rollback(ctx)
	rerun := child()
	if out, err := rerun.CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	noPassword("after a rerun")
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("TMPDIR holds %v", left)
	}
}
