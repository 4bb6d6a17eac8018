package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Cluster is one running throwaway PostgreSQL server.
type Cluster struct {
	tmpl     *template
	dir      string // cluster directory: data/, s/ (socket), server.log
	user     string
	password string
	settings map[string]string
	passfile []string // lines of the server's PGPASSFILE (WithServerPassfile)
	port     int

	mu   sync.Mutex // guards proc
	proc *postmaster

	destroyOnce sync.Once
}

// postmaster is one run of the server process.
type postmaster struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
}

// errPortInUse reports that the server could not bind its port.
var errPortInUse = errors.New("port already in use")

// Start starts a new cluster and registers a cleanup that stops it and
// removes its directory. It fails the test when the server cannot start
// (or skips it when the binaries are missing and PGTEST_SKIP_MISSING=1).
func Start(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	cfg := config{user: bootstrapUser, password: DefaultPassword, settings: defaultSettings()}
	for _, o := range opts {
		o(&cfg)
	}
	major := cfg.major
	if major == 0 {
		var err error
		if major, err = envMajor(); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	tmpl, err := getTemplate(major)
	if err != nil {
		if skip, why := skipMissing(err); skip {
			t.Skipf("pgtest: %s", why)
		}
		t.Fatalf("pgtest: %v", err)
	}
	c := &Cluster{tmpl: tmpl, user: cfg.user, password: cfg.password, settings: cfg.settings, passfile: cfg.passfile}
	c.dir, err = os.MkdirTemp(tmpl.base, "c")
	if err != nil {
		t.Fatalf("pgtest: create cluster directory: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			c.logTail(t, 8)
		}
		if err := c.destroy(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	if err := c.create(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := c.writePassfile(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := c.startFreePort(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := c.setupSuperuser(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return c
}

// create lays out the cluster directory from the template.
func (c *Cluster) create() error {
	o := c.tmpl.owner
	if err := os.Chmod(c.dir, 0o700); err != nil {
		return fmt.Errorf("chmod cluster directory: %w", err)
	}
	if err := o.chown(c.dir); err != nil {
		return err
	}
	if err := o.mkdir(c.SocketDir()); err != nil {
		return err
	}
	if err := c.tmpl.copyTo(c.DataDir()); err != nil {
		return fmt.Errorf("copy template data directory: %w", err)
	}
	return nil
}

// startFreePort starts the server on a free loopback port, picking another
// port when the chosen one was taken in the meantime.
func (c *Cluster) startFreePort() error {
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		if c.port, err = freePort(); err != nil {
			return err
		}
		if err = c.launch(); !errors.Is(err, errPortInUse) {
			return err
		}
	}
	return fmt.Errorf("start server: no free port after several attempts: %w", err)
}

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeConf writes pgtest.conf, included by the template's postgresql.conf.
func (c *Cluster) writeConf() error {
	all := map[string]string{}
	for k, v := range c.settings {
		all[k] = v
	}
	all["listen_addresses"] = "127.0.0.1"
	all["port"] = strconv.Itoa(c.port)
	all["unix_socket_directories"] = c.SocketDir()
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(all[k])
		fmt.Fprintf(&b, "%s = '%s'\n", k, v)
	}
	path := filepath.Join(c.DataDir(), "pgtest.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return c.tmpl.owner.chown(path)
}

// passfilePath is the server's password file (WithServerPassfile).
func (c *Cluster) passfilePath() string { return filepath.Join(c.dir, "server.pgpass") }

// writePassfile writes the server's password file, mode 0600, owned by
// the server's user.
func (c *Cluster) writePassfile() error {
	if len(c.passfile) == 0 {
		return nil
	}
	path := c.passfilePath()
	if err := os.WriteFile(path, []byte(strings.Join(c.passfile, "\n")+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return c.tmpl.owner.chown(path)
}

// launch starts the postmaster and waits until it accepts connections.
func (c *Cluster) launch() error {
	if err := c.writeConf(); err != nil {
		return err
	}
	logPath := c.LogPath()
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open server log: %w", err)
	}
	defer logFile.Close() // the child keeps its own descriptor
	st, err := logFile.Stat()
	if err != nil {
		return fmt.Errorf("stat server log: %w", err)
	}
	offset := st.Size()

	cmd := exec.Command(filepath.Join(c.tmpl.binDir, "postgres"), "-D", c.DataDir())
	cmd.Dir = c.dir
	cmd.Env = childEnv()
	if len(c.passfile) > 0 {
		cmd.Env = append(cmd.Env, "PGPASSFILE="+c.passfilePath())
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr(c.tmpl.owner.cred)
	p := &postmaster{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that forked the
		// child exits: keep this thread alive, and only this goroutine on
		// it, for as long as the server runs.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	c.mu.Lock()
	c.proc = p
	c.mu.Unlock()
	if err := c.waitReady(p, offset); err != nil {
		c.kill(p, syscall.SIGQUIT)
		return err
	}
	return nil
}

// waitReady polls the unix socket until the server accepts a connection or
// the process exits.
func (c *Cluster) waitReady(p *postmaster, logOffset int64) error {
	deadline := time.Now().Add(60 * time.Second)
	connString := c.socketConnString("postgres", bootstrapUser)
	for {
		select {
		case <-p.done:
			out := c.readLogFrom(logOffset)
			if strings.Contains(out, "Address already in use") || strings.Contains(out, "could not bind") {
				return fmt.Errorf("server on port %d: %w", c.port, errPortInUse)
			}
			return fmt.Errorf("server exited during startup (%v); log:\n%s", p.err, out)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgconn.Connect(ctx, connString)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server did not accept connections within 60s: %v; log:\n%s", err, c.readLogFrom(logOffset))
		}
		time.Sleep(15 * time.Millisecond)
	}
}

// socketConnString connects over the private unix socket (trust auth).
func (c *Cluster) socketConnString(db, user string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable connect_timeout=5",
		quoteKV(c.SocketDir()), c.port, quoteKV(user), quoteKV(db))
}

// quoteKV quotes a value for a key=value connection string.
func quoteKV(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// quoteLiteral quotes a SQL string literal (standard_conforming_strings on).
func quoteLiteral(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// setupSuperuser creates the chosen superuser or sets its password when
// they differ from the template's.
func (c *Cluster) setupSuperuser() error {
	if c.user == bootstrapUser && c.password == c.tmpl.password {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.socketConnString("postgres", bootstrapUser))
	if err != nil {
		return fmt.Errorf("connect to set up superuser: %w", err)
	}
	defer conn.Close(context.Background())
	role := pgx.Identifier{c.user}.Sanitize()
	sql := "ALTER ROLE " + role + " PASSWORD " + quoteLiteral(c.password)
	if c.user != bootstrapUser {
		sql = "CREATE ROLE " + role + " SUPERUSER LOGIN REPLICATION CREATEDB CREATEROLE PASSWORD " + quoteLiteral(c.password)
	}
	// Keep the password out of the server log even with log_statement
	// = 'all', so that tests may scan the log for it.
	if _, err := conn.Exec(ctx, "SET log_statement = 'none'"); err != nil {
		return fmt.Errorf("set up superuser %s: %w", c.user, err)
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("set up superuser %s: %w", c.user, err)
	}
	return nil
}

// kill signals the postmaster, waits for it to exit (escalating to SIGKILL
// of its process group after a while) and reports whether it had to force.
func (c *Cluster) kill(p *postmaster, sig syscall.Signal) {
	if p == nil {
		return
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(pid, sig)
	timeout := 10 * time.Second
	if sig == syscall.SIGINT || sig == syscall.SIGTERM {
		timeout = 60 * time.Second
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
	}
	// Backends exit on their own once the postmaster is gone; make sure.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// takeProc detaches the current postmaster from the cluster.
func (c *Cluster) takeProc() *postmaster {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.proc
	c.proc = nil
	return p
}

// destroy stops the server immediately and removes the cluster directory.
func (c *Cluster) destroy() error {
	var err error
	c.destroyOnce.Do(func() {
		c.kill(c.takeProc(), syscall.SIGQUIT)
		if rerr := os.RemoveAll(c.dir); rerr != nil {
			err = fmt.Errorf("remove cluster directory: %w", rerr)
		}
	})
	return err
}

// Stop shuts the server down (fast mode: sessions are disconnected), for
// tests of a server going away. The data directory stays; Start brings the
// server back on the same port.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	p := c.takeProc()
	if p == nil {
		t.Fatalf("pgtest: Stop: server is not running")
	}
	c.kill(p, syscall.SIGINT)
}

// Start starts a stopped server again on the same port.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	c.mu.Lock()
	running := c.proc != nil
	c.mu.Unlock()
	if running {
		t.Fatalf("pgtest: Start: server is already running")
	}
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = c.launch(); !errors.Is(err, errPortInUse) {
			break
		}
		time.Sleep(250 * time.Millisecond) // the port is still held; wait
	}
	if err != nil {
		t.Fatalf("pgtest: restart server: %v", err)
	}
}

// Restart stops and starts the server (e.g. after changing settings that
// need a restart with ALTER SYSTEM).
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	c.Stop(t)
	c.Start(t)
}

// readLogFrom returns the server log from offset on.
func (c *Cluster) readLogFrom(offset int64) string {
	b, err := os.ReadFile(c.LogPath())
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	return string(b[offset:])
}

// logTail prints the last n lines of the server log.
func (c *Cluster) logTail(t testing.TB, n int) {
	b, err := os.ReadFile(c.LogPath())
	if err != nil {
		t.Logf("pgtest: no server log: %v", err)
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	// The failure's own message comes before these lines; keep them few
	// and telling so that a truncated CI excerpt still shows it: the
	// server's errors first, else its last lines.
	var errs []string
	for _, l := range lines {
		if strings.Contains(l, "ERROR:") || strings.Contains(l, "FATAL:") || strings.Contains(l, "PANIC:") {
			errs = append(errs, l)
		}
	}
	what := "error lines"
	if len(errs) == 0 {
		errs, what = lines, "lines"
	}
	if len(errs) > n {
		errs = errs[len(errs)-n:]
	}
	t.Logf("pgtest: last %d %s of %s:\n%s", len(errs), what, c.LogPath(), strings.Join(errs, "\n"))
}

// URL returns a URL for database db over TCP with the superuser's password.
func (c *Cluster) URL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(c.user, c.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// URLWithoutPassword returns URL(db) without the password.
func (c *Cluster) URLWithoutPassword(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(c.user),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// SocketURL returns a URL for database db over the unix socket (trust
// authentication, no password).
func (c *Cluster) SocketURL(db string) string {
	q := url.Values{"host": {c.SocketDir()}, "port": {strconv.Itoa(c.port)}, "sslmode": {"disable"}}
	u := url.URL{Scheme: "postgres", User: url.User(c.user), Path: "/" + db, RawQuery: q.Encode()}
	return u.String()
}

// Port returns the server's TCP port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// SocketDir returns the directory of the server's unix socket.
func (c *Cluster) SocketDir() string { return filepath.Join(c.dir, "s") }

// DataDir returns the server's data directory.
func (c *Cluster) DataDir() string { return filepath.Join(c.dir, "data") }

// Dir returns the cluster directory (data, socket and log), removed by the
// cleanup.
func (c *Cluster) Dir() string { return c.dir }

// LogPath returns the path of the server log.
func (c *Cluster) LogPath() string { return filepath.Join(c.dir, "server.log") }

// User returns the superuser name used by URL and the helpers.
func (c *Cluster) User() string { return c.user }

// Password returns the superuser's password.
func (c *Cluster) Password() string { return c.password }

// BinDir returns the directory of the PostgreSQL server binaries in use.
// For a cluster of another major version (Major) it may hold only
// initdb, pg_ctl and postgres, no client tools.
func (c *Cluster) BinDir() string { return c.tmpl.binDir }

// Major returns the server's major version (12, 13, …).
func (c *Cluster) Major() int { return c.tmpl.major }
