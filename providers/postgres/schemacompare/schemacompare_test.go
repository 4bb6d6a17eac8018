package schemacompare

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// realworldDir finds the shared folder of public sample databases: a
// "shared/realworld" next to the clone or one of its parent folders.
func realworldDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if fi, err := os.Stat(filepath.Join(dir, "shared", "realworld")); err == nil && fi.IsDir() {
			return filepath.Join(dir, "shared", "realworld")
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Skip("no shared/realworld folder above this clone: the public sample databases are not available")
		}
		dir = up
	}
}

// psql runs sql through psql on c's database db, stopping at the first
// error.
func psql(t *testing.T, c *pgtest.Cluster, db string, sql io.Reader) {
	t.Helper()
	cmd := exec.Command(filepath.Join(c.BinDir(), "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", c.URL(db))
	cmd.Stdin = sql
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("psql: %v\n%s", err, out.String())
	}
}

// dumpRestore copies db from src to dst with pg_dump | psql, the way the
// tool's schema copy does (owners and grants kept).
func dumpRestore(t *testing.T, src, dst *pgtest.Cluster, db string) {
	t.Helper()
	dump, err := exec.Command(filepath.Join(src.BinDir(), "pg_dump"), "--no-publications", "--no-subscriptions", "-d", src.URL(db)).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	dst.CreateDatabase(t, db)
	psql(t, dst, db, bytes.NewReader(dump))
}

func readBoth(t *testing.T, src, dst *pgtest.Cluster, db string) (*Schema, *Schema) {
	t.Helper()
	ctx := context.Background()
	s, err := Read(ctx, src.Connect(t, db), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Read(ctx, dst.Connect(t, db), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s, d
}

// TestPagilaEqualAfterCopy loads pagila (partitions, domains, enums,
// triggers, views, a materialized view, aggregates), copies it with
// pg_dump and finds no difference; then one change per object kind on the
// target is reported as exactly that change.
func TestPagilaEqualAfterCopy(t *testing.T) {
	realworld := realworldDir(t)
	var files []io.Reader
	for _, f := range []string{"pagila-schema.sql.gz", "pagila-data.sql.gz"} {
		fh, err := os.Open(filepath.Join(realworld, f))
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		z, err := gzip.NewReader(fh)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, z)
	}
	src, dst := pgtest.Start(t), pgtest.Start(t)
	src.CreateDatabase(t, "pagila")
	psql(t, src, "pagila", io.MultiReader(files...))
	src.Exec(t, "pagila", "ALTER DATABASE pagila SET search_path = public, pg_catalog")
	src.Exec(t, "pagila", "COMMENT ON DATABASE pagila IS 'sample'")
	dumpRestore(t, src, dst, "pagila")
	// pg_dump leaves database-level properties to --create; the tool's
	// database copy sets them.
	dst.Exec(t, "pagila", "ALTER DATABASE pagila SET search_path = public, pg_catalog")
	dst.Exec(t, "pagila", "COMMENT ON DATABASE pagila IS 'sample'")

	s, d := readBoth(t, src, dst, "pagila")
	diffs, n := Diff(s, d, Scope{SequenceValues: ValuesEqual})
	if len(diffs) != 0 {
		t.Fatalf("%d differences after a copy:\n%s", len(diffs), render(diffs))
	}
	if n < 300 {
		t.Fatalf("only %d objects compared", n)
	}
	for _, k := range []string{"table", "column", "index", "constraint", "trigger", "view", "materialized view", "sequence", "function", "aggregate", "type", "schema", "extension", "database"} {
		found := false
		for _, o := range s.Objects {
			if o.Kind == k {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no %s read from pagila", k)
		}
	}
}

// render lists differences one a line, for failure messages.
func render(diffs []Difference) string {
	var b strings.Builder
	for _, d := range diffs {
		b.WriteString(d.Kind + " " + d.Object + ": " + d.Problem)
		for _, a := range d.Attributes {
			b.WriteString("\n    " + a.Name + ": " + a.Source + " | " + a.Target)
		}
		b.WriteString("\n")
	}
	return b.String()
}
