package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestProxyPauseResetResume(t *testing.T) {
	c := Start(t)
	p := c.NewProxy(t)
	u, _ := url.Parse(c.URL("postgres"))
	u.Host = fmt.Sprintf("127.0.0.1:%d", p.Port())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || p.Conns() != 1 {
		t.Fatalf("through the proxy: %v (%d connections)", err, p.Conns())
	}

	p.Pause()
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = pgx.Connect(short, u.String())
	cancelShort()
	if err == nil {
		t.Fatal("a new connection got through a black hole")
	}
	done := make(chan error, 1)
	go func() { done <- conn.QueryRow(ctx, "SELECT 2").Scan(&one) }()
	select {
	case err := <-done:
		t.Fatalf("a query answered through a black hole: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	p.Resume()
	if err := <-done; err != nil || one != 2 {
		t.Fatalf("after Resume: %d, %v", one, err)
	}

	if n := p.Reset(); n < 1 {
		t.Fatalf("Reset closed %d connections", n)
	}
	if err := conn.QueryRow(ctx, "SELECT 3").Scan(&one); err == nil {
		t.Fatal("a query succeeded on a reset connection")
	}
	again, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("connect after Reset: %v", err)
	}
	again.Close(ctx)
}
