package ddl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
)

// CreateDatabase creates database name on the target server (target is a
// connection to any database there, e.g. postgres) from template0, with
// the source's encoding, LC_COLLATE and LC_CTYPE (each left to the
// server's default when ""). The database gets the connecting user as
// owner.
func CreateDatabase(ctx context.Context, target conninfo.Info, name, encoding, collate, ctype string) error {
	conn, err := conninfo.Connect(ctx, target)
	if err != nil {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	defer conn.Close(context.Background())
	sql := createDatabaseSQL(name, encoding, collate, ctype)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("create database %q on %s: %w", name, target.Redacted(), err)
	}
	return nil
}

// createDatabaseSQL renders CREATE DATABASE with quoted name and values.
func createDatabaseSQL(name, encoding, collate, ctype string) string {
	var b strings.Builder
	b.WriteString("CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE template0")
	if encoding != "" {
		b.WriteString(" ENCODING " + conninfo.QuoteLiteral(encoding))
	}
	if collate != "" {
		b.WriteString(" LC_COLLATE " + conninfo.QuoteLiteral(collate))
	}
	if ctype != "" {
		b.WriteString(" LC_CTYPE " + conninfo.QuoteLiteral(ctype))
	}
	return b.String()
}

// DropDatabase drops database name on the target server if it exists,
// disconnecting its sessions: DROP DATABASE ... WITH (FORCE) on
// PostgreSQL 13 and later, else pg_terminate_backend on its sessions
// first.
func DropDatabase(ctx context.Context, target conninfo.Info, name string) error {
	if target.Database() == name {
		return fmt.Errorf("drop database %q: the connection string points at that database; connect to another one (e.g. postgres)", name)
	}
	conn, err := conninfo.Connect(ctx, target)
	if err != nil {
		return fmt.Errorf("drop database %q: %w", name, err)
	}
	defer conn.Close(context.Background())
	version, err := conninfo.ServerVersionNum(ctx, conn)
	if err != nil {
		return fmt.Errorf("drop database %q: %w", name, err)
	}
	ident := pgx.Identifier{name}.Sanitize()
	if version >= 130000 {
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %q on %s: %w", name, target.Redacted(), err)
		}
		return nil
	}
	// Before 13: forbid new connections, terminate the sessions, retry
	// while a session is still going away.
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+ident+" ALLOW_CONNECTIONS false"); err != nil {
			if isUndefinedDatabase(err) {
				return nil
			}
			return fmt.Errorf("drop database %q on %s: %w", name, target.Redacted(), err)
		}
		if _, err := conn.Exec(ctx, "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()", name); err != nil {
			return fmt.Errorf("drop database %q: terminate sessions: %w", name, err)
		}
		_, lastErr = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident)
		if lastErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drop database %q: %w", name, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
	return fmt.Errorf("drop database %q on %s: %w", name, target.Redacted(), lastErr)
}

// isUndefinedDatabase reports SQLSTATE 3D000 (invalid_catalog_name).
func isUndefinedDatabase(err error) bool {
	return conninfo.ErrCode(err) == "3D000"
}

// DatabaseHasTables returns how many tables (ordinary, partitioned and
// foreign) database name holds in its user schemas; 0 and no error when
// the database does not exist. target is a connection to the same server
// (its database is replaced by name).
func DatabaseHasTables(ctx context.Context, target conninfo.Info, name string) (int, error) {
	conn, err := conninfo.Connect(ctx, target.WithDatabase(name))
	if err != nil {
		var ce *conninfo.ConnectError
		if errors.As(err, &ce) && ce.Kind == conninfo.FailureNoDatabase {
			return 0, nil
		}
		return 0, fmt.Errorf("count tables of database %q: %w", name, err)
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'f')
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count tables of database %q on %s: %w", name, target.Redacted(), err)
	}
	return n, nil
}
