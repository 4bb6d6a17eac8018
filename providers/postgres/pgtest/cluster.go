// Package pgtest starts throwaway PostgreSQL clusters for tests, from the
// PostgreSQL binaries installed on the machine. initdb runs once per test
// binary; every cluster copies that template data directory and starts on
// a free loopback port with a private unix-socket directory, so a second
// cluster starts in about a second.
//
// Binaries come from $PGTEST_BINDIR (pick another installed version with
// it), else `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin.
// As root, servers run as the postgres user with data under /tmp. Clusters
// are stopped and removed in t.Cleanup, also when a test fails or panics.
// When a test binary is killed before its cleanups run, the next test
// binary that uses pgtest kills the servers it left and removes their files.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Superuser defaults of every cluster.
const (
	DefaultUser     = "postgres"
	DefaultPassword = "pgtest-secret"
)

// baseSettings are the postgresql.conf settings of every cluster.
var baseSettings = [][2]string{
	{"listen_addresses", "'127.0.0.1'"},
	{"wal_level", "logical"},
	{"max_replication_slots", "20"},
	{"max_wal_senders", "20"},
	{"max_worker_processes", "16"},
	{"max_logical_replication_workers", "8"},
	{"fsync", "off"},
	{"synchronous_commit", "off"},
	{"full_page_writes", "off"},
	{"shared_buffers", "'128MB'"},
	{"max_connections", "100"},
	{"logging_collector", "off"},
	{"log_min_messages", "warning"},
}

// Option changes how a cluster is set up.
type Option func(*options)

type options struct {
	settings [][2]string
}

// WithSetting sets a postgresql.conf parameter, e.g.
// WithSetting("wal_level", "replica"). Values are written as given, so
// quote strings: WithSetting("search_path", "'app'").
func WithSetting(name, value string) Option {
	return func(o *options) { o.settings = append(o.settings, [2]string{name, value}) }
}

// Cluster is one running PostgreSQL server.
type Cluster struct {
	dir     string // cluster directory: data/, sock/, log
	port    int
	binDir  string
	owner   *runAs
	mu      sync.Mutex
	running bool
}

// runAs is the user server processes run as (nil: the current user).
type runAs struct {
	uid, gid uint32
}

// template is the initdb'd data directory shared by the test binary.
var template struct {
	once   sync.Once
	base   string
	data   string
	binDir string
	owner  *runAs
	err    error
}

// Start starts a cluster and registers its removal with t.Cleanup.
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	template.once.Do(initTemplate)
	if template.err != nil {
		if os.Getenv("PGTEST_SKIP_MISSING") == "1" {
			t.Skipf("pgtest: %v", template.err)
		}
		t.Fatalf("pgtest: %v", template.err)
	}
	dir, err := os.MkdirTemp(template.base, "c")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	c := &Cluster{dir: dir, binDir: template.binDir, owner: template.owner}
	t.Cleanup(func() { c.destroy(t) })
	if err := c.chown(dir); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	start := time.Now()
	if err := copyTree(template.data, c.DataDir(), c.owner); err != nil {
		t.Fatalf("pgtest: copy template: %v", err)
	}
	if err := os.Mkdir(c.SocketDir(), 0o700); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := c.chown(c.SocketDir()); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		c.port = port
		if err := c.writeConf(o.settings); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
		if lastErr = c.startServer(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("pgtest: start cluster: %v\n%s", lastErr, c.logTail(50))
	}
	t.Logf("pgtest: cluster on 127.0.0.1:%d started in %v", c.port, time.Since(start).Round(time.Millisecond))
	return c
}

