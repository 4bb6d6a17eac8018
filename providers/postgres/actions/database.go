package actions

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/ddl"
)

// database creates (or drops and recreates) the target database.
func (p *Provider) database(ctx context.Context, ep Endpoints, c *plans.Change) (plans.Attrs, error) {
	name := c.Addr.Key
	switch c.Action {
	case plans.Delete:
		if drop, _ := c.After.(*plans.DatabaseAttrs); drop != nil && drop.DropData {
			return nil, ddl.DropDatabase(ctx, ep.Target, name)
		}
		return nil, nil // target data stays
	case plans.Replace:
		if err := ddl.DropDatabase(ctx, ep.Target, name); err != nil {
			return nil, err
		}
	case plans.Create:
		if c.Before != nil {
			return c.After, nil // an existing, empty database is adopted
		}
	default:
		return c.After, nil
	}
	after, err := attrsOf[*plans.DatabaseAttrs](c)
	if err != nil {
		return nil, err
	}
	var locale plans.Locale
	if after.Locale != nil {
		locale = *after.Locale
	}
	if err := ddl.CreateDatabase(ctx, ep.Target, name, after.Encoding, locale.Collate, locale.CType); err != nil {
		if c.Action != plans.Create || !databaseAppeared(err) {
			return nil, err
		}
		// The database appeared after the plan was made: typically the
		// CREATE DATABASE of a run killed with SIGKILL, which the server
		// finished after its client was gone (before this one's, 42P04,
		// or while this one waited for it, 23505). As at plan time, an
		// empty database is adopted; one holding tables is not.
		n, cerr := ddl.DatabaseHasTables(ctx, ep.Target, name)
		if cerr != nil || n > 0 {
			return nil, err
		}
		p.log.Info("the database appeared since the plan and holds no tables: it is adopted", "database", name)
	}
	return c.After, nil
}

// databaseAppeared reports whether CREATE DATABASE failed because a
// database of that name exists: 42P04 (duplicate_database) when it was
// there before the statement, 23505 on pg_database's name index when
// another session's CREATE DATABASE of the same name committed while this
// one ran.
func databaseAppeared(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == "42P04" || (pgErr.Code == "23505" &&
		(pgErr.ConstraintName == "pg_database_datname_index" || strings.Contains(pgErr.Message, "pg_database_datname_index")))
}
