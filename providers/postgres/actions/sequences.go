package actions

import (
	"context"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/datacopy"
	"github.com/database-replicator/database-replicator/providers/postgres/schemadump"
)

// sequences sets the target's sequences to the source's values.
func (p *Provider) sequences(ctx context.Context, ep Endpoints, c *plans.Change) (plans.Attrs, error) {
	if c.Action == plans.Delete {
		return nil, nil
	}
	db := c.Addr.Key
	var schemaOf func(schema, table string) string
	if len(p.movesOf(c.Addr.Replication, db)) > 0 {
		schemaOf = func(schema, table string) string {
			return p.targetOf(c.Addr.Replication, db, schemadump.QualifiedName{Schema: schema, Name: table}).Schema
		}
	}
	n, err := datacopy.SyncSequencesRemapped(ctx, ep.Source.WithDatabase(db), ep.Target.WithDatabase(db), nil, schemaOf)
	if err != nil {
		return nil, err
	}
	return &plans.SequencesAttrs{Sequences: n}, nil
}
