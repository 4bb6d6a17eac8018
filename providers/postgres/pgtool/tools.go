package pgtool

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Find locates a PostgreSQL client program (pg_dump, pg_dumpall,
// pg_restore, psql). It looks in $REPLICATOR_PG_BINDIR, then in the newest
// /usr/lib/postgresql/*/bin, then on PATH, so that the newest installed
// major version wins over a distribution wrapper.
func Find(name string) (string, error) {
	var dirs []string
	if d := os.Getenv("REPLICATOR_PG_BINDIR"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, versionedBinDirs()...)
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found in $REPLICATOR_PG_BINDIR, /usr/lib/postgresql/*/bin or PATH: install the PostgreSQL client tools (apt-get install postgresql-client)", name)
}

// versionedBinDirs returns /usr/lib/postgresql/N/bin directories, newest first.
func versionedBinDirs() []string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(matches, func(i, j int) bool {
		return majorOf(matches[i]) > majorOf(matches[j])
	})
	return matches
}

// majorOf extracts N from /usr/lib/postgresql/N/bin.
func majorOf(dir string) float64 {
	v := filepath.Base(filepath.Dir(dir))
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return -1
	}
	return f
}
