package conninfo

import (
	"context"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

func TestTargetReachesSource(t *testing.T) {
	src, dst := pgtest.Start(t), pgtest.Start(t)
	si, _ := ParseURL(src.URL("postgres"))
	di, _ := ParseURL(dst.URL("postgres"))
	ctx := context.Background()
	msg, err := TargetReachesSource(ctx, di, si)
	if err != nil || msg != "" {
		t.Fatalf("reachable pair: %q, %v", msg, err)
	}
	if n := dst.QueryInt(t, "postgres", "SELECT count(*) FROM pg_subscription"); n != 0 {
		t.Fatalf("the check left %d subscription(s)", n)
	}
	bad, _ := ParseURL(strings.Replace(src.URL("postgres"), pgtest.DefaultPassword, "wrong-secret-pw", 1))
	msg, err = TargetReachesSource(ctx, di, bad)
	if err != nil || !strings.Contains(msg, "could not connect to the publisher") || !strings.Contains(msg, "password authentication failed") {
		t.Fatalf("wrong password: %q, %v", msg, err)
	}
	if strings.Contains(msg, "wrong-secret-pw") {
		t.Fatalf("message leaks the password: %q", msg)
	}
}
