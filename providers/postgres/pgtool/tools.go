package pgtool

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/database-replicator/database-replicator/providers/postgres/pgbin"
)

// Find locates a PostgreSQL client program (pg_dump, pg_dumpall,
// pg_restore, psql) in pgbin.Dirs ($REPLICATOR_PG_BINDIR, then the newest
// /usr/lib/postgresql/*/bin), then on PATH, so that the newest installed
// major version wins over a distribution wrapper.
func Find(name string) (string, error) {
	for _, d := range pgbin.Dirs() {
		if pgbin.Has(d, name) {
			return filepath.Join(d, name), nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found in $%s, /usr/lib/postgresql/*/bin or PATH: install the PostgreSQL client tools (apt-get install postgresql-client)", name, pgbin.Env)
}

// DumpMajor returns the major version of the pg_dump that Find picks
// (15 for "pg_dump (PostgreSQL) 15.4", 9 for 9.6), comparable with
// server_version_num / 10000.
func DumpMajor(ctx context.Context) (int, error) {
	path, err := Find("pg_dump")
	if err != nil {
		return 0, err
	}
	scaled, err := toolMajor(ctx, path)
	if err != nil {
		return 0, err
	}
	return scaled / 100, nil
}
