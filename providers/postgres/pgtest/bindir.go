package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/pgbin"
)

// errNoBinaries marks the failure to find the PostgreSQL server binaries.
var errNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found")

// findBinDir returns the directory holding initdb and postgres, through
// the same lookup as the CLI's client tools (pgbin): $PGTEST_BINDIR (the
// older name) or $REPLICATOR_PG_BINDIR when set (it must hold them), else
// `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin.
func findBinDir() (string, error) {
	for _, env := range []string{pgbin.TestEnv, pgbin.Env} {
		if d := os.Getenv(env); d != "" {
			if !pgbin.Has(d, "initdb", "postgres") {
				return "", fmt.Errorf("%w in %s=%s", errNoBinaries, env, d)
			}
			return d, nil
		}
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); pgbin.Has(d, "initdb", "postgres") {
			return d, nil
		}
	}
	for _, d := range pgbin.Versioned() {
		if pgbin.Has(d, "initdb", "postgres") {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: looked in $%s, $%s, `pg_config --bindir` and /usr/lib/postgresql/*/bin; "+
		"install PostgreSQL (Debian/Ubuntu: apt-get install postgresql; other systems: your package manager's PostgreSQL server package), "+
		"or set %s to a directory holding initdb and postgres; set PGTEST_SKIP_MISSING=1 to skip these tests instead", errNoBinaries, pgbin.TestEnv, pgbin.Env, pgbin.Env)
}
