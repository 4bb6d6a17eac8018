package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// TestLiveScripts runs testdata/live/*.txtar against two real clusters,
// fresh for each script: $SOURCE_URL and $TARGET_URL point at their
// "postgres" databases, $SOURCE_PORT/$TARGET_PORT are the servers' ports.
// A script whose name contains "walreplica" gets a source with
// wal_level=replica; one whose name ends in _pgN a source of PostgreSQL N.
// The script command `sql source|target DB STATEMENT` runs SQL on them.
func TestLiveScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/live",
		Setup: func(env *testscript.Env) error {
			tb := env.T().(testing.TB)
			// A password of the script's own, for both its servers (as
			// the predecessor README's user:pass for source and target):
			// a script that scans every process for it (nosecret) must not
			// find another script's --source URL, which the user typed.
			password := pgtest.UniquePassword()
			opts := []pgtest.Option{password}
			if strings.Contains(tb.Name(), "walreplica") {
				opts = append(opts, pgtest.WithSetting("wal_level", "replica"))
			}
			// A name ending in _pgN gets a source of major version N.
			if m := sourceMajor.FindStringSubmatch(tb.Name()); m != nil {
				n, _ := strconv.Atoi(m[1])
				opts = append(opts, pgtest.Major(n))
			}
			src := pgtest.Start(tb, opts...)
			dst := pgtest.Start(env.T().(testing.TB), password)
			env.Values["source"] = src
			env.Values["target"] = dst
			env.Values["tb"] = tb
			env.Setenv("NO_COLOR", "1")
			env.Setenv("SOURCE_URL", src.URL("postgres"))
			env.Setenv("TARGET_URL", dst.URL("postgres"))
			env.Setenv("SOURCE_PASSWORD", src.Password())
			env.Setenv("SOURCE_PORT", fmt.Sprint(src.Port()))
			env.Setenv("TARGET_PORT", fmt.Sprint(dst.Port()))
			env.Setenv("PGBIN", src.BinDir())
			// sync --daemon keeps its pid and log under $HOME; a daemon
			// left by a failed script is stopped with it.
			home := filepath.Join(env.WorkDir, "home")
			env.Setenv("HOME", home)
			env.Defer(func() { killDaemon(home) })
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"sql":      sqlCmd,
			"query":    queryCmd,
			"waitfor":  waitForCmd,
			"metrics":  metricsCmd,
			"converge": convergeCmd,
			"server":   serverCmd,
			"nosecret": noSecretCmd,
		},
	})
}

// sourceMajor matches a live script name that asks for a source of
// another major version (sync_stream_filter_pg13).
var sourceMajor = regexp.MustCompile(`_pg(\d+)$`)

// sqlCmd implements `sql source|target DB STATEMENT...`; with `!` it
// expects the statement to fail.
func sqlCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: sql source|target DB STATEMENT")
	}
	c, ok := ts.Value(args[0]).(*pgtest.Cluster)
	if !ok {
		ts.Fatalf("sql: unknown server %q (source or target)", args[0])
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL(args[1]))
	if err != nil {
		ts.Fatalf("sql: connect %s/%s: %v", args[0], args[1], err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, strings.Join(args[2:], " "))
	if neg {
		if err == nil {
			ts.Fatalf("sql: expected an error")
		}
		return
	}
	ts.Check(err)
}

// queryCmd implements `query source|target DB WANT SQL...`: the query's
// single value (as text) must equal WANT.
func queryCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 4 {
		ts.Fatalf("usage: query source|target DB WANT SQL")
	}
	got := queryValue(ts, args[0], args[1], strings.Join(args[3:], " "))
	if (got == args[2]) == neg {
		ts.Fatalf("query %s: got %q, want %s%q", strings.Join(args[3:], " "), got, map[bool]string{true: "not ", false: ""}[neg], args[2])
	}
}

// waitForCmd implements `waitfor source|target DB WANT SQL...`: like
// query, retried for up to 30 seconds (for replication to catch up).
func waitForCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 4 {
		ts.Fatalf("usage: waitfor source|target DB WANT SQL")
	}
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		if got = queryValue(ts, args[0], args[1], strings.Join(args[3:], " ")); got == args[2] {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	ts.Fatalf("waitfor %s: still %q after 30s, want %q", strings.Join(args[3:], " "), got, args[2])
}

