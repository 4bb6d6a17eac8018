package syncloop

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
)

// Held is a database whose schema drift waits for a reviewed apply
// (policy.on_schema_drift = "plan"): sync neither repairs it nor syncs
// the database until then.
type Held struct {
	Replication, Database string
	// Drift says what differs (the schema change's reason).
	Drift string
}

// HoldForReview removes from p, for every replication with
// policy.on_schema_drift = "plan", the schema drift updates and every
// change that depends on them (directly or not: the publication and
// subscription changes that follow a new table, the subscription's
// enable after the DDL), and returns the databases held. Sync then
// applies what is left; apply runs the whole plan.
func HoldForReview(p *plans.Plan, cfg *lang.Config) []Held {
	review := map[string]bool{}
	for _, r := range cfg.Replications {
		review[r.Name] = r.Policy.OnSchemaDrift == lang.DriftPlan
	}
	var held []Held
	removed := map[string]bool{}
	for _, ch := range p.Changes {
		a, ok := ch.After.(*plans.SchemaAttrs)
		if ch.Addr.Kind == addrs.Schema && ch.Action == plans.Update && ok && a.Drift != nil && review[ch.Addr.Replication] {
			removed[ch.Addr.String()] = true
			held = append(held, Held{Replication: ch.Addr.Replication, Database: ch.Addr.Key, Drift: ch.Reason})
		}
	}
	if len(held) == 0 {
		return nil
	}
	for grew := true; grew; {
		grew = false
		for _, ch := range p.Changes {
			if removed[ch.Addr.String()] {
				continue
			}
			for _, d := range ch.DependsOn {
				if removed[d.String()] {
					removed[ch.Addr.String()], grew = true, true
					break
				}
			}
		}
	}
	kept := p.Changes[:0]
	for _, ch := range p.Changes {
		if !removed[ch.Addr.String()] || ch.Action == plans.NoOp {
			kept = append(kept, ch)
		}
	}
	p.Changes = kept
	// What is removed is not applied: NoOp changes stay (nothing to do).
	for _, ch := range p.Changes {
		if removed[ch.Addr.String()] {
			ch.DependsOn = nil
		}
	}
	return held
}

// PauseForReview pauses the logical subscription of each held database
// (ALTER SUBSCRIPTION ... DISABLE: a subscription cannot skip one table,
// and taking a table out of the publication would need a new copy of it
// afterwards, so the whole database waits; its slot keeps the source's
// changes meanwhile). The planner then plans enabling it after the DDL,
// which apply runs. Xmin databases are paused by leaving them out of the
// jobs (WithoutHeld).
func PauseForReview(ctx context.Context, cfg *lang.Config, eps *endpoints.Set, held []Held) error {
	for _, h := range held {
		var r *lang.Replication
		for _, c := range cfg.Replications {
			if c.Name == h.Replication {
				r = c
			}
		}
		if r == nil {
			continue
		}
		dst, err := eps.Target(r)
		if err != nil {
			return err
		}
		if err := disableSubscription(ctx, dst.WithDatabase(h.Database), r.Sync.Subscription); err != nil {
			return fmt.Errorf("pause %q for the schema drift review: %w", h.Database, err)
		}
	}
	return nil
}

func disableSubscription(ctx context.Context, info conninfo.Info, name string) error {
	conn, err := conninfo.Connect(ctx, info)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var enabled bool
	err = conn.QueryRow(ctx, `SELECT subenabled FROM pg_catalog.pg_subscription
		WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())`, name).Scan(&enabled)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !enabled) {
		return nil // none (xmin), or paused already
	}
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "ALTER SUBSCRIPTION "+pgx.Identifier{name}.Sanitize()+" DISABLE")
	return err
}

// WithoutHeld leaves the held databases out of the jobs' xmin tables:
// their cycles stop until the reviewed apply.
func WithoutHeld(jobs []*Job, held []Held) {
	hold := map[[2]string]bool{}
	for _, h := range held {
		hold[[2]string{h.Replication, h.Database}] = true
	}
	for _, j := range jobs {
		kept := j.Databases[:0]
		for _, db := range j.Databases {
			if !hold[[2]string{j.Replication.Name, db.Name}] || j.Method != lang.SyncXmin {
				kept = append(kept, db)
			}
		}
		j.Databases = kept
	}
}
