package actions

import (
	"context"
	"errors"

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
		var pgErr *pgconn.PgError
		if c.Action != plans.Create || !errors.As(err, &pgErr) || pgErr.Code != "42P04" {
			return nil, err
		}
		// The database appeared after the plan was made: typically the
		// CREATE DATABASE of a run killed with SIGKILL, which the server
		// finished after its client was gone. As at plan time, an
		// empty database is adopted; one holding tables is not.
		n, cerr := ddl.DatabaseHasTables(ctx, ep.Target, name)
		if cerr != nil || n > 0 {
			return nil, err
		}
		p.log.Info("the database appeared since the plan and holds no tables: it is adopted", "database", name)
	}
	return c.After, nil
}
