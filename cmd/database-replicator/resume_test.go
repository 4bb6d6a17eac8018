package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
	"github.com/database-replicator/database-replicator/state"
)

// bigRows is the size of the large table: enough that its copy takes a few
// seconds, so that a kill lands in the middle of it.
const bigRows = 1_500_000

// TestApplyResumesAfterKill kills apply (SIGKILL) at three moments — while
// the schema is restored, in the middle of the large table's copy, and
// while indexes and constraints are built — with a writer busy on the
// source, then runs apply again: the target must end with exactly the
// source's rows, streaming from one active slot, and plan must show no
// changes (correctness rule 8).
func TestApplyResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("large live test")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH: cannot build the binary")
	}
	bin := filepath.Join(t.TempDir(), "database-replicator")
	start := time.Now()
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("binary built in %s", time.Since(start).Round(time.Millisecond))

	// One source; each case copies its database from a template (a file
	// copy, much faster than generating the rows again).
	src := pgtest.Start(t)
	start = time.Now()
	src.CreateDatabase(t, "tmpl")
	for _, sql := range []string{
		`CREATE TABLE big (id bigint PRIMARY KEY, payload text)`,
		fmt.Sprintf(`INSERT INTO big SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, %d) g`, bigRows),
		`CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL)`,
		`CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, amount numeric)`,
		`CREATE INDEX orders_customer_idx ON orders (customer_id)`,
		`CREATE TABLE events (id bigserial PRIMARY KEY, kind text, at timestamptz DEFAULT now())`,
		`CREATE TABLE settings (id int PRIMARY KEY, v text)`,
		`INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 1000) g`,
		`INSERT INTO orders SELECT g, 1 + g % 1000, g * 1.5 FROM generate_series(1, 5000) g`,
		`INSERT INTO events (kind) SELECT 'k' || (g % 7) FROM generate_series(1, 2000) g`,
		`INSERT INTO settings SELECT g, 'v' FROM generate_series(1, 10) g`,
		// 2,000 functions make the pre-data restore in psql last long
		// enough (hundreds of ms) for the schema-restore case to catch it
		// on a loaded machine.
		`DO $$ BEGIN FOR i IN 1..2000 LOOP EXECUTE format('CREATE FUNCTION resume_f%s(x int) RETURNS int LANGUAGE sql IMMUTABLE AS %L', i, 'SELECT x + ' || i); END LOOP; END $$`,
		`VACUUM ANALYZE`,
	} {
		src.Exec(t, "tmpl", sql)
	}
	t.Logf("source template filled in %s (big: %d MB)", time.Since(start).Round(time.Millisecond),
		src.QueryInt(t, "tmpl", `SELECT pg_total_relation_size('big') / 1048576`))

	cases := []struct {
		name string
		// when returns true once apply should be killed.
		when func(k *killPoint) bool
		// plan is what the plan after the kill must show (%s is the database).
		plan string
		// poll is how often the condition is checked (default 20ms).
		poll time.Duration
		// tear appends a torn record to the state journal after the
		// kill, as a kill during a checkpoint's append leaves it.
		tear bool
	}{
		{"schema", func(k *killPoint) bool {
			s := k.status(addrSchema)
			return s == "in_progress" || s == "done"
		}, "", 0, false},
		// The pre-data restore runs in psql: kill apply while psql runs.
		{"schema-restore", func(k *killPoint) bool {
			return k.status(addrSchema) == "in_progress" && hasChild(k.pid, "psql") && k.targetSessions("psql") > 0
		}, `replication.main.schema["%s"] will be created`, time.Millisecond, false},
		{"mid-copy", func(k *killPoint) bool {
			a := fmt.Sprintf(`replication.main.table["%s.public.big"]`, k.db)
			if k.st[a] != "in_progress" {
				return false
			}
			if time.Since(k.since[a]) > time.Second {
				return true
			}
			return copyProgress(k.dst, k.db) > 0
		}, `replication.main.slot["%s"] will be replaced`, 0, false},
		// Killed between checkpoints, with the journal's last record
		// torn (it would have recorded post-data done): the torn record
		// is left out and post-data is redone.
		{"post-data", func(k *killPoint) bool {
			return k.status(addrPostData) == "in_progress"
		}, `replication.main.post_data["%s"] will be created`, 0, true},
	}
	for i, tc := range cases {
		db := fmt.Sprintf("app%d", i+1)
		t.Run(tc.name, func(t *testing.T) {
			poll := tc.poll
			if poll == 0 {
				poll = 20 * time.Millisecond
			}
			runKillCase(t, bin, src, db, tc.when, tc.plan, poll, tc.tear)
		})
	}
}

