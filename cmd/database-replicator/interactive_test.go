package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/picker"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// pickerSource fills a source with three databases to choose from: alpha
// (events, items, and logs without a primary key), beta and gamma.
func pickerSource(t *testing.T) *pgtest.Cluster {
	t.Helper()
	src := pgtest.Start(t)
	for _, db := range []string{"alpha", "beta", "gamma"} {
		src.CreateDatabase(t, db)
	}
	src.Exec(t, "alpha", `CREATE TABLE events (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
		CREATE TABLE items (id int PRIMARY KEY, name text);
		CREATE TABLE logs (at timestamptz, line text);
		INSERT INTO events SELECT g FROM generate_series(1, 50) g;
		INSERT INTO items SELECT g, 'i' || g FROM generate_series(1, 300) g;
		INSERT INTO logs SELECT now(), 'l' FROM generate_series(1, 30) g;
		ANALYZE`)
	src.Exec(t, "beta", `CREATE TABLE b (id int PRIMARY KEY)`)
	src.Exec(t, "gamma", `CREATE TABLE g (id int PRIMARY KEY); INSERT INTO g SELECT generate_series(1, 10); ANALYZE`)
	return src
}

// queryOne returns the single value of sql in database db of c, as text.
func queryOne(t *testing.T, c *pgtest.Cluster, db, sql string) string {
	t.Helper()
	var v string
	if err := c.Connect(t, db).QueryRow(context.Background(), sql).Scan(&v); err != nil {
		t.Fatalf("%s in %s: %v", sql, db, err)
	}
	return v
}

// pickedHCL is the file the interactive run of TestInteractiveInit writes.
const pickedHCL = pickedHeader + `variable "source_url" {
  description = "` + picker.SourceURLDescription + `"
  sensitive   = true
}

variable "target_url" {
  description = "` + picker.TargetURLDescription + `"
  sensitive   = true
}

source "source" {
  url = var.source_url
}

target "target" {
  url = var.target_url
}

replication "main" {
  source         = source.source
  target         = target.target
  databases      = ["alpha", "gamma"]
  exclude_tables = ["alpha.public.events"]
  schema_only    = ["alpha.public.logs"]

  table "alpha.public.items" {
    where = "id <= 100"
  }
}
`

