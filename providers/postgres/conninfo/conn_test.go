package conninfo

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/connstr"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

func TestParseURLDecodesOnce(t *testing.T) {
	info, err := ParseURL("postgres://alice:p%40ss%3Aw@db.internal:6543/app?sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	if info.Password() != "p@ss:w" || info.User() != "alice" || info.Host() != "db.internal" || info.Port() != 6543 || info.Database() != "app" || info.SSLMode() != "require" {
		t.Fatalf("parsed %s as user %q password %q host %q port %d db %q", info, info.User(), info.Password(), info.Host(), info.Port(), info.Database())
	}
	other := info.WithDatabase("Other DB")
	if other.Database() != "Other DB" || other.Password() != "p@ss:w" || info.Database() != "app" {
		t.Fatalf("WithDatabase: db %q password %q (original now %q)", other.Database(), other.Password(), info.Database())
	}
	if got, want := other.Redacted(), "postgres://alice:xxxxx@db.internal:6543/Other%20DB?sslmode=require"; got != want {
		t.Fatalf("Redacted = %s, want %s", got, want)
	}
	kv, err := ParseURL(`host=h user=u password='it''s\' dbname=a`)
	if err == nil {
		t.Fatalf("unbalanced quote accepted: %s", kv)
	}
	kv, err = ParseURL(`host=h user=u password='it\'s a secret' dbname=a`)
	if err != nil {
		t.Fatal(err)
	}
	if kv.Password() != "it's a secret" || kv.WithDatabase("b").Database() != "b" {
		t.Fatalf("key=value: password %q", kv.Password())
	}
	if got := kv.WithDatabase("b").Redacted(); got != "host=h user=u password=xxxxx dbname=b" {
		t.Fatalf("key=value Redacted = %s", got)
	}
	for _, bad := range []string{"postgres://u:secret@h:notaport/db", "postgres://u:secret%zz@h/db", "host=h password=secret sslmode=bogus", "mysql://u:secret@h/db"} {
		_, err := ParseURL(bad)
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL(%q) error = %v", bad, err)
		}
	}
}

