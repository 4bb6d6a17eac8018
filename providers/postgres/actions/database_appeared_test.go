package actions

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestDatabaseAppeared: both ways the server reports a database created
// by another session (a killed run's CREATE DATABASE it finished on its
// own) are recognised; other errors are not.
func TestDatabaseAppeared(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "42P04", Message: `database "app" already exists`}, true},
		{fmt.Errorf("create database: %w", &pgconn.PgError{Code: "23505", ConstraintName: "pg_database_datname_index",
			Message: `duplicate key value violates unique constraint "pg_database_datname_index"`}), true},
		{&pgconn.PgError{Code: "23505", Message: `duplicate key value violates unique constraint "pg_database_datname_index"`}, true},
		{&pgconn.PgError{Code: "23505", ConstraintName: "pg_authid_rolname_index"}, false},
		{&pgconn.PgError{Code: "42501", Message: "permission denied to create database"}, false},
		{fmt.Errorf("dial: connection refused"), false},
	} {
		if got := databaseAppeared(tt.err); got != tt.want {
			t.Errorf("%v: %v, want %v", tt.err, got, tt.want)
		}
	}
}