// runKillCase runs one kill-and-resume case on database db, copied from the
// source's template.
func runKillCase(t *testing.T, bin string, src *pgtest.Cluster, db string, when func(*killPoint) bool, wantPlan string, poll time.Duration, tear bool) {
	caseStart := time.Now()
	src.Exec(t, "postgres", "CREATE DATABASE "+db+" TEMPLATE tmpl STRATEGY FILE_COPY")
	dst := pgtest.Start(t)
	dir := t.TempDir()
	statePath := filepath.Join(dir, "replicator.state.json")
	cfg := filepath.Join(dir, "replication.hcl")
	if err := os.WriteFile(cfg, []byte(`
variable "source_url" {
  sensitive = true
}
source "prod" { url = var.source_url }
target "replica" { url = "`+dst.URL("postgres")+`" }
replication "main" {
  source    = source.prod
  target    = target.replica
  databases = ["`+db+`"]
  snapshot {
    jobs = 2
  }
}
state { path = "`+statePath+`" }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "NO_COLOR=1", "REPLICATOR_VAR_source_url="+src.URL("postgres"))
	command := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"-c", cfg}, args...)...)
		cmd.Dir = dir
		cmd.Env = env
		return cmd
	}

	// A writer keeps changing the source for the whole case.
	ctx, stopWriter := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var writes int
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		writes, writeErr = writeLoop(ctx, src.URL(db))
	}()
	defer func() { stopWriter(); wg.Wait() }()

	// First apply, killed at the chosen moment.
	var out bytes.Buffer
	first := command("apply", "--auto-approve")
	first.Stdout, first.Stderr = &out, &out
	applyStart := time.Now()
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- first.Wait() }()
	since := map[string]time.Time{}
	kp := &killPoint{since: since, dst: dst, db: db, pid: first.Process.Pid}
	defer func() {
		if kp.conn != nil {
			kp.conn.Close(context.Background())
		}
	}()
	var killedAt map[string]string
	for killedAt == nil {
		select {
		case err := <-exited:
			t.Fatalf("apply ended (%v) before the kill point:\n%s", err, out.String())
		case <-time.After(poll):
		}
		st := readStatuses(statePath)
		for a, s := range st {
			if _, ok := since[a+"="+s]; !ok {
				since[a+"="+s] = time.Now()
			}
			if s == "in_progress" {
				if _, ok := since[a]; !ok {
					since[a] = time.Now()
				}
			}
		}
		if kp.st = st; when(kp) {
			if err := first.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-exited
			killedAt = st
		}
		if time.Since(applyStart) > 60*time.Second {
			first.Process.Kill()
			<-exited
			t.Fatalf("kill point not reached in 60s; state: %v\n%s", st, out.String())
		}
	}
	tablesAtKill := targetTables(dst, db)
	t.Logf("killed after %s; state then: %s; target tables: %d", time.Since(applyStart).Round(time.Millisecond),
		describe(killedAt), tablesAtKill)
	// Nothing of the killed apply lives on: a child tool (psql restoring
	// the schema) must not commit behind the next apply's back.
	time.Sleep(200 * time.Millisecond)
	if n := targetTables(dst, db); n != tablesAtKill {
		t.Errorf("the target had %d tables when apply was killed and %d 200ms later: a child of the killed apply lived on", tablesAtKill, n)
	}

	if tear {
		tearJournal(t, statePath)
	}

	// The killed run's lock file is left, but the kernel released its
	// flock: the plain rerun below takes it over, no force-unlock needed.
	if _, err := os.Stat(statePath + ".lock"); err != nil {
		t.Fatalf("the killed apply left no lock file: %v", err)
	}

	// The second apply converges.
	rerunStart := time.Now()
	planOut, _ := command("plan").CombinedOutput()
	t.Logf("plan after the kill:\n%s", summarize(string(planOut)))
	if wantPlan != "" && !strings.Contains(string(planOut), fmt.Sprintf(wantPlan, db)) {
		t.Errorf("plan after the kill lacks %q", fmt.Sprintf(wantPlan, db))
	}
	rerun, err := command("apply", "--auto-approve").CombinedOutput()
	if err != nil {
		t.Fatalf("apply after the kill: %v\n%s", err, rerun)
	}
	if !strings.Contains(string(rerun), "Apply complete.") {
		t.Fatalf("apply after the kill did not complete:\n%s", rerun)
	}
	if !strings.Contains(string(rerun), "took over the state lock of a run that died holding it") {
		t.Errorf("the plain rerun did not report taking over the killed run's lock:\n%s", summarize(string(rerun)))
	}
	t.Logf("rerun took %s", time.Since(rerunStart).Round(time.Millisecond))

	// Let the writer run a little into the stream, then stop it.
	time.Sleep(300 * time.Millisecond)
	stopWriter()
	wg.Wait()
	if writeErr != nil {
		t.Fatalf("writer: %v", writeErr)
	}
	t.Logf("writer committed %d transactions", writes)

	// The target catches up to exactly the source's rows.
	tables := []string{"big", "customers", "orders", "events", "settings"}
	deadline := time.Now().Add(60 * time.Second)
	var diff []string
	for {
		diff = diff[:0]
		for _, tbl := range tables {
			q := `SELECT count(*)::text || ' ' || coalesce(md5(string_agg(md5(t::text), ',' ORDER BY id)), '') FROM ` + tbl + ` t`
			s, d := queryText(t, src, db, q), queryText(t, dst, db, q)
			if s != d {
				diff = append(diff, fmt.Sprintf("%s: source %s, target %s", tbl, s, d))
			}
		}
		if len(diff) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(diff) > 0 {
		t.Fatalf("target did not converge in 60s:\n%s", strings.Join(diff, "\n"))
	}
	t.Logf("converged; source big has %d rows", src.QueryInt(t, db, "SELECT count(*) FROM big"))

	if out, err := command("plan", "--detailed-exitcode").CombinedOutput(); err != nil {
		t.Fatalf("plan --detailed-exitcode after the rerun: %v\n%s", err, out)
	}
	if n := src.QueryInt(t, "postgres", `SELECT count(*) FROM pg_replication_slots WHERE database = $1`, db); n != 1 {
		t.Fatalf("%d replication slots for %s on the source, want 1", n, db)
	}
	if n := src.QueryInt(t, "postgres", `SELECT count(*) FROM pg_replication_slots WHERE database = $1 AND active`, db); n != 1 {
		t.Fatalf("the slot of %s is not active", db)
	}
	if n := dst.QueryInt(t, db, `SELECT count(*) FROM pg_subscription`); n != 1 {
		t.Fatalf("%d subscriptions on the target, want 1", n)
	}
	slot := queryText(t, src, "postgres", `SELECT slot_name FROM pg_replication_slots WHERE database = '`+db+`'`)
	if sub := queryText(t, dst, db, `SELECT subslotname FROM pg_subscription`); sub != slot {
		t.Fatalf("subscription uses slot %q, the source has %q", sub, slot)
	}
	if n := src.QueryInt(t, db, `SELECT count(*) FROM pg_publication`); n != 1 {
		t.Fatalf("%d publications in %s on the source, want 1", n, db)
	}
	t.Logf("case took %s", time.Since(caseStart).Round(time.Millisecond))
}

// Addresses whose status the kill points watch (%s is the database).
const (
	addrSchema   = `replication.main.schema["%s"]`
	addrPostData = `replication.main.post_data["%s"]`
)

// killPoint is what a kill condition sees: the state's statuses, when each
// in_progress status was first seen, the target, the database and the pid
// of the running apply.
type killPoint struct {
	st    map[string]string
	since map[string]time.Time
	dst   *pgtest.Cluster
	db    string
	pid   int
	conn  *pgx.Conn // to the target's postgres database, opened on demand
}

// targetSessions counts the target's sessions of an application in db.
func (k *killPoint) targetSessions(app string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if k.conn == nil {
		c, err := pgx.Connect(ctx, k.dst.URL("postgres"))
		if err != nil {
			return 0
		}
		k.conn = c
	}
	var n int
	k.conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2`, app, k.db).Scan(&n)
	return n
}

// status returns the status of the address format addr for the database.
func (k *killPoint) status(addr string) string { return k.st[fmt.Sprintf(addr, k.db)] }

// hasChild reports whether process pid has a child process named comm.
func hasChild(pid int, comm string) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		fields := strings.Fields(s[end+1:])
		if s[open+1:end] == comm && len(fields) > 1 && fields[1] == fmt.Sprint(pid) {
			return true
		}
	}
	return false
}

