package postgres

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:s3cret@h:5432/db":                       "postgres://u:xxxxx@h:5432/db",
		"postgresql://u:p%40ss@h/db?sslmode=require":          "postgresql://u:xxxxx@h/db?sslmode=require",
		"postgres://u@h/db?password=s3cret&sslmode=disable":   "postgres://u@h/db?password=xxxxx&sslmode=disable",
		"host=h user=u password=s3cret dbname=db":             "host=h user=u password=xxxxx dbname=db",
		"host=h password = 'with space\\' quote' dbname=db":   "host=h password = xxxxx dbname=db",
		"postgres://u@h/db":                                   "postgres://u@h/db",
		"not a url postgres://u:s3cret@h and password=s3cret": "not a url postgres://u:xxxxx@h and password=xxxxx",
	} {
		got := RedactURL(in)
		if got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"postgres://u:s3cret@h:5432/db", "host=h password=s3cret", "postgres://u@h/db?password=abc", "%", "postgres://:@/"} {
		f.Add(s, "s3cretpw")
	}
	f.Fuzz(func(t *testing.T, s, pw string) {
		_ = RedactURL(s)
		if len(pw) < 4 || strings.ContainsAny(pw, "@/?#%: \t\n'\\&=") {
			return
		}
		u := "postgres://user:" + pw + "@host:5432/" + s
		if strings.Contains("postgres://user:xxxxx@host:5432/"+s, pw) {
			return // the password text also appears elsewhere in the URL
		}
		info, err := ParseURL(u)
		if err != nil || info.Password() != pw {
			return
		}
		if out := RedactURL(u); strings.Contains(out, pw) {
			t.Fatalf("password %q survives in %q", pw, out)
		}
	})
}

func TestParseURLDecodesOnce(t *testing.T) {
	info, err := ParseURL("postgres://alice:p%40ss%3Aw@db.internal:6543/app?sslmode=require")
	if err != nil {
		t.Fatal(err)
	}
	if info.Password() != "p@ss:w" || info.User() != "alice" || info.Host() != "db.internal" || info.Port() != 6543 || info.Database() != "app" {
		t.Fatalf("parsed %s as user %q password %q host %q port %d db %q", info, info.User(), info.Password(), info.Host(), info.Port(), info.Database())
	}
	other := info.WithDatabase("Other DB")
	if other.Database() != "Other DB" || other.Password() != "p@ss:w" {
		t.Fatalf("WithDatabase: db %q password %q", other.Database(), other.Password())
	}
	if strings.Contains(other.Redacted(), "p%40ss") || strings.Contains(other.Redacted(), "p@ss") {
		t.Fatalf("Redacted leaks: %s", other.Redacted())
	}
	kv, err := ParseURL("host=h user=u password=secret dbname=a")
	if err != nil {
		t.Fatal(err)
	}
	if got := kv.WithDatabase("b").Database(); got != "b" {
		t.Fatalf("key=value WithDatabase = %q", got)
	}
	if _, err := ParseURL("postgres://u:secret@h:notaport/db"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("bad port: %v", err)
	}
}

func TestConnectErrors(t *testing.T) {
	c := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	info, err := ParseURL(c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := Connect(ctx, info)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	conn.Close(ctx)

	cases := map[string]string{
		strings.Replace(c.URL("postgres"), pgtest.DefaultPassword, "wrong-secret", 1): "authentication failed",
		c.URL("no_such_db"): `database "no_such_db" does not exist`,
		"postgres://postgres:wrong-secret@127.0.0.1:1/postgres?sslmode=disable": "connection refused",
		"postgres://postgres:wrong-secret@no-such-host.invalid:5432/postgres":   "does not resolve",
	}
	for url, want := range cases {
		info, err := ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Connect(ctx, info)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Connect(%s) error = %v, want containing %q", RedactURL(url), err, want)
		}
		if err != nil && strings.Contains(err.Error(), "wrong-secret") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

func TestPercentEncodedPasswordConnects(t *testing.T) {
	c := pgtest.Start(t)
	c.CreateRole(t, "alice", "p@ss:w/rd")
	info, err := ParseURL("postgres://alice:p%40ss%3Aw%2Frd@127.0.0.1:" + strconv.Itoa(c.Port()) + "/postgres?sslmode=disable")
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

func TestChildToolGetsPasswordFromPassFile(t *testing.T) {
	c := pgtest.Start(t)
	c.CreateRole(t, "bob", `we:ird\pass`)
	info, err := ParseURL("postgres://bob:we%3Aird%5Cpass@127.0.0.1:" + strconv.Itoa(c.Port()) + "/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path, cleanup, err := WritePassFile(dir, PassEntryFor(info))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("pass file mode %v, want 0600", st.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `we\:ird\\pass`) {
		t.Fatalf("pass file not escaped: %q", b)
	}
	connStr := ChildConnString(info)
	if strings.Contains(connStr, "ird") {
		t.Fatalf("child connection string carries the password: %s", connStr)
	}
	cmd := exec.Command(filepath.Join(c.BinDir(), "psql"), "-X", "-A", "-t", "-d", connStr, "-c", "select current_user")
	cmd.Env = ChildEnv(append(os.Environ(), "PGPASSWORD=wrong"), path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql with pass file: %v\n%s", err, out)
	}
	if strings.TrimSpace(string(out)) != "bob" {
		t.Fatalf("psql printed %q", out)
	}
	for _, a := range cmd.Args {
		if strings.Contains(a, "ird") {
			t.Fatalf("password in argv: %q", cmd.Args)
		}
	}
	if err := cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("pass file not removed")
	}
}
