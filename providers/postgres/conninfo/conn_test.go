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

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:s3cret@h:5432/db":                            "postgres://u:xxxxx@h:5432/db",
		"postgresql://u:p%40ss@h/db?sslmode=require":               "postgresql://u:xxxxx@h/db?sslmode=require",
		"postgres://u@h/db?password=s3cret&sslmode=disable":        "postgres://u@h/db?password=xxxxx&sslmode=disable",
		"postgres://u:s3cret@h1:5432,h2:5433/db":                   "postgres://u:xxxxx@h1:5432,h2:5433/db",
		"host=h user=u password=s3cret dbname=db":                  "host=h user=u password=xxxxx dbname=db",
		`host=h password = 'with space\' quote' dbname=db`:         "host=h password=xxxxx dbname=db",
		"postgres://u@h/db":                                        "postgres://u@h/db",
		"postgres://u:pa/ss@host/db":                               "postgres://u:xxxxx@host/db",
		"postgres://u:p@ss@host/db":                                "postgres://u:xxxxx@host/db",
		"not a url postgres://u:s3cret@h and password=s3cret":      "not a url postgres://u:xxxxx@h and password=xxxxx",
		"garbage password='unterminated secret":                    "garbage password=xxxxx",
		"":                                                         "",
		"postgres://u:s3cret@[::1]:5432/db?application_name=a%20b": "postgres://u:xxxxx@[::1]:5432/db?application_name=a%20b",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRedactText covers free text: several URLs, SQL-quoted libpq
// values, JSON members, unencoded '@' and spaces in a URL password.
func TestRedactText(t *testing.T) {
	for in, want := range map[string]string{
		"copied from postgres://u:s3cret@src/db to postgres://u:other@dst/db":   "copied from postgres://u:xxxxx@src/db to postgres://u:xxxxx@dst/db",
		"CONNECTION 'host=src password=''s3 cr\\''et'' dbname=d' PUBLICATION p": "CONNECTION 'host=src password=xxxxx dbname=d' PUBLICATION p",
		`{"host": "src", "sslPassword": "s3\"cret"}`:                            `{"host": "src", "sslPassword": "xxxxx"}`,
		"dial postgres://u:p@ss@host/db: refused":                               "dial postgres://u:xxxxx@host/db: refused",
		"dial postgres://u:with space@host/db: refused":                         "dial postgres://u:xxxxx@host/db: refused",
		"PGPASSWORD=s3cret pg_dump":                                             "PGPASSWORD=xxxxx pg_dump",
		"region = 'eu' AND password_hint IS NULL":                               "region = 'eu' AND password_hint IS NULL",
	} {
		if got := RedactText(in); got != want {
			t.Errorf("RedactText(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRedactURL checks that RedactURL never panics, that a password in a
// parseable URL never survives it (the output does not depend on the
// password at all), and that ParseURL decodes the password exactly once.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"postgres://u:s3cret@h:5432/db", "host=h password=s3cret", "postgres://u@h/db?password=abc", "%", "postgres://:@/", "db", "a b"} {
		f.Add(s, "s3cretpw")
	}
	f.Fuzz(func(t *testing.T, s, pw string) {
		out := RedactURL(s)
		if cs, err := parseConnString(s); err == nil && plausible(cs, s) {
			if p := cs.values["password"]; p != "" {
				again, err := parseConnString(out)
				if err != nil || again.values["password"] != Mask {
					t.Fatalf("RedactURL(%q) = %q: does not parse back with a redacted password (%v)", s, out, err)
				}
			}
		}
		// A URL built from parts: the output must not depend on the password.
		u1 := "postgres://user:" + escapeURL(pw) + "@host:5432/" + escapeURL(s) + "?application_name=" + escapeURL(s)
		u2 := "postgres://user:" + escapeURL("other-password") + "@host:5432/" + escapeURL(s) + "?application_name=" + escapeURL(s)
		kv1 := "host=h password=" + quoteKV(pw) + " dbname=" + quoteKV(s)
		kv2 := "host=h password=" + quoteKV("other-password") + " dbname=" + quoteKV(s)
		for _, pair := range [][2]string{{u1, u2}, {kv1, kv2}} {
			r1, r2 := RedactURL(pair[0]), RedactURL(pair[1])
			if _, err := parseConnString(pair[0]); err == nil && pw != "" && r1 != r2 {
				t.Fatalf("redaction depends on the password: %q vs %q", r1, r2)
			}
			// Unparseable (a NUL byte): masked by pattern, still no password.
			for _, x := range []string{pw, escapeURL(pw)} {
				if len(pw) >= 4 && strings.Contains(r1, x) && !strings.Contains(r2, x) {
					t.Fatalf("password %q survives in %q", pw, r1)
				}
			}
		}
		if strings.ContainsRune(pw, 0) || strings.ContainsRune(s, 0) || pw == "" {
			return
		}
		cs, err := parseConnString(u1)
		if err != nil {
			t.Fatalf("parse %q: %v", u1, err)
		}
		if cs.values["password"] != pw {
			t.Fatalf("password %q decoded as %q", pw, cs.values["password"])
		}
	})
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
			t.Errorf("Connect(%s) error = %v, want %s containing %q", RedactURL(tc.url), err, tc.kind, tc.want)
			continue
		}
		t.Logf("%s: %v", tc.kind, err)
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), pgtest.DefaultPassword) {
			t.Errorf("error leaks the password: %v", err)
		}
	}
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
