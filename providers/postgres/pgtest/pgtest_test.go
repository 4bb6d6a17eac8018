package pgtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestStartTimes logs how long cluster starts take: the first one in the
// process includes initdb, later ones copy the template.
func TestStartTimes(t *testing.T) {
	var times []time.Duration
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		c := Start(t)
		times = append(times, time.Since(t0))
		conn := c.Connect(t, "postgres")
		var v string
		if err := conn.QueryRow(context.Background(), "SELECT version()").Scan(&v); err != nil {
			t.Fatal(err)
		}
	}
	tmpl, _ := getTemplate(0)
	t.Logf("template (initdb) took %v; cluster starts: %v", tmpl.took, times)
}

// TestOptions checks a custom superuser with a password that needs
// percent-encoding, a setting override, and password checks over TCP.
func TestOptions(t *testing.T) {
	const pw = `s3:cr@t/pa ss'\`
	c := Start(t, WithSuperuser("alice", pw), WithSetting("max_connections", "42"), WithSetting("wal_level", "replica"))
	if c.User() != "alice" || c.Password() != pw {
		t.Fatalf("user %q password %q", c.User(), c.Password())
	}
	ctx := context.Background()
	conn := c.Connect(t, "postgres")
	var user, maxConn, wal string
	if err := conn.QueryRow(ctx, "SELECT current_user, current_setting('max_connections'), current_setting('wal_level')").Scan(&user, &maxConn, &wal); err != nil {
		t.Fatal(err)
	}
	if user != "alice" || maxConn != "42" || wal != "replica" {
		t.Fatalf("user %s, max_connections %s, wal_level %s", user, maxConn, wal)
	}
	// Wrong password and no password are refused over TCP.
	for _, u := range []string{
		strings.Replace(c.URLWithoutPassword("postgres"), "alice@", "alice:wrong@", 1),
		c.URLWithoutPassword("postgres") + "&passfile=/nonexistent",
	} {
		conn, err := pgx.Connect(ctx, u)
		if err == nil {
			conn.Close(ctx)
			t.Fatalf("%s: connected", u)
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code != "28P01" {
			t.Fatalf("%s: %v", u, err)
		}
	}
	// The unix socket trusts local connections.
	sc, err := pgx.Connect(ctx, c.SocketURL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	sc.Close(ctx)
	if len(filepath.Join(c.SocketDir(), ".s.PGSQL.65535")) > 100 {
		t.Fatalf("socket path too long: %s", c.SocketDir())
	}
}

// TestHelperHang is started as a child process by
// TestServersDieWithTestBinary; it starts a cluster and waits to be killed.
func TestHelperHang(t *testing.T) {
	if os.Getenv("PGTEST_HELPER_HANG") != "1" {
		t.Skip("helper process for TestServersDieWithTestBinary")
	}
	c := Start(t)
	c.mu.Lock()
	pid := c.proc.cmd.Process.Pid
	c.mu.Unlock()
	fmt.Printf("PGTEST PID=%d DIR=%s\n", pid, filepath.Dir(c.dir))
	time.Sleep(2 * time.Minute)
}

// TestServersDieWithTestBinary kills a test binary that runs a cluster and
// checks that its postmaster does not survive it.
func TestServersDieWithTestBinary(t *testing.T) {
	Start(t) // fail or skip here, not in the child, when binaries are missing
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHang$", "-test.v")
	cmd.Env = append(os.Environ(), "PGTEST_HELPER_HANG=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	var base string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "PGTEST PID=%d DIR=%s", &pid, &base); err == nil {
			break
		}
	}
	if pid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("helper did not report its server")
	}
	defer os.RemoveAll(base)
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("server %d not running: %v", pid, err)
	}
	cmd.Process.Kill() // SIGKILL: no cleanup runs in the child
	cmd.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(-pid, syscall.SIGKILL)
			t.Fatalf("postmaster %d survived its test binary", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
