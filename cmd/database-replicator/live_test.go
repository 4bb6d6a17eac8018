package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// TestLiveScripts runs testdata/live/*.txtar against two real clusters,
// fresh for each script: $SOURCE_URL and $TARGET_URL point at their
// "postgres" databases, $SOURCE_PORT/$TARGET_PORT are the servers' ports.
// A script whose name contains "walreplica" gets a source with
// wal_level=replica.
// The script command `sql source|target DB STATEMENT` runs SQL on them.
func TestLiveScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/live",
		Setup: func(env *testscript.Env) error {
			tb := env.T().(testing.TB)
			var opts []pgtest.Option
			if strings.Contains(tb.Name(), "walreplica") {
				opts = append(opts, pgtest.WithSetting("wal_level", "replica"))
			}
			src := pgtest.Start(tb, opts...)
			dst := pgtest.Start(env.T().(testing.TB))
			env.Values["source"] = src
			env.Values["target"] = dst
			env.Setenv("NO_COLOR", "1")
			env.Setenv("SOURCE_URL", src.URL("postgres"))
			env.Setenv("TARGET_URL", dst.URL("postgres"))
			env.Setenv("SOURCE_PASSWORD", src.Password())
			env.Setenv("SOURCE_PORT", fmt.Sprint(src.Port()))
			env.Setenv("TARGET_PORT", fmt.Sprint(dst.Port()))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"sql": sqlCmd,
		},
	})
}

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
