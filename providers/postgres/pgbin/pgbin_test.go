package pgbin

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirsPutsTheEnvironmentFirst(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(Env, dir)
	if got := Dirs(); len(got) == 0 || got[0] != dir {
		t.Fatalf("Dirs() = %v, want %s first", got, dir)
	}
	t.Setenv(Env, "")
	for _, d := range Dirs() {
		if d == dir {
			t.Fatalf("Dirs() = %v still holds %s without %s", Dirs(), dir, Env)
		}
	}
}

func TestHasAndMajorOrder(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pg_dump"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "psql"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if !Has(dir, "pg_dump") || Has(dir, "pg_dump", "psql") || Has(dir, "initdb") {
		t.Fatal("Has must require every program, executable")
	}
	if majorOf("/usr/lib/postgresql/16/bin") <= majorOf("/usr/lib/postgresql/9.6/bin") || majorOf("/x/y") != -1 {
		t.Fatal("majorOf order")
	}
}
