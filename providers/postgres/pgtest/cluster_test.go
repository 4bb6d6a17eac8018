package pgtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestTwoClusters(t *testing.T) {
	t0 := time.Now()
	a := Start(t)
	first := time.Since(t0)
	t1 := time.Now()
	b := Start(t, WithSetting("wal_level", "replica"))
	second := time.Since(t1)
	t.Logf("first cluster (initdb + start): %v, second cluster (copy + start): %v", first, second)
	if a.Port() == b.Port() {
		t.Fatalf("both clusters on port %d", a.Port())
	}
	ctx := context.Background()
	for _, c := range []struct {
		cl   *Cluster
		want string
	}{{a, "logical"}, {b, "replica"}} {
		conn := c.cl.Connect(t, "postgres")
		var v, wal string
		if err := conn.QueryRow(ctx, "SELECT version(), current_setting('wal_level')").Scan(&v, &wal); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(v, "PostgreSQL ") || wal != c.want {
			t.Fatalf("version %q, wal_level %q (want %s)", v, wal, c.want)
		}
	}
	if got := a.QueryInt(t, "postgres", "SELECT current_setting('max_replication_slots')::int"); got != 20 {
		t.Fatalf("max_replication_slots = %d", got)
	}
	// TCP needs the password; a wrong one is refused.
	bad := strings.Replace(a.URL("postgres"), DefaultPassword, "wrong", 1)
	if conn, err := pgx.Connect(ctx, bad); err == nil {
		conn.Close(ctx)
		t.Fatal("wrong password accepted over TCP")
	} else if !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("wrong password: %v", err)
	}
	// The unix socket trusts local connections.
	conn, err := pgx.Connect(ctx, a.SocketURL("postgres"))
	if err != nil {
		t.Fatalf("socket connection: %v", err)
	}
	conn.Close(ctx)
	a.CreateDatabase(t, "Mixed Case db")
	a.Exec(t, "Mixed Case db", "CREATE TABLE t (id int)")
}

func TestClusterIsRemovedAfterTest(t *testing.T) {
	var dir string
	var port int
	t.Run("inner", func(t *testing.T) {
		c := Start(t)
		dir, port = c.dir, c.Port()
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("cluster directory %s still exists: %v", dir, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres:x@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=1", port)); err == nil {
		conn.Close(ctx)
		t.Fatalf("server on port %d still answers", port)
	}
}

func TestStopStart(t *testing.T) {
	c := Start(t)
	c.Exec(t, "postgres", "CREATE TABLE kept (id int)")
	c.Stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, c.URL("postgres")+"&connect_timeout=1"); err == nil {
		conn.Close(ctx)
		t.Fatal("stopped server answers")
	}
	c.Start(t)
	if n := c.QueryInt(t, "postgres", "SELECT count(*) FROM pg_class WHERE relname = 'kept'"); n != 1 {
		t.Fatalf("table lost across restart")
	}
}

func BenchmarkStartCluster(b *testing.B) {
	Start(b) // initdb outside the timed loop
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := Start(b)
		b.StopTimer()
		if err := c.destroy(); err != nil { // do not keep b.N servers running
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
