package ddl

import (
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

func TestDatabaseCreateWithSourceEncoding(t *testing.T) {
	src, dst := pgtest.Start(t), pgtest.Start(t)
	ctx := testCtx(t)
	name := `Lat "1" db`
	src.Exec(t, "postgres", `CREATE DATABASE "Lat ""1"" db" TEMPLATE template0 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'POSIX'`)
	var enc, collate, ctype string
	conn := src.Connect(t, "postgres")
	if err := conn.QueryRow(ctx, `SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = $1`, name).Scan(&enc, &collate, &ctype); err != nil {
		t.Fatal(err)
	}
	target := mustParse(t, dst.URL("postgres"))
	if err := CreateDatabase(ctx, target, name, enc, collate, ctype); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	var enc2, collate2, ctype2 string
	if err := dst.Connect(t, "postgres").QueryRow(ctx, `SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = $1`, name).Scan(&enc2, &collate2, &ctype2); err != nil {
		t.Fatal(err)
	}
	if enc2 != enc || collate2 != collate || ctype2 != ctype || enc != "LATIN1" {
		t.Errorf("target database: %s %s %s, want %s %s %s (LATIN1)", enc2, collate2, ctype2, enc, collate, ctype)
	}
	// Again: the error says what exists.
	if err := CreateDatabase(ctx, target, name, enc, collate, ctype); err == nil {
		t.Error("second CreateDatabase succeeded")
	}
}

func TestDatabaseDropWithConnectedClientAndCountTables(t *testing.T) {
	c := pgtest.Start(t)
	ctx := testCtx(t)
	target := mustParse(t, c.URL("postgres"))
	if n, err := DatabaseHasTables(ctx, target, "nope"); err != nil || n != 0 {
		t.Fatalf("DatabaseHasTables(missing) = %d, %v", n, err)
	}
	c.CreateDatabase(t, "Busy DB")
	c.Exec(t, "Busy DB", `CREATE SCHEMA s; CREATE TABLE s.a (id int); CREATE TABLE public.b (id int) PARTITION BY RANGE (id); CREATE VIEW v AS SELECT 1`)
	if n, err := DatabaseHasTables(ctx, target, "Busy DB"); err != nil || n != 2 {
		t.Fatalf("DatabaseHasTables = %d, %v; want 2", n, err)
	}
	client := c.Connect(t, "Busy DB") // an open session
	if _, err := client.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if err := DropDatabase(ctx, target, "Busy DB"); err != nil {
		t.Fatalf("DropDatabase: %v", err)
	}
	if n := c.QueryInt(t, "postgres", `SELECT count(*) FROM pg_database WHERE datname = 'Busy DB'`); n != 0 {
		t.Errorf("database still exists")
	}
	if err := DropDatabase(ctx, target, "Busy DB"); err != nil {
		t.Errorf("DropDatabase of a missing database: %v", err)
	}
	if err := DropDatabase(ctx, target, "postgres"); err == nil {
		t.Error("dropping the connected database succeeded")
	}
}

func TestDatabaseCreateSQLQuotes(t *testing.T) {
	got := createDatabaseSQL(`a"b`, "UTF8", `it's`, `x\y`)
	want := `CREATE DATABASE "a""b" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'it''s' LC_CTYPE E'x\\y'`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
