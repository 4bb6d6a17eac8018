package actions

import (
	"context"
	"fmt"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
	"github.com/database-replicator/database-replicator/providers/postgres/streamapply"
)

// slot creates the logical slot with an exported snapshot, and keeps the
// snapshot for the table copies of this run.
func (p *Provider) slot(ctx context.Context, ep Endpoints, c *plans.Change) (plans.Attrs, error) {
	db := c.Addr.Key
	attrs, err := attrsOf[*plans.SlotAttrs](c)
	if err != nil {
		return nil, err
	}
	name := attrs.Name
	src := ep.Source.WithDatabase(db)
	if sub := attrs.DisableSubscription; sub != "" && c.Action == plans.Replace {
		// Nothing may be applied to the tables until they are copied again
		// in the new slot's snapshot; the subscription's change enables it.
		if err := p.disableSubscription(ctx, ep, db, sub); err != nil {
			return nil, err
		}
	}
	if c.Action == plans.Delete || c.Action == plans.Replace {
		if err := snapshot.DropSlot(ctx, src, name); err != nil {
			return nil, err
		}
	}
	// The stream engine's progress on the target belongs to the slot: a
	// new slot starts from its own consistent point (another source's
	// positions would skip its transactions), and destroy removes it.
	if err := p.forgetStreamProgress(ctx, ep, c.Addr.Replication, db); err != nil {
		return nil, err
	}
	if c.Action == plans.Delete {
		return nil, nil
	}
	s, err := snapshot.CreateSlotWithSnapshot(ctx, src, name)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if old := p.slots[key(c.Addr.Replication, db)]; old != nil {
		_ = old.Close(ctx)
	}
	p.slots[key(c.Addr.Replication, db)] = s
	p.mu.Unlock()
	p.log.Info("replication slot created", "slot", name, "database", db, "consistent_point", s.ConsistentPoint)
	out := *attrs
	out.ConsistentPoint, out.Snapshot = s.ConsistentPoint, s.SnapshotName
	out.DisableSubscription = ""
	return &out, nil
}

// forgetStreamProgress removes the stream engine's progress row of
// replication from target database db (and the progress table once it is
// empty). A target database that does not exist (yet) has none.
func (p *Provider) forgetStreamProgress(ctx context.Context, ep Endpoints, replication, db string) error {
	dst, err := conninfo.Connect(ctx, ep.Target.WithDatabase(db))
	if conninfo.ErrCode(err) == "3D000" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stream progress: %w", err)
	}
	defer dst.Close(context.Background())
	return streamapply.DropProgress(ctx, dst, replication)
}