// writeLoop inserts into big and events, and updates and inserts into the
// small tables, every few milliseconds until ctx ends; it returns the number
// of committed transactions.
func writeLoop(ctx context.Context, url string) (int, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	n := 0
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return n, nil
		case <-time.After(3 * time.Millisecond):
		}
		batch := &pgx.Batch{}
		batch.Queue(`INSERT INTO big VALUES ($1::bigint, 'live ' || $1::bigint)`, int64(10_000_000+i))
		batch.Queue(`INSERT INTO events (kind) VALUES ('live')`)
		batch.Queue(`UPDATE big SET payload = 'updated ' || $1::int WHERE id = $2`, i, int64(1+(i*7919)%bigRows))
		if i%5 == 0 {
			batch.Queue(`INSERT INTO customers VALUES ($1, 'live')`, 100_000+i)
			batch.Queue(`INSERT INTO orders VALUES ($1, $2, 1)`, 100_000+i, 100_000+i)
			batch.Queue(`UPDATE settings SET v = $1 WHERE id = $2`, fmt.Sprint(i), 1+i%10)
		}
		if i%11 == 0 {
			batch.Queue(`DELETE FROM big WHERE id = $1`, int64(1+(i*104729)%bigRows))
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return n, nil
			}
			return n, err
		}
		err = tx.SendBatch(ctx, batch).Close()
		if err == nil {
			err = tx.Commit(ctx)
		} else {
			tx.Rollback(context.Background())
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return n, nil
			}
			return n, err
		}
		n++
	}
}

