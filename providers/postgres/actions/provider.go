// Package actions performs the changes of a plan on PostgreSQL: it is the
// provider the executor calls for every change of a replication. It holds
// the exported snapshots of a run, so that every table of a database is
// copied inside the snapshot of that database's replication slot.
package actions

import (
	"context"
	"fmt"
	"sync"

	"github.com/database-replicator/database-replicator/executor"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/schemadump"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
	"github.com/hashicorp/go-hclog"
)

// Endpoints are the servers of one replication.
type Endpoints struct {
	Source, Target conninfo.Info
	// IndexJobs is the number of parallel post-data builds.
	IndexJobs int
	// SplitLargerThan is the table size in bytes above which a table is
	// copied as SplitParts CTID ranges in parallel (0: never split).
	SplitLargerThan int64
	SplitParts      int
}

// Provider implements executor.Provider for PostgreSQL.
type Provider struct {
	replications map[string]Endpoints
	// scope lists the tables of each replication/database in the plan.
	scope map[string][]schemadump.QualifiedName
	log   hclog.Logger

	// replaced lists, per replication/db, the tables copied again (truncated
	// together, once, before the first of them is copied).
	replaced map[string][]schemadump.QualifiedName
	// filtered marks databases with a row-filtered table: their foreign
	// keys may point at rows the filter left out.
	filtered  map[string]bool
	truncated map[string]*sync.Once
	truncErr  map[string]error

	mu        sync.Mutex
	slots     map[string]*snapshot.ExportedSlot // by replication/db
	snapshots map[string]*snapshot.Held         // by replication/db (xmin method)
	// lanes bound the COPY streams of a replication to its snapshot.jobs,
	// whole tables and CTID parts of split tables alike, so that a big
	// table split in parts uses the lanes other tables leave idle.
	lanes map[string]chan struct{}
	// post holds each database's post-data items, dumped once per run;
	// built marks the items built right after their table's copy, and
	// analyzed the tables analyzed then (both by replication/db).
	post     map[string]*postDataOnce
	built    map[string]map[int]bool
	analyzed map[string]map[schemadump.QualifiedName]bool
	// buildMem shares maintenance_work_mem among the index builds of each
	// replication (buildmemory.go).
	buildMem map[string]*buildMemory
	// remaps are the remapped tables by replication/db (remap.go).
	remaps map[string]moves
	// sessions keeps the connections of finished table copies for the
	// next table (sessions.go).
	sessions sessions
}

