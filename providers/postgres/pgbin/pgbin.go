// Package pgbin is the one lookup of PostgreSQL bin directories, shared by
// the client-tool finder (pgtool.Find) and the test clusters (pgtest).
//
// Environment: REPLICATOR_PG_BINDIR (Env) names a bin directory that is
// searched first, by the CLI for pg_dump, pg_dumpall, pg_restore and psql
// and by the tests for initdb and postgres. pgtest also accepts the older
// PGTEST_BINDIR (TestEnv) for the same purpose. Nothing else is read.
package pgbin

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Env is the environment variable naming the preferred bin directory.
const Env = "REPLICATOR_PG_BINDIR"

// TestEnv is the older name of Env that pgtest still honours (first).
const TestEnv = "PGTEST_BINDIR"

// Dirs returns the directories to search, in order: $REPLICATOR_PG_BINDIR
// when set, then every /usr/lib/postgresql/N/bin, newest N first (so that
// the newest installed major version wins over a distribution wrapper).
// Callers add their own last resort (PATH, `pg_config --bindir`).
func Dirs() []string {
	var dirs []string
	if d := os.Getenv(Env); d != "" {
		dirs = append(dirs, d)
	}
	return append(dirs, Versioned()...)
}

// Versioned returns the /usr/lib/postgresql/N/bin directories, newest
// first.
func Versioned() []string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.SliceStable(matches, func(i, j int) bool { return majorOf(matches[i]) > majorOf(matches[j]) })
	return matches
}

// ForMajor returns /usr/lib/postgresql/N/bin for major version n, whether
// or not it exists.
func ForMajor(n int) string {
	return filepath.Join("/usr/lib/postgresql", strconv.Itoa(n), "bin")
}

// NewerToolsFix is the fix for client tools (pg_dump) older than a
// server of major version n: an older pg_dump refuses a newer server.
// The lookup order decides it: a newer /usr/lib/postgresql/N/bin wins by
// itself, PATH comes after every one of those, so Env is the override.
func NewerToolsFix(n int) string {
	return fmt.Sprintf("install the PostgreSQL %d client tools or newer (Debian/Ubuntu: apt-get install postgresql-client-%d; "+
		"/usr/lib/postgresql/*/bin is searched newest first), or set %s to the bin directory of pg_dump %d or newer", n, n, Env, n)
}

// Has reports whether dir holds every one of the programs as an
// executable file.
func Has(dir string, programs ...string) bool {
	for _, name := range programs {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// majorOf extracts N from /usr/lib/postgresql/N/bin, or -1.
func majorOf(dir string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(filepath.Base(filepath.Dir(dir))), 64)
	if err != nil {
		return -1
	}
	return f
}
