package actions

import (
	"context"
	"errors"

	"github.com/database-replicator/database-replicator/planner/plans"
)

// xmin records the xmin watermark the table's sync starts from.
func (p *Provider) xmin(ctx context.Context, ep Endpoints, c *plans.Change) (plans.Attrs, error) {
	if c.Action == plans.Delete {
		return nil, nil
	}
	after, err := attrsOf[*plans.XminAttrs](c)
	if err != nil {
		return nil, err
	}
	if before, ok := c.Before.(*plans.XminAttrs); ok && c.Action == plans.Update {
		// A pause or resume: the cursor stays where it is.
		out := *after
		out.XminWatermark = before.XminWatermark
		return &out, nil
	}
	ref, err := tableRef(c.Addr.Key)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	s := p.snapshots[key(c.Addr.Replication, ref.Database)]
	p.mu.Unlock()
	if s == nil {
		return nil, errors.New("no snapshot was taken for this database in this run: run plan again; it copies the table again and starts the cursor at that snapshot")
	}
	out := *after
	out.XminWatermark = s.Xmin
	return &out, nil
}
