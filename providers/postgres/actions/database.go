package actions

import (
	"context"

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
		return nil, err
	}
	return c.After, nil
}
