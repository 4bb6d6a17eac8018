package pgtool

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
)

// fakeTool writes a shell script that records its argv (from
// /proc/self/cmdline of the running child), PGPASSFILE, the file's mode
// and content into out, then runs extra.
func fakeTool(t *testing.T, out, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake-tool")
	script := `#!/bin/sh
tr '\0' ' ' < /proc/$$/cmdline > ` + out + `.argv
echo "$PGPASSFILE" > ` + out + `.passfile
stat -L -c %a "$PGPASSFILE" > ` + out + `.mode
cat "$PGPASSFILE" > ` + out + `.content
env | grep '^PG' > ` + out + `.env
` + extra + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestSchemaDumpToolPassesCredentialsOnlyThroughPassFile(t *testing.T) {
	const pw = "s3cr:et\\pw"
	info, err := conninfo.ParseURL("postgres://alice:s3cr%3Aet%5Cpw@db.example:6543/app?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "rec")
	passDir := t.TempDir()
	tool := fakeTool(t, out, `ls -A `+passDir+` > `+out+`.dir; echo "stdout-data"; echo "oops password $PW" >&2`)
	var stdout bytes.Buffer
	err = Run(context.Background(), Command{Path: tool, Name: "fake", Info: info, Args: []string{"--schema-only"}, Stdout: &stdout, PassDir: passDir})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	argv := readFile(t, out+".argv")
	if strings.Contains(argv, "s3cr") || strings.Contains(argv, "password") {
		t.Errorf("argv holds the password: %q", argv)
	}
	if !strings.Contains(argv, "--dbname=host=") || !strings.Contains(argv, "--schema-only") {
		t.Errorf("argv = %q, want --schema-only and --dbname=<conninfo>", argv)
	}
	if got := readFile(t, out+".mode"); got != "600" {
		t.Errorf("pass file mode = %s, want 600", got)
	}
	if got := readFile(t, out+".content"); got != `db.example:6543:*:alice:s3cr\:et\\pw` {
		t.Errorf("pass file = %q", got)
	}
	// On Linux the file has no name: the child reads the descriptor it
	// inherited, and the directory stays empty throughout.
	if pf := readFile(t, out+".passfile"); pf != "/dev/fd/3" {
		t.Errorf("PGPASSFILE = %s, want /dev/fd/3", pf)
	}
	if got := readFile(t, out+".dir"); got != "" {
		t.Errorf("%s held %q while the tool ran", passDir, got)
	}
	if left, _ := os.ReadDir(passDir); len(left) > 0 {
		t.Errorf("%s holds %v after the run", passDir, left)
	}
	if env := readFile(t, out+".env"); strings.Contains(env, "PGPASSWORD") || strings.Contains(env, pw) {
		t.Errorf("child environment holds the password: %q", env)
	}
	if got := strings.TrimSpace(stdout.String()); got != "stdout-data" {
		t.Errorf("stdout = %q", got)
	}
}

func TestSchemaDumpToolErrorsAreRedacted(t *testing.T) {
	info, err := conninfo.ParseURL("postgres://alice:hunter2pw@db.example:6543/app")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "rec")
	tool := fakeTool(t, out, `echo "FATAL: password hunter2pw rejected; ALTER ROLE x PASSWORD 'SCRAM-SHA-256\$4096:abc'" >&2; exit 3`)
	err = Run(context.Background(), Command{Path: tool, Name: "fake", Info: info, PassDir: t.TempDir()})
	if err == nil {
		t.Fatal("want an error")
	}
	msg := err.Error()
	if strings.Contains(msg, "hunter2pw") || strings.Contains(msg, "SCRAM-SHA-256") {
		t.Errorf("error leaks a secret: %s", msg)
	}
	if !strings.Contains(msg, "FATAL") || !strings.Contains(msg, "exit status 3") {
		t.Errorf("error lacks the tool's message: %s", msg)
	}
}

func TestSchemaDumpToolCancelRemovesPassFile(t *testing.T) {
	info, err := conninfo.ParseURL("postgres://alice:pw123@db.example/app")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "rec")
	passDir := t.TempDir()
	tool := fakeTool(t, out, `touch `+out+`.started; exec sleep 60`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Command{Path: tool, Name: "fake", Info: info, PassDir: passDir}) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(out + ".started"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("tool did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Errorf("err = %v, want context canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("runTool did not return after cancel")
	}
	if left, _ := filepath.Glob(filepath.Join(passDir, "*")); len(left) > 0 {
		t.Errorf("pass file left behind: %v", left)
	}
}

func TestSchemaDumpToolArgvHasNoPassword(t *testing.T) {
	info, err := conninfo.ParseURL("host=h user=u password='p w' dbname=d application_name=x")
	if err != nil {
		t.Fatal(err)
	}
	argv := Command{Info: info, Args: []string{"--globals-only"}}.argv()
	for _, a := range argv {
		if strings.Contains(a, "p w") || strings.Contains(a, "password") {
			t.Errorf("argv %q holds the password", argv)
		}
	}
}

func TestSchemaParseToolMajor(t *testing.T) {
	for in, want := range map[string]int{
		"pg_dump (PostgreSQL) 15.4 (Debian 15.4-1.pgdg120+1)\n": 1500,
		"pg_dump (PostgreSQL) 9.6.24\n":                         906,
		"pg_dumpall (PostgreSQL) 17beta1\n":                     1700,
	} {
		got, err := parseToolMajor(in)
		if err != nil || got != want {
			t.Errorf("parseToolMajor(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if majorVersion(150004) != 1500 || majorVersion(90624) != 906 {
		t.Error("majorVersion")
	}
}
