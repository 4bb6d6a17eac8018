package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// realworldDir returns the folder of the public sample databases:
// $REPLICATOR_REALWORLD_DIR, else ../shared/realworld next to the
// project; "" when absent (a user's clone has no ../shared).
func realworldDir() string {
	if d := os.Getenv("REPLICATOR_REALWORLD_DIR"); d != "" {
		return d
	}
	d, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "realworld"))
	if err != nil {
		return ""
	}
	if _, err := os.Stat(filepath.Join(d, "pagila-schema.sql.gz")); err != nil {
		return ""
	}
	return d
}

// TestRealWorld runs testdata/realworld/*.txtar: public sample databases
// nobody here wrote (pagila, chinook, northwind, booktown; see
// ../shared/realworld/README.md) loaded on a real source and replicated
// end to end. The command `loadsample source NAME` loads one.
func TestRealWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("the sample databases need real servers")
	}
	dir := realworldDir()
	if dir == "" {
		t.Skip("realworld: ../shared/realworld (the public sample databases pagila, chinook, northwind, booktown) is absent, as in a clone of the project on its own; set REPLICATOR_REALWORLD_DIR to its path to run these tests")
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/realworld",
		Setup: func(env *testscript.Env) error {
			tb := env.T().(testing.TB)
			src := pgtest.Start(tb)
			dst := pgtest.Start(tb)
			env.Values["source"] = src
			env.Values["target"] = dst
			env.Values["tb"] = tb
			env.Values["realworld"] = dir
			env.Setenv("NO_COLOR", "1")
			env.Setenv("SOURCE_URL", src.URL("postgres"))
			env.Setenv("TARGET_URL", dst.URL("postgres"))
			env.Setenv("SOURCE_PASSWORD", src.Password())
			env.Setenv("SOURCE_PORT", fmt.Sprint(src.Port()))
			env.Setenv("PGBIN", src.BinDir())
			env.Setenv("HOME", filepath.Join(env.WorkDir, "home"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"sql":        sqlCmd,
			"query":      queryCmd,
			"waitfor":    waitForCmd,
			"converge":   convergeCmd,
			"loadsample": loadSampleCmd,
		},
	})
}

// samples maps a sample's name to its files (concatenated, in order), the
// database psql starts in, the database to create first ("" when the
// script creates its own), and the role psql runs as ("" for the
// superuser), as the README's loading commands do.
var samples = map[string]struct {
	files           []string
	connect, create string
	role            string
}{
	"pagila":    {[]string{"pagila-schema.sql.gz", "pagila-data.sql.gz"}, "pagila", "pagila", ""},
	"chinook":   {[]string{"Chinook_PostgreSql_AutoIncrementPKs.sql.gz"}, "postgres", "", ""},
	"northwind": {[]string{"northwind.sql.gz"}, "northwind", "northwind", ""},
	"booktown":  {[]string{"booktown.sql.gz"}, "postgres", "", "jharris"},
}

// loadSampleCmd implements `loadsample source|target NAME`: it loads a
// sample database with psql -v ON_ERROR_STOP=1.
func loadSampleCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: loadsample source|target pagila|chinook|northwind|booktown")
	}
	c, ok := ts.Value(args[0]).(*pgtest.Cluster)
	if !ok {
		ts.Fatalf("loadsample: unknown server %q", args[0])
	}
	s, ok := samples[args[1]]
	if !ok {
		ts.Fatalf("loadsample: unknown sample %q", args[1])
	}
	tb := ts.Value("tb").(testing.TB)
	dir := ts.Value("realworld").(string)
	if s.create != "" {
		c.CreateDatabase(tb, s.create)
	}
	user := c.User()
	if s.role != "" {
		c.Exec(tb, "postgres", fmt.Sprintf("CREATE ROLE %s LOGIN CREATEDB", s.role))
		user = s.role
	}
	pr, pw := io.Pipe()
	go func() {
		for _, f := range s.files {
			if err := gunzipTo(pw, filepath.Join(dir, f)); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.Close()
	}()
	cmd := exec.Command(filepath.Join(c.BinDir(), "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", c.SocketDir(), "-p", fmt.Sprint(c.Port()), "-U", user, "-d", s.connect)
	cmd.Stdin = pr
	out, err := cmd.CombinedOutput()
	if err != nil {
		ts.Fatalf("loadsample %s: psql: %v\n%s", args[1], err, lastBytes(string(out), 2000))
	}
}

// gunzipTo writes the decompressed content of a .gz file to w.
func gunzipTo(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	_, err = io.Copy(w, zr)
	return err
}

// lastBytes returns the last n bytes of s.
func lastBytes(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}
