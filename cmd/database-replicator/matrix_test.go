package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// matrixRun is one source/target pair of major versions and the scripts
// (testdata/matrix/NAME.txtar) it runs.
type matrixRun struct {
	source, target int
	scripts        []string
	// ci marks the representative runs of `make test`; the others run
	// with PGTEST_MATRIX=full (`make test-matrix`).
	ci bool
}

// matrixRuns is the version matrix. The client tools are the local ones
// (pg_dump 15 here), which dump servers up to their own major version: the
// sources are 12-15, the targets 12-18. Two runs pin refusals: a target
// older than the source, and a source newer than the local pg_dump.
var matrixRuns = []matrixRun{
	{12, 12, []string{"e2e", "rowfilter"}, false},
	{12, 15, []string{"e2e", "rowfilter"}, false},
	{12, 18, []string{"e2e", "rowfilter"}, true},
	{13, 16, []string{"e2e", "rowfilter"}, false},
	{14, 17, []string{"e2e", "rowfilter"}, false},
	{15, 16, []string{"e2e", "rowfilter"}, false},
	{15, 18, []string{"e2e", "rowfilter"}, true},
	{15, 15, []string{"e2e", "rowfilter"}, false},
	{15, 12, []string{"downgrade"}, true},
	{16, 18, []string{"newer_than_pg_dump"}, false},
}

// TestMatrix runs testdata/matrix scripts against real servers of the
// pair's major versions (installed by pgtest on first use). Without
// PGTEST_MATRIX=full only the representative runs (ci) run. Scripts see
// $SOURCE_MAJOR and $TARGET_MAJOR and the conditions [source<N],
// [source>=N], [target<N], [target>=N]; the commands of TestLiveScripts
// and `writer start|stop`.
func TestMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("the version matrix starts real servers")
	}
	full := os.Getenv("PGTEST_MATRIX") == "full"
	for _, run := range matrixRuns {
		if !full && !run.ci {
			continue
		}
		run := run
		t.Run(fmt.Sprintf("%d-to-%d", run.source, run.target), func(t *testing.T) {
			files := make([]string, len(run.scripts))
			for i, s := range run.scripts {
				files[i] = filepath.Join("testdata", "matrix", s+".txtar")
			}
			start := time.Now()
			// The scripts run as parallel subtests, after this function.
			t.Cleanup(func() {
				t.Logf("PostgreSQL %d -> %d: %s took %v", run.source, run.target, strings.Join(run.scripts, ", "), time.Since(start).Round(time.Second))
			})
			testscript.Run(t, testscript.Params{
				Files: files,
				Setup: func(env *testscript.Env) error {
					return matrixSetup(env, run)
				},
				Condition: func(cond string) (bool, error) { return matrixCondition(run, cond) },
				Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
					"sql":      sqlCmd,
					"query":    queryCmd,
					"waitfor":  waitForCmd,
					"converge": convergeCmd,
					"writer":   writerCmd,
				},
			})
		})
	}
}

// matrixSetup starts the pair's servers and sets the environment.
func matrixSetup(env *testscript.Env, run matrixRun) error {
	tb := env.T().(testing.TB)
	src := pgtest.Start(tb, pgtest.Major(run.source))
	dst := pgtest.Start(tb, pgtest.Major(run.target))
	w := &writers{}
	env.Defer(w.stopAll)
	env.Values["source"] = src
	env.Values["target"] = dst
	env.Values["writers"] = w
	env.Setenv("NO_COLOR", "1")
	env.Setenv("SOURCE_URL", src.URL("postgres"))
	env.Setenv("TARGET_URL", dst.URL("postgres"))
	env.Setenv("SOURCE_PASSWORD", src.Password())
	env.Setenv("SOURCE_MAJOR", strconv.Itoa(run.source))
	env.Setenv("TARGET_MAJOR", strconv.Itoa(run.target))
	env.Setenv("HOME", filepath.Join(env.WorkDir, "home"))
	return nil
}

// matrixCondition evaluates [source<N], [source>=N], [target<N] and
// [target>=N] for the pair.
func matrixCondition(run matrixRun, cond string) (bool, error) {
	for _, side := range []struct {
		name  string
		major int
	}{{"source", run.source}, {"target", run.target}} {
		rest, ok := strings.CutPrefix(cond, side.name)
		if !ok {
			continue
		}
		op, num := "<", ""
		switch {
		case strings.HasPrefix(rest, ">="):
			op, num = ">=", rest[2:]
		case strings.HasPrefix(rest, "<"):
			num = rest[1:]
		default:
			return false, fmt.Errorf("condition %q: want %s<N or %s>=N", cond, side.name, side.name)
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			return false, fmt.Errorf("condition %q: %v", cond, err)
		}
		if op == "<" {
			return side.major < n, nil
		}
		return side.major >= n, nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}

// writers are the background writers of one script.
type writers struct {
	mu   sync.Mutex
	runs []*writer
}

// writer runs one statement in a loop until stopped.
type writer struct {
	stop chan struct{}
	done chan struct{}
	n    int
	err  error
}

// stopAll stops every writer and returns the first error.
func (w *writers) stopAll() {
	w.mu.Lock()
	runs := w.runs
	w.runs = nil
	w.mu.Unlock()
	for _, r := range runs {
		close(r.stop)
		<-r.done
	}
}

// writerCmd implements `writer start source|target DB STATEMENT...`
// (runs STATEMENT every 10 ms on its own connection until stopped) and
// `writer stop` (stops every writer; fails when one failed or wrote
// nothing).
func writerCmd(ts *testscript.TestScript, neg bool, args []string) {
	ws := ts.Value("writers").(*writers)
	if len(args) == 1 && args[0] == "stop" {
		ws.mu.Lock()
		runs := ws.runs
		ws.runs = nil
		ws.mu.Unlock()
		for _, r := range runs {
			close(r.stop)
			<-r.done
			if r.err != nil {
				ts.Fatalf("writer: %v", r.err)
			}
			if r.n == 0 {
				ts.Fatalf("writer: wrote nothing")
			}
			ts.Logf("writer: %d statements", r.n)
		}
		return
	}
	if len(args) < 4 || args[0] != "start" {
		ts.Fatalf("usage: writer start source|target DB STATEMENT | writer stop")
	}
	c, ok := ts.Value(args[1]).(*pgtest.Cluster)
	if !ok {
		ts.Fatalf("writer: unknown server %q", args[1])
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.URL(args[2]))
	if err != nil {
		ts.Fatalf("writer: connect: %v", err)
	}
	sql := strings.Join(args[3:], " ")
	r := &writer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		defer conn.Close(context.Background())
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-tick.C:
			}
			if _, err := conn.Exec(ctx, sql); err != nil {
				r.err = err
				return
			}
			r.n++
		}
	}()
	ws.mu.Lock()
	ws.runs = append(ws.runs, r)
	ws.mu.Unlock()
}
