package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// builtBinary is the CLI built once per test binary by buildBinary.
var builtBinary struct {
	once sync.Once
	path string
	err  error
	dir  string
}

// buildBinary builds the CLI once per test binary (tests that need a real
// process: kill -9, child processes, the daemon) and returns its path.
func buildBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH: cannot build the binary")
	}
	builtBinary.once.Do(func() {
		builtBinary.dir, builtBinary.err = os.MkdirTemp("", "replicator-bin-*")
		if builtBinary.err != nil {
			return
		}
		builtBinary.path = filepath.Join(builtBinary.dir, "database-replicator")
		out, err := exec.Command(goBin, "build", "-o", builtBinary.path, ".").CombinedOutput()
		if err != nil {
			builtBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if builtBinary.err != nil {
		t.Fatal(builtBinary.err)
	}
	return builtBinary.path
}

// runner runs the built binary with a configuration in its own directory and
// environment.
type runner struct {
	t    *testing.T
	bin  string
	dir  string
	cfg  string
	env  []string
	home string
}

// newCLI writes the configuration hcl into a fresh directory; env is added
// to a minimal environment (PATH, HOME in the directory, TMPDIR in the
// directory, NO_COLOR).
func newCLI(t *testing.T, hcl string, env ...string) *runner {
	t.Helper()
	dir := t.TempDir()
	c := &runner{t: t, bin: buildBinary(t), dir: dir, cfg: filepath.Join(dir, "replication.hcl"), home: filepath.Join(dir, "home")}
	if err := os.WriteFile(c.cfg, []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "tmp")
	for _, d := range []string{c.home, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	c.env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.home, "TMPDIR=" + tmp, "NO_COLOR=1"}, env...)
	if d := os.Getenv("REPLICATOR_PG_BINDIR"); d != "" {
		c.env = append(c.env, "REPLICATOR_PG_BINDIR="+d)
	}
	t.Cleanup(func() { killDaemon(c.home) })
	return c
}

// cmd returns the command for args (after -c CONFIG).
func (c *runner) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, append([]string{"-c", c.cfg}, args...)...)
	cmd.Dir = c.dir
	cmd.Env = c.env
	return cmd
}

// run runs args and returns the combined output and exit code.
func (c *runner) run(args ...string) (string, int) {
	c.t.Helper()
	out, err := c.cmd(args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	default:
		c.t.Fatalf("%s: %v", strings.Join(args, " "), err)
		return "", -1
	}
}

// must runs args and fails the test unless it exits 0.
func (c *runner) must(args ...string) string {
	c.t.Helper()
	out, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("%s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// logicalConfig is a configuration replicating database db from the
// source to the target, whose URLs come from the sensitive variables
// source_url and target_url (REPLICATOR_VAR_source_url, …); extra goes
// into the replication block.
func logicalConfig(dir, db, extra string) string {
	return `
variable "source_url" {
  sensitive = true
}
variable "target_url" {
  sensitive = true
}
source "prod" { url = var.source_url }
target "replica" { url = var.target_url }
replication "main" {
  source    = source.prod
  target    = target.replica
  databases = ["` + db + `"]
` + extra + `
}
state { path = "` + filepath.Join(dir, "state.json") + `" }
`
}

// tableDigests returns, per user table of db, its row count and the md5 of
// its rows in key order.
func tableDigests(ctx context.Context, url string) (map[string]string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, tbl := range tables {
		var d string
		if err := conn.QueryRow(ctx, `SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM `+tbl+` t`).Scan(&d); err != nil {
			return nil, err
		}
		out[tbl] = d
	}
	return out, nil
}

// waitDigestsEqual waits up to timeout for every table of db to hold the
// same rows on the target as on the source.
func waitDigestsEqual(t *testing.T, src, dst *pgtest.Cluster, db string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	deadline := time.Now().Add(timeout)
	var diff []string
	for {
		want, err1 := tableDigests(ctx, src.URL(db))
		got, err2 := tableDigests(ctx, dst.URL(db))
		diff = diff[:0]
		if err := errors.Join(err1, err2); err != nil {
			diff = append(diff, err.Error())
		} else {
			for tbl, w := range want {
				if got[tbl] != w {
					diff = append(diff, fmt.Sprintf("%s: source %s, target %s", tbl, w, got[tbl]))
				}
			}
		}
		if len(diff) == 0 {
			t.Logf("row digests equal in %d table(s)", len(want))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("row digests differ after %s:\n%s", timeout, strings.Join(diff, "\n"))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// scanForSecret fails the test when any file under the roots holds secret,
// except the files named in skip (the user's own pass files).
func scanForSecret(t *testing.T, secret string, skip []string, roots ...string) {
	t.Helper()
	scanned := 0
	for _, root := range roots {
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !d.Type().IsRegular() || slices.Contains(skip, path) {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			scanned++
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("the password is in %s", path)
			}
			return nil
		})
	}
	if scanned == 0 {
		t.Fatalf("no file scanned under %v: the scan proves nothing", roots)
	}
}
