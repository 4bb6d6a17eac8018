package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// pgtestMain removes the pgtest template after the tests.
type pgtestMain struct{ m *testing.M }

// Run runs the tests, then removes the shared cluster template.
func (p pgtestMain) Run() int { return pgtest.Main(p.m) }

// TestMain lets testscript run the real binary entry point in-process as
// the command "database-replicator".
func TestMain(m *testing.M) {
	testscript.Main(pgtestMain{m}, map[string]func(){
		"database-replicator": main,
	})
}

// TestScripts pins every command's output and exit code; the scripts live
// in testdata/script/*.txtar.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("NO_COLOR", "1")
			if d := os.Getenv("REPLICATOR_PG_BINDIR"); d != "" {
				env.Setenv("REPLICATOR_PG_BINDIR", d)
			}
			return nil
		},
	})
}
