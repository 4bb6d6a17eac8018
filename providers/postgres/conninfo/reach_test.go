package conninfo

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

func TestTargetReachesSource(t *testing.T) {
	src := pgtest.Start(t)
	dst := pgtest.Start(t, pgtest.WithSetting("log_statement", "all"))
	si, _ := ParseURL(src.URL("postgres"))
	di, _ := ParseURL(dst.URL("postgres"))
	ctx := context.Background()
	msg, _, err := TargetReachesSource(ctx, di, si, true)
	if err != nil || msg != "" {
		t.Fatalf("reachable pair: %q, %v", msg, err)
	}
	// Without the password in the subscription the target must log in on
	// its own: it has no password file, so the source refuses it.
	msg, auth, err := TargetReachesSource(ctx, di, si, false)
	if err != nil || !auth || msg == "" {
		t.Fatalf("target without a password file: %q auth=%v, %v", msg, auth, err)
	}
	if strings.Contains(msg, src.Password()) {
		t.Fatalf("the complaint shows the password: %q", msg)
	}
	// A target whose server has a password file for the source logs in.
	withFile := pgtest.Start(t, pgtest.WithServerPassfile(fmt.Sprintf("127.0.0.1:%d:*:%s:%s", src.Port(), src.User(), src.Password())))
	wi, _ := ParseURL(withFile.URL("postgres"))
	noPw, _ := ParseURL(src.URLWithoutPassword("postgres"))
	if msg, auth, err := TargetReachesSource(ctx, wi, noPw, false); err != nil || auth || msg != "" {
		t.Fatalf("target with a password file: %q auth=%v, %v", msg, auth, err)
	}
	if n := dst.QueryInt(t, "postgres", "SELECT count(*) FROM pg_subscription"); n != 0 {
		t.Fatalf("the check left %d subscription(s)", n)
	}

	// Nothing listens there: the target's complaint.
	gone, _ := ParseURL(strings.Replace(src.URL("postgres"), fmt.Sprintf(":%d/", src.Port()), ":1/", 1))
	msg, _, err = TargetReachesSource(ctx, di, gone, true)
	if err != nil || !strings.Contains(msg, "could not connect to the publisher") {
		t.Fatalf("unreachable source: %q, %v", msg, err)
	}

	// A wrong password is not the target's to find out (this machine's
	// own connections do): the source asked for one, so it was reached.
	u, _ := url.Parse(src.URL("postgres"))
	u.User = url.UserPassword("no_such_role", "no-such-secret-pw")
	noRole, _ := ParseURL(u.String())
	if msg, _, err := TargetReachesSource(ctx, di, noRole, true); err != nil || msg != "" {
		// The source asks for a password before it tells roles apart.
		t.Fatalf("unknown role: %q, %v", msg, err)
	}

	// The source's password never reaches the target: not in its log
	// (log_statement = 'all'), not in its catalogs.
	log, err := os.ReadFile(dst.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{src.Password(), "no-such-secret-pw"} {
		if strings.Contains(string(log), pw) {
			t.Fatalf("the target's server log holds the source password %q", pw)
		}
	}
	if !strings.Contains(string(log), "replicator_reach_check") {
		t.Fatal("the target's log does not show the check: log_statement = 'all' did not apply")
	}
}
