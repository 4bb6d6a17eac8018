package pgtest

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestParseServerMajor(t *testing.T) {
	for out, want := range map[string]int{
		"postgres (PostgreSQL) 15.4 (Debian 15.4-1.pgdg120+1)\n": 15,
		"postgres (PostgreSQL) 12.22":                            12,
		"postgres (PostgreSQL) 18beta1":                          18,
	} {
		if got, err := parseServerMajor(out); err != nil || got != want {
			t.Errorf("parseServerMajor(%q) = %d, %v; want %d", out, got, err, want)
		}
	}
	if _, err := parseServerMajor("initdb: oops"); err == nil {
		t.Error("parseServerMajor accepted output without a version")
	}
}

// TestMajors starts a cluster of each requested major version and checks
// that the server runs that version. It covers the oldest and the newest
// version by default, every version with PGTEST_MATRIX=full.
func TestMajors(t *testing.T) {
	majors := []int{Majors()[0], Majors()[len(Majors())-1]}
	if os.Getenv("PGTEST_MATRIX") == "full" {
		majors = Majors()
	}
	for _, m := range majors {
		t.Run(fmt.Sprint(m), func(t *testing.T) {
			c := Start(t, Major(m))
			if c.Major() != m {
				t.Fatalf("Major() = %d, want %d", c.Major(), m)
			}
			got := c.QueryInt(t, "postgres", "SELECT current_setting('server_version_num')::int / 10000")
			if got != int64(m) {
				t.Fatalf("server_version_num / 10000 = %d, want %d", got, m)
			}
			if wal := c.QueryInt(t, "postgres", "SELECT (current_setting('wal_level') = 'logical')::int"); wal != 1 {
				t.Fatal("wal_level is not logical")
			}
			if !strings.HasPrefix(c.BinDir(), "/") {
				t.Fatalf("BinDir %q is not absolute", c.BinDir())
			}
		})
	}
}

func TestEnvMajor(t *testing.T) {
	t.Setenv(MajorEnv, "")
	if n, err := envMajor(); n != 0 || err != nil {
		t.Fatalf("unset: %d, %v", n, err)
	}
	t.Setenv(MajorEnv, "13")
	if n, err := envMajor(); n != 13 || err != nil {
		t.Fatalf("13: %d, %v", n, err)
	}
	t.Setenv(MajorEnv, "thirteen")
	if _, err := envMajor(); err == nil {
		t.Fatal("accepted a non-number")
	}
}
