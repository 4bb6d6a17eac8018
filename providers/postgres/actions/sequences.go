package actions

import (
	"context"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/datacopy"
)

// sequences sets the target's sequences to the source's values.
func (p *Provider) sequences(ctx context.Context, ep Endpoints, c *plans.Change) (plans.Attrs, error) {
	if c.Action == plans.Delete {
		return nil, nil
	}
	db := c.Addr.Key
	n, err := datacopy.SyncSequences(ctx, ep.Source.WithDatabase(db), ep.Target.WithDatabase(db), nil)
	if err != nil {
		return nil, err
	}
	return &plans.SequencesAttrs{Sequences: n}, nil
}