// queryValue runs a query and returns its single value as text.
func queryValue(ts *testscript.TestScript, server, db, sql string) string {
	c, ok := ts.Value(server).(*pgtest.Cluster)
	if !ok {
		ts.Fatalf("unknown server %q (source or target)", server)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		ts.Fatalf("connect %s/%s: %v", server, db, err)
	}
	defer conn.Close(ctx)
	var v *string
	if err := conn.QueryRow(ctx, "SELECT ("+sql+")::text").Scan(&v); err != nil {
		ts.Fatalf("%s: %v", sql, err)
	}
	if v == nil {
		return "NULL"
	}
	return *v
}

// killDaemon kills a background sync whose pid file is under home.
func killDaemon(home string) {
	b, err := os.ReadFile(filepath.Join(home, ".database-replicator", "sync.pid"))
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// metricsURL finds the metrics address a sync logged.
var metricsURL = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+/metrics`)

// metricsCmd implements `metrics LOGFILE [REGEXP]`: it finds the metrics
// URL that sync logged in LOGFILE, scrapes it (again, for up to 20 seconds,
// until the body matches REGEXP when given) and writes the body to stdout.
func metricsCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: metrics LOGFILE [REGEXP]")
	}
	var want *regexp.Regexp
	if len(args) == 2 {
		want = regexp.MustCompile(args[1])
	}
	deadline := time.Now().Add(20 * time.Second)
	var url, body string
	for time.Now().Before(deadline) {
		if url == "" {
			b, _ := os.ReadFile(ts.MkAbs(args[0]))
			url = metricsURL.FindString(string(b))
		}
		if url != "" {
			body = scrape(ts, url)
			if want == nil || want.MatchString(body) {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if url == "" {
		ts.Fatalf("metrics: no metrics URL in %s", args[0])
	}
	fmt.Fprint(ts.Stdout(), body)
}

// scrape fetches a metrics page.
func scrape(ts *testscript.TestScript, url string) string {
	resp, err := http.Get(url)
	ts.Check(err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	ts.Check(err)
	if resp.StatusCode != http.StatusOK {
		ts.Fatalf("metrics: %s: %s", url, resp.Status)
	}
	return string(body)
}

// convergeCmd implements `converge [-reverse] DB SQL...`: the query's
// value on the target must become equal to its value on the source within
// 60 seconds (with -reverse, the source's to the target's: replication
// back after cutover --reverse).
func convergeCmd(ts *testscript.TestScript, neg bool, args []string) {
	from, to := "source", "target"
	if len(args) > 0 && args[0] == "-reverse" {
		from, to, args = "target", "source", args[1:]
	}
	if len(args) < 2 {
		ts.Fatalf("usage: converge [-reverse] DB SQL")
	}
	sql := strings.Join(args[1:], " ")
	want := queryValue(ts, from, args[0], sql)
	deadline := time.Now().Add(60 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		if got = queryValue(ts, to, args[0], sql); got == want {
			ts.Logf("converged: %s = %s", sql, got)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	ts.Fatalf("converge %s: %s %q, %s %q after 60s", sql, to, got, from, want)
}

// serverCmd implements `server stop|start source|target`: the server goes
// away (fast shutdown) or comes back on the same port.
func serverCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: server stop|start source|target")
	}
	c, ok := ts.Value(args[1]).(*pgtest.Cluster)
	if !ok {
		ts.Fatalf("server: unknown server %q (source or target)", args[1])
	}
	tb := ts.Value("tb").(testing.TB)
	switch args[0] {
	case "stop":
		c.Stop(tb)
	case "start":
		c.Start(tb)
	default:
		ts.Fatalf("server: %q is neither stop nor start", args[0])
	}
}

// noSecretCmd implements `nosecret SECRET`: no process's command line may
// contain SECRET.
func noSecretCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || args[0] == "" {
		ts.Fatalf("usage: nosecret SECRET")
	}
	entries, err := os.ReadDir("/proc")
	ts.Check(err)
	checked := 0
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		checked++
		if strings.Contains(string(b), args[0]) {
			ts.Fatalf("process %s has the secret in its command line: %q", e.Name(), strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	ts.Logf("checked %d command lines", checked)
}