// lane takes one COPY lane of a replication (released by the returned
// function), waiting for one to be free.
func (p *Provider) lane(ctx context.Context, replication string, jobs int) (func(), error) {
	p.mu.Lock()
	if p.lanes == nil {
		p.lanes = map[string]chan struct{}{}
	}
	l := p.lanes[replication]
	if l == nil {
		l = make(chan struct{}, max(jobs, 1))
		p.lanes[replication] = l
	}
	p.mu.Unlock()
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// New returns a provider for the plan's replications.
func New(p *plans.Plan, replications map[string]Endpoints, log hclog.Logger) *Provider {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	prov := &Provider{replications: replications, scope: map[string][]schemadump.QualifiedName{}, log: log,
		slots: map[string]*snapshot.ExportedSlot{}, snapshots: map[string]*snapshot.Held{},
		replaced: map[string][]schemadump.QualifiedName{}, filtered: map[string]bool{}, truncated: map[string]*sync.Once{}, truncErr: map[string]error{},
		remaps: map[string]moves{}}
	for _, c := range p.Changes {
		if c.Addr.Kind != addrs.Table || c.Action == plans.Delete {
			continue
		}
		ref, err := tableRef(c.Addr.Key)
		if err != nil {
			continue
		}
		k := key(c.Addr.Replication, ref.Database)
		q := schemadump.QualifiedName{Schema: ref.Schema, Name: ref.Table}
		prov.scope[k] = append(prov.scope[k], q)
		after, _ := c.After.(*plans.TableAttrs)
		if after == nil {
			continue
		}
		if after.Filter != "" {
			prov.filtered[k] = true
		}
		if after.TargetTable != "" {
			if prov.remaps[k] == nil {
				prov.remaps[k] = moves{}
			}
			prov.remaps[k][q] = schemadump.QualifiedName{Schema: after.TargetSchema, Name: after.TargetTable}
		}
		if c.Action == plans.Replace && !after.CopiedByTableSync {
			// Tables the subscription's table sync copies again empty
			// themselves (recopyByTableSync); these are copied in a
			// snapshot.
			if !after.SchemaOnly {
				prov.replaced[k] = append(prov.replaced[k], q)
				prov.truncated[k] = &sync.Once{}
			}
		}
	}
	return prov
}

var _ executor.Provider = (*Provider)(nil)

// key identifies one database of one replication.
func key(replication, db string) string { return replication + "/" + db }

// endpoints returns the servers of a change's replication.
func (p *Provider) endpoints(c *plans.Change) (Endpoints, error) {
	ep, ok := p.replications[c.Addr.Replication]
	if !ok {
		return Endpoints{}, fmt.Errorf("%s: replication %q has no endpoints", c.Addr, c.Addr.Replication)
	}
	return ep, nil
}

// Apply performs one change.
func (p *Provider) Apply(ctx context.Context, c *plans.Change, progress executor.Progress) (plans.Attrs, error) {
	ep, err := p.endpoints(c)
	if err != nil {
		return nil, err
	}
	var attrs plans.Attrs
	switch c.Addr.Kind {
	case addrs.Database:
		attrs, err = p.database(ctx, ep, c)
	case addrs.Globals:
		attrs, err = p.globals(ctx, ep, c)
	case addrs.Schema:
		attrs, err = p.schema(ctx, ep, c)
	case addrs.Publication:
		attrs, err = p.publication(ctx, ep, c)
	case addrs.Slot:
		attrs, err = p.slot(ctx, ep, c)
	case addrs.Table:
		attrs, err = p.table(ctx, ep, c, progress)
	case addrs.PostData:
		attrs, err = p.postData(ctx, ep, c)
	case addrs.Sequences:
		attrs, err = p.sequences(ctx, ep, c)
	case addrs.Subscription:
		attrs, err = p.subscription(ctx, ep, c)
	case addrs.Xmin:
		attrs, err = p.xmin(ctx, ep, c)
	case addrs.DDLCapture:
		attrs, err = p.ddlCapture(ctx, ep, c)
	case addrs.Cutover:
		// Only destroy plans a cutover record, to forget it.
		if c.Action != plans.Delete {
			err = fmt.Errorf("a cutover is run by the cutover command, not by apply")
		}
	default:
		err = fmt.Errorf("no action for %s", c.Addr.Kind)
	}
	if err != nil {
		// The executor names the address and the action.
		return nil, err
	}
	return attrs, nil
}

// Close releases the exported snapshots held by the run and closes the
// connections kept for table copies.
func (p *Provider) Close(ctx context.Context) error {
	p.sessions.closeAll(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	var first error
	for k, s := range p.slots {
		if err := s.Close(ctx); err != nil && first == nil {
			first = err
		}
		delete(p.slots, k)
	}
	for k, s := range p.snapshots {
		if err := s.Close(ctx); err != nil && first == nil {
			first = err
		}
		delete(p.snapshots, k)
	}
	return first
}

// attrsOf returns the attributes a change acts on (what the resource was
// for a delete, what it will be otherwise) as the kind's type. They are
// the plan's: an action copies them before it records more.
func attrsOf[T plans.Attrs](c *plans.Change) (T, error) {
	a, ok := c.Acted().(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("the change carries no %s attributes (%T): run plan again", c.Addr.Kind, c.Acted())
	}
	return a, nil
}