// readStatuses returns each resource's status from the state file with
// its journal folded in (the checkpoints of a running apply are in the
// journal); nil while it does not exist or cannot be read.
func readStatuses(path string) map[string]string {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	s, err := state.NewLocal(path).Read(context.Background())
	if err != nil {
		return nil
	}
	st := map[string]string{}
	for a, r := range s.Resources {
		st[a] = r.Status
	}
	return st
}

// tearJournal appends to the state journal at path the first half of a
// record that would mark every resource done, as a kill during its append
// leaves it; it fails when there is no journal (the kill did not land
// between checkpoints).
func tearJournal(t *testing.T, path string) {
	t.Helper()
	journal := state.NewLocal(path).JournalPath()
	data, err := os.ReadFile(journal)
	if err != nil || len(data) == 0 {
		t.Fatalf("no state journal at the kill (%v): the checkpoints were not journaled", err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
	last := lines[len(lines)-1]
	// The last record with every status "in_progress" turned "done".
	forged := strings.ReplaceAll(last, `"status":"in_progress"`, `"status":"done"`)
	f, err := os.OpenFile(journal, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(forged[:len(forged)/2]); err != nil {
		t.Fatal(err)
	}
}

// copyProgress returns the bytes a COPY into big has processed on the
// target, 0 when none runs.
func copyProgress(dst *pgtest.Cluster, db string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dst.URL(db))
	if err != nil {
		return 0
	}
	defer conn.Close(context.Background())
	var n int64
	conn.QueryRow(ctx, `SELECT coalesce(max(bytes_processed), 0) FROM pg_stat_progress_copy
		WHERE relid = to_regclass('public.big')`).Scan(&n)
	return n
}

// targetTables counts the user tables of db on the target, -1 when the
// database does not exist.
func targetTables(dst *pgtest.Cluster, db string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dst.URL(db))
	if err != nil {
		return -1
	}
	defer conn.Close(context.Background())
	var n int
	conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n)
	return n
}

// queryText runs a query returning one value and renders it as text.
func queryText(t *testing.T, c *pgtest.Cluster, db, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(db))
	if err != nil {
		t.Fatalf("connect %s: %v", db, err)
	}
	defer conn.Close(context.Background())
	var v *string
	if err := conn.QueryRow(ctx, "SELECT ("+sql+")::text").Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if v == nil {
		return "NULL"
	}
	return *v
}

// describe renders the non-done statuses of a state, sorted.
func describe(st map[string]string) string {
	var parts []string
	for a, s := range st {
		if s != "done" {
			parts = append(parts, a+"="+s)
		}
	}
	done := len(st) - len(parts)
	return fmt.Sprintf("%d done, %s", done, strings.Join(slices.Sorted(slices.Values(parts)), ", "))
}

// summarize keeps the lines of plan output that name a change.
func summarize(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, " will be ") || strings.HasPrefix(l, "Plan:") || strings.Contains(l, "rror") {
			keep = append(keep, "  "+strings.TrimSpace(l))
		}
	}
	return strings.Join(keep, "\n")
}
