package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// errNoBinaries marks the failure to find the PostgreSQL server binaries.
var errNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found")

// findBinDir returns the directory holding initdb and postgres: $PGTEST_BINDIR,
// else `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin.
func findBinDir() (string, error) {
	if d := os.Getenv("PGTEST_BINDIR"); d != "" {
		if !hasServer(d) {
			return "", fmt.Errorf("%w in PGTEST_BINDIR=%s", errNoBinaries, d)
		}
		return d, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); hasServer(d) {
			return d, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(matches, func(i, j int) bool { return majorOf(matches[i]) > majorOf(matches[j]) })
	for _, d := range matches {
		if hasServer(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: looked in $PGTEST_BINDIR, `pg_config --bindir` and /usr/lib/postgresql/*/bin; "+
		"install PostgreSQL (Debian/Ubuntu: apt-get install postgresql; other systems: your package manager's PostgreSQL server package), "+
		"or set PGTEST_BINDIR to a directory holding initdb and postgres; set PGTEST_SKIP_MISSING=1 to skip these tests instead", errNoBinaries)
}

// hasServer reports whether dir holds executable initdb and postgres.
func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// majorOf extracts N from /usr/lib/postgresql/N/bin, or -1.
func majorOf(dir string) float64 {
	f, err := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
	if err != nil {
		return -1
	}
	return f
}