func TestConnectErrors(t *testing.T) {
	c := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	info, err := ParseURL(c.URL("postgres") + "&keepalives=1&keepalives_idle=5&application_name=replicator-test")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := Connect(ctx, info)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	var app string
	if err := conn.QueryRow(ctx, "SELECT current_setting('application_name')").Scan(&app); err != nil || app != "replicator-test" {
		t.Fatalf("application_name %q, %v", app, err)
	}
	conn.Close(ctx)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	const secret = "wrong-s3cret-pw"
	wrong := strings.Replace(c.URL("postgres"), ":"+pgtest.DefaultPassword+"@", ":"+secret+"@", 1)
	port := strconv.Itoa(c.Port())
	cases := []struct {
		url  string
		kind ConnectFailure
		want string
	}{
		{wrong, FailureAuth, `connect to 127.0.0.1:` + port + `: password authentication failed for user "postgres": check the user name and password`},
		{c.URL("no_such_db"), FailureNoDatabase, `connect to 127.0.0.1:` + port + `: database "no_such_db" does not exist: create it`},
		{"postgres://postgres:" + secret + "@127.0.0.1:" + strconv.Itoa(closed) + "/postgres?sslmode=disable",
			FailureRefused, "connect to 127.0.0.1:" + strconv.Itoa(closed) + ": connection refused: is PostgreSQL running and listening on that host and port?"},
		{"postgres://postgres:" + secret + "@no-such-host.invalid:5432/postgres?connect_timeout=5", FailureDNS, `cannot resolve host name "no-such-host.invalid"`},
		{strings.Replace(c.URL("postgres"), "sslmode=disable", "sslmode=require", 1), FailureTLS, "TLS failed"},
		{"host=" + filepath.Join(t.TempDir(), "nowhere") + " user=postgres password=" + secret, FailureRefused, "no server socket"},
	}
	for _, tc := range cases {
		info, err := ParseURL(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Connect(ctx, info)
		var ce *ConnectError
		if !errors.As(err, &ce) || ce.Kind != tc.kind || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Connect(%s) error = %v, want %s containing %q", connstr.RedactURL(tc.url), err, tc.kind, tc.want)
			continue
		}
		t.Logf("%s: %v", tc.kind, err)
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), pgtest.DefaultPassword) {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

// TestServerErrorDuringPreferIsNotTLS: with sslmode=prefer the driver
// tries TLS first (the test servers refuse it) and then plain text; the
// server's answer to the plain attempt is the error to report, not TLS.
func TestServerErrorDuringPreferIsNotTLS(t *testing.T) {
	c := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prefer := strings.Replace(c.URL("postgres"), "sslmode=disable", "sslmode=prefer", 1)
	check := func(url string, kind ConnectFailure, want ...string) {
		t.Helper()
		info, err := ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := Connect(ctx, info)
		if err == nil {
			conn.Close(ctx)
			t.Fatalf("Connect(%s) succeeded", connstr.RedactURL(url))
		}
		var ce *ConnectError
		if !errors.As(err, &ce) || ce.Kind != kind || strings.Contains(err.Error(), "TLS") || strings.Contains(err.Error(), "sslmode") {
			t.Fatalf("Connect(%s) error = %v (kind %v), want %s without TLS", connstr.RedactURL(url), err, ce, kind)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("Connect(%s) error = %v, want it to contain %q", connstr.RedactURL(url), err, w)
			}
		}
		t.Logf("%s: %v", kind, err)
	}
	check(prefer+"&foo=bar", FailureServer, `unrecognized configuration parameter "foo"`, "42704", "not a libpq keyword")
	check(strings.Replace(prefer, ":"+c.Password()+"@", ":not-the-password@", 1), FailureAuth, "password authentication failed")

	// A smart shutdown keeps this session and refuses new ones.
	held := c.Connect(t, "postgres")
	c.BeginSmartShutdown(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, _ := ParseURL(prefer)
		conn, err := Connect(ctx, info)
		if err != nil {
			break
		}
		conn.Close(ctx)
		if time.Now().After(deadline) {
			t.Fatal("the server still accepts connections 10s after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	check(prefer, FailureServer, "the database system is shutting down", "57P03", "retry once it accepts connections")
	_ = held
}

func TestPercentEncodedPasswordConnects(t *testing.T) {
	c := pgtest.Start(t)
	c.CreateRole(t, "alice", "p@ss:w/rd %")
	info, err := ParseURL("postgres://alice:p%40ss%3Aw%2Frd%20%25@127.0.0.1:" + strconv.Itoa(c.Port()) + "/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := Connect(ctx, info)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	conn.Close(ctx)
}

func TestWritePassFile(t *testing.T) {
	dir := t.TempDir()
	path, cleanup, err := WritePassFile(dir, PassEntry{Host: "h", Port: "5432", User: `u:1`, Password: `p:a\ss`})
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("pass file %v mode %v", err, st.Mode())
	}
	b, _ := os.ReadFile(path)
	if string(b) != `h:5432:*:u\:1:p\:a\\ss`+"\n" {
		t.Fatalf("pass file = %q", b)
	}
	path2, cleanup2, err := WritePassFile(dir)
	if err != nil || path2 == path {
		t.Fatalf("second pass file %s: %v", path2, err)
	}
	for _, c := range []func() error{cleanup, cleanup2, cleanup} {
		if err := c(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("pass file not removed")
	}
	if _, _, err := WritePassFile(dir, PassEntry{Password: "a\nb"}); err == nil {
		t.Fatal("line break accepted")
	}
}

func TestChildToolGetsPasswordFromPassFile(t *testing.T) {
	c := pgtest.Start(t)
	c.CreateRole(t, "bob", `we:ird\pass`)
	c.Exec(t, "postgres", "CREATE SCHEMA app")
	info, err := ParseURL("postgres://bob:we%3Aird%5Cpass@127.0.0.1:" + strconv.Itoa(c.Port()) + "/postgres?sslmode=disable&search_path=app")
	if err != nil {
		t.Fatal(err)
	}
	path, cleanup, err := WritePassFile(t.TempDir(), PassEntries(info)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `we\:ird\\pass`) {
		t.Fatalf("pass file not escaped: %q", b)
	}
	connStr := ChildConnString(info)
	if strings.Contains(connStr, "ird") || !strings.Contains(connStr, "keepalives=1 keepalives_idle=30 keepalives_interval=10 keepalives_count=6") {
		t.Fatalf("child connection string: %s", connStr)
	}
	t.Setenv("PGPASSWORD", "wrong") // must not reach the child
	cmd := exec.Command(filepath.Join(c.BinDir(), "psql"), "-X", "-A", "-t", "-d", connStr, "-c", "select current_user || ' ' || current_setting('search_path')")
	cmd.Env = ChildEnv(info, path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql with pass file: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "bob app" {
		t.Fatalf("psql printed %q", got)
	}
	for _, a := range cmd.Args {
		if strings.Contains(a, "ird") {
			t.Fatalf("password in argv: %q", cmd.Args)
		}
	}
	for _, e := range cmd.Env {
		if strings.HasPrefix(e, "PGPASSWORD=") || strings.Contains(e, "ird") {
			t.Fatalf("password in the child's environment: %q", e)
		}
	}
}

// TestChildEnvDropsSecrets checks that a child tool inherits neither PG*
// variables nor the configuration's REPLICATOR_VAR_* values.
func TestChildEnvDropsSecrets(t *testing.T) {
	t.Setenv("PGPASSWORD", "env-secret")
	t.Setenv("REPLICATOR_VAR_source_url", "postgres://u:var-secret@h/db")
	t.Setenv("replicator_var_other", "lower-secret")
	t.Setenv("KEEP_ME", "yes")
	info, err := ParseURL("postgres://u:url-secret@127.0.0.1:5432/db")
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(ChildEnv(info, "/tmp/x.pgpass"), "\n")
	for _, secret := range []string{"env-secret", "var-secret", "lower-secret", "url-secret"} {
		if strings.Contains(env, secret) {
			t.Errorf("child environment holds %q:\n%s", secret, env)
		}
	}
	for _, want := range []string{"KEEP_ME=yes", "PGPASSFILE=/tmp/x.pgpass", "PGUSER=u"} {
		if !strings.Contains(env, want) {
			t.Errorf("child environment lacks %s:\n%s", want, env)
		}
	}
}

// TestUnencodedAtIsNotEchoed checks that a password with an unencoded @
// is refused without showing any part of it.
func TestUnencodedAtIsNotEchoed(t *testing.T) {
	for _, u := range []string{
		"postgres://alice:p@ss-SECRET@127.0.0.1:5432/db",
		"postgresql://alice:p@SECRET@ss@db.example/db?sslmode=disable&password=OTHERSECRET",
	} {
		_, err := ParseURL(u)
		if err == nil {
			t.Fatalf("%s: accepted", u)
		}
		msg := err.Error()
		if strings.Contains(msg, "SECRET") || strings.Contains(msg, "alice") {
			t.Errorf("%s: message shows the credentials: %s", u, msg)
		}
		if !strings.Contains(msg, "%40") {
			t.Errorf("%s: message %q does not say how to fix it", u, msg)
		}
	}
	if _, err := ParseURL("postgres://alice:p%40ss@127.0.0.1:5432/db"); err != nil {
		t.Fatalf("encoded @: %v", err)
	}
}
