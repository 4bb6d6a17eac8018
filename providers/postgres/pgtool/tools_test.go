package pgtool

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/pgbin"
)

// TestDumpMajorUsesTheBinDir puts a fake pg_dump in $REPLICATOR_PG_BINDIR:
// Find must pick it and DumpMajor must read its major version as
// server_version_num / 10000 does.
func TestDumpMajorUsesTheBinDir(t *testing.T) {
	for version, want := range map[string]int{"16.2": 16, "9.6.24": 9, "15beta1": 15} {
		dir := t.TempDir()
		script := "#!/bin/sh\necho 'pg_dump (PostgreSQL) " + version + "'\n"
		if err := os.WriteFile(filepath.Join(dir, "pg_dump"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv(pgbin.Env, dir)
		if p, err := Find("pg_dump"); err != nil || p != filepath.Join(dir, "pg_dump") {
			t.Fatalf("Find = %q, %v: want the one in %s", p, err, dir)
		}
		got, err := DumpMajor(context.Background())
		if err != nil || got != want {
			t.Errorf("DumpMajor with %s = %d, %v; want %d", version, got, err, want)
		}
	}
}