// TestInteractiveInit drives init's interactive setup in a real
// terminal: two of three databases, one table left out, one copied as
// structure only, a row filter typed in, the detected method kept,
// confirmed. The file holds exactly those choices and no URL, plan (run
// while init waits for its own question) shows them, and init goes on
// with the file: the target holds what was chosen.
func TestInteractiveInit(t *testing.T) {
	src := pickerSource(t)
	dst := pgtest.Start(t)
	dir := t.TempDir()
	env := ptyEnv(t, dir)
	s := startPTY(t, dir, env, "init", "--source", src.URL("postgres"), "--target", dst.URL("postgres"))

	s.waitFor("Databases to replicate")
	s.waitFor("postgres  (") // every option is drawn
	s.send(" ")
	s.waitFor("[•] alpha")
	s.send(keyDown + keyDown + " ")
	s.waitFor("[•] gamma")
	s.send(keyEnter)
	s.waitFor("✓ Databases: alpha, gamma")

	s.waitFor("Tables of alpha to leave out")
	s.waitFor("public.logs  (")
	s.send(" ")
	s.waitFor("[•] public.events")
	s.send(keyEnter)
	s.waitFor("Tables of gamma to leave out")
	s.send(keyEnter)
	s.waitFor("✓ Left out: alpha.public.events")

	s.waitFor("Tables of alpha to copy as structure only")
	s.waitFor("public.logs  (")
	s.send(keyDown + " ")
	s.waitFor("[•] public.logs")
	s.send(keyEnter)
	s.waitFor("Tables of gamma to copy as structure only")
	s.send(keyEnter)
	s.waitFor("✓ Structure only: alpha.public.logs")

	s.waitFor("Tables to copy only some rows of")
	s.waitFor("gamma.public.g  (")
	s.send(" ")
	s.waitFor("[•] alpha.public.items")
	s.send(keyEnter)
	s.waitFor("How to choose the rows of alpha.public.items")
	s.send(keyEnter)
	s.waitFor("Copy the rows of alpha.public.items where (a SQL condition)")
	s.send("id <= 100")
	s.waitFor("id <= 100")
	s.send(keyEnter)
	s.waitFor("✓ Row filters: alpha.public.items where id <= 100")

	s.waitFor("Sync method after the snapshot")
	s.waitFor("Source has wal_level=logical")
	s.send(keyEnter)
	s.waitFor("✓ Sync method: logical")

	// No question about primary keys: logs, the table without one, is
	// copied as structure only and not published.
	s.waitFor("Summary")
	s.waitFor("alpha: ")
	s.waitFor("some rows     public.items: where id <= 100")
	s.waitFor("schema only   public.logs")
	s.waitFor("left out      public.events")
	s.waitFor("gamma: 8192 bytes to copy")
	s.waitFor("copy          1 table with every row")
	s.waitFor("Sync method: logical")
	s.waitFor("Write replication.hcl and go on with init")
	if _, err := os.Stat(filepath.Join(dir, "replication.hcl")); err == nil {
		t.Fatal("replication.hcl written before the confirmation")
	}
	s.send("y")
	s.waitFor("Wrote replication.hcl.")
	s.waitFor("Proceed with replication? [y/N]")

	written, err := os.ReadFile(filepath.Join(dir, "replication.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if string(written) != pickedHCL {
		t.Fatalf("replication.hcl:\n%s\nwant:\n%s", written, pickedHCL)
	}

	// plan reads the file, with the URLs from the variables it declares.
	plan := exec.Command(buildBinary(t), "plan")
	plan.Dir = dir
	plan.Env = append(env, "REPLICATOR_VAR_source_url="+src.URL("postgres"), "REPLICATOR_VAR_target_url="+dst.URL("postgres"))
	out, err := plan.CombinedOutput()
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	for _, want := range []string{
		`replication.main.database["alpha"] will be created`,
		`replication.main.database["gamma"] will be created`,
		`replication.main.table["alpha.public.items"] will be created`,
		"copy the rows where id <= 100",
		`replication.main.table["alpha.public.logs"] will be created`,
		"structure only",
		`replication.main.table["gamma.public.g"] will be created`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{`"beta"`, "alpha.public.events", src.Password()} {
		if strings.Contains(string(out), unwanted) {
			t.Errorf("plan shows %q:\n%s", unwanted, out)
		}
	}

	s.send("y" + keyEnter)
	s.waitFor("Snapshot complete")
	s.waitFor("REPLICATOR_VAR_source_url=... REPLICATOR_VAR_target_url=... database-replicator sync")
	if code := s.wait(); code != 0 {
		t.Fatalf("init exit %d:\n%s", code, s.plain())
	}
	if strings.Contains(s.plain(), src.Password()) {
		t.Error("the screen showed the source password")
	}
	for _, c := range []struct{ db, sql, want string }{
		{"alpha", "SELECT count(*) FROM items", "100"},
		{"alpha", "SELECT count(*) FROM logs", "0"},
		{"alpha", "SELECT coalesce(to_regclass('public.events')::text, 'absent')", "absent"},
		{"gamma", "SELECT count(*) FROM g", "10"},
		{"postgres", "SELECT count(*) FROM pg_database WHERE datname = 'beta'", "0"},
	} {
		if got := queryOne(t, dst, c.db, c.sql); got != c.want {
			t.Errorf("target %s: %s = %s, want %s", c.db, c.sql, got, c.want)
		}
	}

	// sync, as the predecessor's users run it next, offers the file
	// instead of asking everything again, and streams what it says.
	s = startPTY(t, dir, env, "sync", "--once", "--source", src.URL("postgres"), "--target", dst.URL("postgres"))
	s.waitFor("replication.hcl exists here")
	s.waitFor("choose again")
	s.send(keyEnter)
	s.waitFor("✓ Using replication.hcl")
	if code := s.wait(); code != 0 {
		t.Fatalf("sync exit %d:\n%s", code, s.plain())
	}
	for _, db := range []string{"alpha", "gamma"} {
		if got := queryOne(t, dst, db, "SELECT count(*) FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())"); got != "1" {
			t.Errorf("%s: %s subscriptions after sync", db, got)
		}
	}
	if got := queryOne(t, dst, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'beta'"); got != "0" {
		t.Error("sync replicated beta, which was not chosen")
	}
}

// TestInteractiveCtrlC leaves the setup with Ctrl-C at its first and its
// last question, of init and of sync: no file (nor a temporary one), and
// no object on either server.
func TestInteractiveCtrlC(t *testing.T) {
	src := pickerSource(t)
	dst := pgtest.Start(t)
	dir := t.TempDir()
	env := ptyEnv(t, dir)
	args := []string{"init", "--source", src.URL("postgres"), "--target", dst.URL("postgres")}

	s := startPTY(t, dir, env, args...)
	s.waitFor("Databases to replicate")
	s.waitFor("postgres  (")
	s.send(keyCtrlC)
	if code := s.wait(); code != 1 {
		t.Errorf("exit %d after Ctrl-C, want 1", code)
	}
	s.waitFor("interactive setup cancelled: nothing was written and nothing was changed")

	s = startPTY(t, dir, env, args...)
	s.waitFor("Databases to replicate")
	s.waitFor("postgres  (")
	s.send(keyDown + keyDown + " ")
	s.waitFor("[•] gamma")
	s.send(keyEnter)
	for _, title := range []string{"Tables of gamma to leave out", "Tables of gamma to copy as structure only", "Tables to copy only some rows of", "Sync method after the snapshot"} {
		s.waitFor(title)
		s.send(keyEnter)
	}
	s.waitFor("Write replication.hcl and go on with init")
	s.send(keyCtrlC)
	if code := s.wait(); code != 1 {
		t.Errorf("exit %d after Ctrl-C, want 1", code)
	}
	s.waitFor("interactive setup cancelled")

	// sync asks the same questions, and leaves as cleanly.
	s = startPTY(t, dir, env, append([]string{"sync"}, args[1:]...)...)
	s.waitFor("Databases to replicate")
	s.waitFor("postgres  (")
	s.send(keyCtrlC)
	if code := s.wait(); code != 1 {
		t.Errorf("sync: exit %d after Ctrl-C, want 1", code)
	}
	s.waitFor("interactive setup cancelled")

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "home" && e.Name() != "tmp" {
			t.Errorf("%s left in the working directory", e.Name())
		}
	}
	for _, c := range []struct {
		server *pgtest.Cluster
		db     string
		sql    string
	}{
		{src, "postgres", "SELECT count(*) FROM pg_replication_slots"},
		{src, "gamma", "SELECT count(*) FROM pg_publication"},
		{src, "alpha", "SELECT count(*) FROM pg_publication"},
		{dst, "postgres", "SELECT count(*) FROM pg_database WHERE datname IN ('alpha', 'beta', 'gamma')"},
		{dst, "postgres", "SELECT count(*) FROM pg_subscription"},
	} {
		if got := queryOne(t, c.server, c.db, c.sql); got != "0" {
			t.Errorf("%s = %s after Ctrl-C, want 0", c.sql, got)
		}
	}
}

// TestInteractiveOnlyWhenAsked runs init with --source/--target on a
// terminal with each of the settings that must skip the setup, and
// without a terminal: none of them asks, each behaves as before.
func TestInteractiveOnlyWhenAsked(t *testing.T) {
	src := pickerSource(t)
	// Without the table that has no primary key, init of every database
	// plans without an error and reaches its question.
	src.Exec(t, "alpha", "DROP TABLE logs")
	dst := pgtest.Start(t)
	dir := t.TempDir()
	env := ptyEnv(t, dir)
	urls := []string{"--source", src.URL("postgres"), "--target", dst.URL("postgres")}
	noSetup := regexp.MustCompile(`Interactive setup|Databases to replicate`)

	cases := []struct {
		name  string
		env   []string
		args  []string
		shows string
	}{
		{"CI=true", []string{"CI=true"}, nil, "Proceed with replication? [y/N]"},
		{"a filter flag", nil, []string{"--include-databases", "gamma"}, "Proceed with replication? [y/N]"},
		{"--no-interactive", nil, []string{"--no-interactive"}, "--no-interactive forbids asking"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startPTY(t, dir, append(env, c.env...), append(append([]string{"init"}, urls...), c.args...)...)
			s.waitFor(c.shows)
			if strings.HasPrefix(c.shows, "Proceed") {
				s.send("n" + keyEnter)
			}
			s.wait()
			if noSetup.MatchString(s.plain()) {
				t.Errorf("the setup ran:\n%s", s.plain())
			}
		})
	}

	// Without a terminal (a pipe, as in scripts) nothing asks: init
	// refuses after the size table, as it always did.
	cmd := exec.Command(buildBinary(t), append([]string{"init"}, urls...)...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, env, strings.NewReader("y\n")
	ctx, cancel := context.WithTimeout(context.Background(), ptyTimeout)
	defer cancel()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		t.Fatal("init without a terminal did not end")
	}
	if err == nil || !strings.Contains(string(out), "needs confirmation: run it in a terminal") || noSetup.Match(out) {
		t.Errorf("init without a terminal: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "replication.hcl")); err == nil {
		t.Error("replication.hcl written without the setup")
	}
	if got := queryOne(t, dst, "postgres", "SELECT count(*) FROM pg_database WHERE datname IN ('alpha', 'beta', 'gamma')"); got != "0" {
		t.Errorf("%s target databases created", got)
	}
}

// TestInteractiveAccessible answers config generate's setup in accessible
// mode (REPLICATOR_ACCESSIBLE=1): numbered questions, one per line. It
// also goes through the questions the other tests skip: a time window,
// and the table without a primary key published with REPLICA IDENTITY
// FULL (the window's column is outside the primary key, so that table
// gets FULL too); plan accepts the result.
func TestInteractiveAccessible(t *testing.T) {
	src := pickerSource(t)
	dst := pgtest.Start(t)
	dir := t.TempDir()
	env := ptyEnv(t, dir)
	args := []string{"config", "generate", "--interactive", "-o", "picked.hcl", "--source", src.URL("postgres"), "--target", dst.URL("postgres")}

	// Ctrl-C at a line prompt leaves at once, too.
	s := startPTY(t, dir, append(env, "REPLICATOR_ACCESSIBLE=1"), args...)
	s.waitFor("Enter a number between 0 and 4: ")
	s.send(keyCtrlC)
	if code := s.wait(); code != 1 {
		t.Errorf("exit %d after Ctrl-C, want 1", code)
	}
	s.waitFor("interactive setup cancelled")

	s = startPTY(t, dir, append(env, "REPLICATOR_ACCESSIBLE=1"), args...)
	answer := func(prompt, text string) {
		t.Helper()
		s.waitFor(prompt)
		s.send(text + keyEnter)
	}
	s.waitFor("Databases to replicate")
	s.waitFor("1.   alpha  (")
	answer("Enter a number between 0 and 4: ", "1")
	s.waitFor("1. ✓ alpha")
	answer("Enter a number between 0 and 4: ", "0")
	s.waitFor("✓ Databases: alpha")
	s.waitFor("Tables of alpha to leave out")
	answer("Enter a number between 0 and 3: ", "0")
	s.waitFor("✓ Left out: none")
	s.waitFor("Tables of alpha to copy as structure only")
	answer("Enter a number between 0 and 3: ", "0")
	s.waitFor("Tables to copy only some rows of")
	s.waitFor("1.   alpha.public.events")
	answer("Enter a number between 0 and 3: ", "1")
	answer("Enter a number between 0 and 3: ", "0")
	s.waitFor("How to choose the rows of alpha.public.events")
	s.waitFor("1. recent rows by at (a time window)")
	answer("Enter a number between 1 and 2: ", "1")
	s.waitFor("whose at lies within the last (e.g. 90 days)")
	s.send("30 days" + keyEnter)
	s.waitFor("✓ Row filters: alpha.public.events: at within the last 30 days")
	s.waitFor("Sync method after the snapshot")
	answer("Enter a number between 1 and 3: ", "1")
	s.waitFor("Tables without a primary key: publish with REPLICA IDENTITY FULL?")
	s.waitFor("1. ✓ alpha.public.logs")
	answer("Enter a number between 0 and 1: ", "0")
	s.waitFor("✓ REPLICA IDENTITY FULL: alpha.public.logs")
	s.waitFor("alpha.public.events is published with REPLICA IDENTITY FULL")
	answer("Write picked.hcl? [y/N]", "y")
	s.waitFor("Wrote picked.hcl.")
	if code := s.wait(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, s.plain())
	}
	written, err := os.ReadFile(filepath.Join(dir, "picked.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# Written by the interactive setup",
		`databases = ["alpha"]`,
		"table \"alpha.public.events\" {\n    time_window {\n      column = \"at\"\n      last   = \"30 days\"\n    }\n    replica_identity = \"full\"\n  }",
		"table \"alpha.public.logs\" {\n    replica_identity = \"full\"\n  }",
	} {
		if !strings.Contains(string(written), want) {
			t.Errorf("picked.hcl lacks %q:\n%s", want, written)
		}
	}
	plan := exec.Command(buildBinary(t), "-c", "picked.hcl", "plan")
	plan.Dir = dir
	plan.Env = append(env, "REPLICATOR_VAR_source_url="+src.URL("postgres"), "REPLICATOR_VAR_target_url="+dst.URL("postgres"))
	out, err := plan.CombinedOutput()
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, out)
	}
	if want := `set_replica_identity_full = ["\"public\".\"events\"","\"public\".\"logs\""]`; !strings.Contains(string(out), want) {
		t.Errorf("plan lacks %s:\n%s", want, out)
	}
}
