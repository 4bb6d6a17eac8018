package actions

import (
	"context"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/globals"
)

// globals copies roles and grants.
func (p *Provider) globals(ctx context.Context, ep Endpoints, c *plans.Change) (plans.Attrs, error) {
	if c.Action == plans.Delete {
		return nil, nil
	}
	after, err := attrsOf[*plans.GlobalsAttrs](c)
	if err != nil {
		return nil, err
	}
	res, err := globals.Copy(ctx, ep.Source, ep.Target, func(msg string) { p.log.Warn(msg) })
	if err != nil {
		return nil, err
	}
	out := *after
	created, skipped := len(res.RolesCreated), len(res.RolesSkipped)
	out.RolesCreated, out.RolesSkipped = &created, &skipped
	return &out, nil
}
