package pgtest

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Connect opens a TCP connection to database db as the superuser; it is
// closed by a cleanup.
func (c *Cluster) Connect(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", db, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn.Close(ctx)
	})
	return conn
}

// Exec runs sql with args in database db as the superuser on a fresh
// connection and fails the test on error.
func (c *Cluster) Exec(t testing.TB, db, sql string, args ...any) {
	t.Helper()
	c.onFreshConn(t, db, func(ctx context.Context, conn *pgx.Conn) {
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("pgtest: exec in %s: %v\n%s", db, err, sql)
		}
	})
}

// onFreshConn runs fn on a new superuser connection to database db (one
// minute at most) and closes it.
func (c *Cluster) onFreshConn(t testing.TB, db string, fn func(context.Context, *pgx.Conn)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", db, err)
	}
	defer conn.Close(context.Background())
	fn(ctx, conn)
}

// CreateDatabase creates database name.
func (c *Cluster) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	c.Exec(t, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

// CreateRole creates a LOGIN role with the given password (none when empty)
// and extra attributes such as "SUPERUSER", "REPLICATION" or "CREATEDB".
func (c *Cluster) CreateRole(t testing.TB, name, password string, attrs ...string) {
	t.Helper()
	sql := "CREATE ROLE " + pgx.Identifier{name}.Sanitize() + " LOGIN"
	if password != "" {
		sql += " PASSWORD " + quoteLiteral(password)
	}
	if len(attrs) > 0 {
		sql += " " + strings.Join(attrs, " ")
	}
	c.Exec(t, "postgres", sql)
}

// QueryInt runs a query returning one integer in database db.
func (c *Cluster) QueryInt(t testing.TB, db, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	c.onFreshConn(t, db, func(ctx context.Context, conn *pgx.Conn) {
		if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatalf("pgtest: query in %s: %v\n%s", db, err, sql)
		}
	})
	return n
}

// RunTool runs a PostgreSQL server binary (pg_resetwal, pg_controldata, …)
// from the cluster's binary directory as the server account and fails the
// test when it fails. Stop the server first for tools that need it down.
func (c *Cluster) RunTool(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := c.tmpl.run(name, args...)
	if err != nil {
		t.Fatalf("pgtest: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// BeginSmartShutdown asks the server for a smart shutdown (SIGTERM) and
// returns at once: the sessions already open go on, new connections are
// refused with "the database system is shutting down" (57P03) until the
// last session ends and the server exits (the cluster is removed at
// cleanup as usual).
func (c *Cluster) BeginSmartShutdown(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	p := c.proc
	c.mu.Unlock()
	if p == nil {
		t.Fatalf("pgtest: BeginSmartShutdown: server is not running")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("pgtest: BeginSmartShutdown: %v", err)
	}
}