// initTemplate finds the binaries and runs initdb once.
func initTemplate() {
	bin, err := findBinDir()
	if err != nil {
		template.err = err
		return
	}
	template.binDir = bin
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			template.err = fmt.Errorf("running as root needs a postgres user to run the server (initdb refuses root): %w", err)
			return
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		template.owner = &runAs{uid: uint32(uid), gid: uint32(gid)}
	}
	base, err := os.MkdirTemp("/tmp", "pgtest-")
	if err != nil {
		template.err = err
		return
	}
	template.base = base
	if err := os.WriteFile(filepath.Join(base, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		template.err = err
		return
	}
	removeStaleBases(base)
	c := &Cluster{dir: base, owner: template.owner, binDir: bin}
	if err := c.chown(base); err != nil {
		template.err = err
		return
	}
	pwfile := filepath.Join(base, "pwfile")
	if err := os.WriteFile(pwfile, []byte(DefaultPassword+"\n"), 0o600); err != nil {
		template.err = err
		return
	}
	if err := c.chown(pwfile); err != nil {
		template.err = err
		return
	}
	template.data = filepath.Join(base, "template")
	cmd := c.command(filepath.Join(bin, "initdb"), "-D", template.data, "-U", DefaultUser, "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	if out, err := cmd.CombinedOutput(); err != nil {
		template.err = fmt.Errorf("initdb: %v\n%s", err, out)
		return
	}
	os.Remove(pwfile)
}

// findBinDir locates the PostgreSQL server binaries.
func findBinDir() (string, error) {
	if d := os.Getenv("PGTEST_BINDIR"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			return "", fmt.Errorf("PGTEST_BINDIR=%s has no initdb: %w", d, err)
		}
		return d, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries found (initdb): install them with `apt-get install postgresql`, or set PGTEST_BINDIR")
}

func versionOf(binDir string) float64 {
	f, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return f
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeConf writes the cluster's settings into postgresql.auto.conf.
func (c *Cluster) writeConf(extra [][2]string) error {
	var b strings.Builder
	b.WriteString("# written by pgtest\n")
	for _, kv := range append(append([][2]string{}, baseSettings...), extra...) {
		fmt.Fprintf(&b, "%s = %s\n", kv[0], kv[1])
	}
	fmt.Fprintf(&b, "port = %d\nunix_socket_directories = '%s'\n", c.port, c.SocketDir())
	path := filepath.Join(c.DataDir(), "postgresql.auto.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return c.chown(path)
}

// startServer runs pg_ctl start and waits until the server accepts connections.
func (c *Cluster) startServer() error {
	cmd := c.command(filepath.Join(c.binDir, "pg_ctl"), "start", "-w", "-t", "60", "-D", c.DataDir(), "-l", c.logPath())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s", err, strings.TrimSpace(string(out)))
	}
	c.mu.Lock()
	c.running = true
	c.mu.Unlock()
	return nil
}

// command builds an exec.Cmd that runs as the cluster owner, in its own
// process group (so a Ctrl-C of the test run reaches it only through our
// cleanups).
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if c.owner != nil {
		attr.Credential = &syscall.Credential{Uid: c.owner.uid, Gid: c.owner.gid}
	}
	cmd.SysProcAttr = attr
	return cmd
}

// chown gives a path to the cluster owner (no-op when not root).
func (c *Cluster) chown(path string) error {
	if c.owner == nil {
		return nil
	}
	if err := os.Chown(path, int(c.owner.uid), int(c.owner.gid)); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}

// Stop stops the server (fast shutdown); Start brings it back on the same port.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	if err := c.stop("fast"); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// Start restarts a stopped server on the same port.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	if err := c.startServer(); err != nil {
		t.Fatalf("pgtest: %v\n%s", err, c.logTail(30))
	}
}

// Restart stops and starts the server, e.g. after ALTER SYSTEM.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	c.Stop(t)
	c.Start(t)
}

func (c *Cluster) stop(mode string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return nil
	}
	cmd := c.command(filepath.Join(c.binDir, "pg_ctl"), "stop", "-w", "-m", mode, "-D", c.DataDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, strings.TrimSpace(string(out)))
	}
	c.running = false
	return nil
}

// destroy stops the server and removes its directory.
func (c *Cluster) destroy(t testing.TB) {
	if t.Failed() {
		t.Logf("pgtest: last lines of the server log of 127.0.0.1:%d:\n%s", c.port, c.logTail(50))
	}
	if err := c.stop("immediate"); err != nil {
		t.Logf("pgtest: %v", err)
	}
	if err := os.RemoveAll(c.dir); err != nil {
		t.Logf("pgtest: remove %s: %v", c.dir, err)
	}
}

func (c *Cluster) logPath() string { return filepath.Join(c.dir, "server.log") }

// logTail returns the last n lines of the server log.
func (c *Cluster) logTail(n int) string {
	b, err := os.ReadFile(c.logPath())
	if err != nil {
		return "(no server log)"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// DataDir is the cluster's data directory.
func (c *Cluster) DataDir() string { return filepath.Join(c.dir, "data") }

// SocketDir is the cluster's private unix-socket directory.
func (c *Cluster) SocketDir() string { return filepath.Join(c.dir, "sock") }

// Port is the TCP port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// BinDir is the directory of the PostgreSQL binaries in use.
func (c *Cluster) BinDir() string { return c.binDir }

// User is the superuser name.
func (c *Cluster) User() string { return DefaultUser }

// Password is the superuser's password (TCP connections need it).
func (c *Cluster) Password() string { return DefaultPassword }

// URL is a TCP URL with the superuser's password for database db.
func (c *Cluster) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(DefaultUser, DefaultPassword),
		Host: fmt.Sprintf("127.0.0.1:%d", c.port), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// URLWithoutPassword is URL without the password (for .pgpass tests).
func (c *Cluster) URLWithoutPassword(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(DefaultUser),
		Host: fmt.Sprintf("127.0.0.1:%d", c.port), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// SocketURL connects through the unix socket (trust authentication).
func (c *Cluster) SocketURL(db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", c.SocketDir(), c.port, DefaultUser, db)
}

// Connect opens a connection to db, closed when the test ends.
func (c *Cluster) Connect(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		t.Fatalf("pgtest: connect to %s on 127.0.0.1:%d: %v", db, c.port, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Exec runs SQL on db and fails the test on error.
func (c *Cluster) Exec(t testing.TB, db, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		t.Fatalf("pgtest: connect to %s on 127.0.0.1:%d: %v", db, c.port, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}

// QueryInt runs a query returning one integer.
func (c *Cluster) QueryInt(t testing.TB, db, sql string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
	return n
}

// CreateDatabase creates a database.
func (c *Cluster) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	c.Exec(t, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

// CreateRole creates a login role with a password and extra attributes
// such as "REPLICATION" or "CREATEDB".
func (c *Cluster) CreateRole(t testing.TB, name, password string, attrs ...string) {
	t.Helper()
	sql := "CREATE ROLE " + pgx.Identifier{name}.Sanitize() + " LOGIN PASSWORD '" + strings.ReplaceAll(password, "'", "''") + "'"
	if len(attrs) > 0 {
		sql += " " + strings.Join(attrs, " ")
	}
	c.Exec(t, "postgres", sql)
}

// removeStaleBases deletes the directories of earlier test binaries that
// died without cleaning up (their pid no longer runs), stopping any
// server still running in them first.
func removeStaleBases(current string) {
	dirs, _ := filepath.Glob("/tmp/pgtest-*")
	for _, d := range dirs {
		if d == current {
			continue
		}
		b, err := os.ReadFile(filepath.Join(d, "pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || syscall.Kill(pid, 0) == nil {
			continue
		}
		pids, _ := filepath.Glob(filepath.Join(d, "*", "data", "postmaster.pid"))
		for _, p := range pids {
			if b, err := os.ReadFile(p); err == nil {
				if pm, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0]); err == nil {
					_ = syscall.Kill(pm, syscall.SIGKILL)
				}
			}
		}
		_ = os.RemoveAll(d)
	}
}

// Main runs the tests of a package that uses pgtest and removes the
// shared template afterwards. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if template.base != "" {
		_ = os.RemoveAll(template.base)
	}
	return code
}
