package actions

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/datacopy"
	"github.com/database-replicator/database-replicator/providers/postgres/schemadump"
	"github.com/jackc/pgx/v5"
)

// postDataOnce is one database's post-data dump.
type postDataOnce struct {
	once  sync.Once
	items []schemadump.PostDataItem
	err   error
}

// postData builds indexes, constraints and triggers after the copy.
func (p *Provider) postData(ctx context.Context, ep Endpoints, c *plans.Change) (plans.Attrs, error) {
	if c.Action == plans.Delete {
		return nil, nil
	}
	db := c.Addr.Key
	after, err := attrsOf[*plans.PostDataAttrs](c)
	if err != nil {
		return nil, err
	}
	if c.Action == plans.Update {
		// Only materialized views or database properties differ.
		if err := refreshMaterializedViews(ctx, ep.Target.WithDatabase(db), after.RefreshMaterializedViews, after.NoDataMaterializedViews); err != nil {
			return nil, err
		}
		return after, p.setDatabaseProperties(ctx, ep.Target, db, after.Database)
	}
	all, err := p.postDataItems(ctx, ep, c.Addr.Replication, db)
	if err != nil {
		return nil, err
	}
	// What was built with its table in this run is done; the rest (and,
	// after a resume, everything: existing objects count as done) runs now.
	p.mu.Lock()
	built := p.built[key(c.Addr.Replication, db)]
	var items []schemadump.PostDataItem
	for _, it := range all {
		if !built[it.ID] {
			items = append(items, it)
		}
	}
	p.mu.Unlock()
	jobs := ep.IndexJobs
	if jobs < 1 {
		jobs = 1
	}
	if err := schemadump.ApplyPostData(ctx, ep.Target.WithDatabase(db), items, jobs); err != nil {
		return nil, err
	}
	los, err := datacopy.CopyLargeObjects(ctx, ep.Source.WithDatabase(db), ep.Target.WithDatabase(db), p.currentSnapshot(c.Addr.Replication, db))
	if err != nil {
		return nil, err
	}
	// After the data and the indexes: populated exactly as on the source.
	if err := refreshMaterializedViews(ctx, ep.Target.WithDatabase(db), after.RefreshMaterializedViews, after.NoDataMaterializedViews); err != nil {
		return nil, err
	}
	if err := p.analyze(ctx, ep, c.Addr.Replication, db); err != nil {
		return nil, err
	}
	// Last: a setting such as default_transaction_read_only or a revoked
	// CONNECT must not get in the way of the copy.
	if err := p.setDatabaseProperties(ctx, ep.Target, db, after.Database); err != nil {
		return nil, err
	}
	out := *after
	count := len(all)
	out.Items, out.LargeObjects = &count, &los
	return &out, nil
}

// notValidForeignKeys adds NOT VALID to foreign keys: with row filters, a
// kept row may reference a row the filter left out, and validating the
// constraint would fail. New rows are still checked; logical replication
// applies changes without firing the checks, as on any subscriber.
func notValidForeignKeys(items []schemadump.PostDataItem) []schemadump.PostDataItem {
	out := make([]schemadump.PostDataItem, len(items))
	for i, it := range items {
		if it.Kind == "FK CONSTRAINT" && !it.Partitioned && !strings.Contains(it.SQL, "NOT VALID") {
			sql := strings.TrimRight(it.SQL, " \n")
			if strings.HasSuffix(sql, ";") {
				it.SQL = strings.TrimSuffix(sql, ";") + " NOT VALID;\n"
			}
		}
		out[i] = it
	}
	return out
}

// currentSnapshot is the snapshot the run's copies of a database used, if
// it is still held ("" after a resume: large objects are then read as of
// now, which is what the copy of a resumed run has to accept anyway).
func (p *Provider) currentSnapshot(replication, db string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := key(replication, db)
	if s := p.slots[k]; s != nil && s.Alive() {
		return s.SnapshotName
	}
	if s := p.snapshots[k]; s != nil {
		return s.Name
	}
	return ""
}

// postDataItems returns a database's post-data items, dumped once per run
// (the first table copied triggers it; post-data reuses it).
func (p *Provider) postDataItems(ctx context.Context, ep Endpoints, replication, db string) ([]schemadump.PostDataItem, error) {
	k := key(replication, db)
	p.mu.Lock()
	if p.post == nil {
		p.post = map[string]*postDataOnce{}
	}
	o := p.post[k]
	if o == nil {
		o = &postDataOnce{}
		p.post[k] = o
	}
	p.mu.Unlock()
	o.once.Do(func() {
		o.items, o.err = schemadump.DumpPostData(ctx, ep.Source.WithDatabase(db), p.schemaScope(replication, db))
		if o.err == nil && p.filtered[k] {
			o.items = notValidForeignKeys(o.items)
		}
		if o.err == nil {
			o.items = remapItems(o.items, p.movesOf(replication, db))
		}
	})
	return o.items, o.err
}

// buildWithTable builds a copied table's indexes and primary key, unique,
// check and exclusion constraints right after its copy, while other tables
// are still being copied, then analyzes it. Foreign keys, triggers and the
// rest wait for post-data. conn, when not nil, is an open connection to the
// table's database on the target that is free to use (the copy's, after
// its commit): the builds and the ANALYZE run on it, which saves opening
// two connections per table; its session settings are changed. When nil,
// a connection is opened for them. tableBytes (the source's size of the
// table) sizes the builds' maintenance_work_mem (buildMemory).
func (p *Provider) buildWithTable(ctx context.Context, ep Endpoints, replication string, ref lang.TableRef, conn *pgx.Conn, tableBytes int64) error {
	items, err := p.postDataItems(ctx, ep, replication, ref.Database)
	if err != nil {
		return err
	}
	// Items name the table as it is called on the target (remapItems).
	table := p.targetOf(replication, ref.Database, schemadump.QualifiedName{Schema: ref.Schema, Name: ref.Table})
	var mine []schemadump.PostDataItem
	for _, it := range items {
		if it.BuildsWithTable() && it.Table == table {
			mine = append(mine, it)
		}
	}
	if conn == nil {
		c, err := conninfo.Connect(ctx, ep.Target.WithDatabase(ref.Database))
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		conn = c
	}
	if len(mine) == 0 {
		tableBytes = 0 // nothing to build: no memory to size
	}
	// The ANALYZE runs with the builds' setting too: it evaluates the
	// index expressions just built.
	err = p.withBuildMemory(ctx, replication, conn, tableBytes, ep.IndexJobs, func() error {
		if err := schemadump.ApplyPostDataOn(ctx, conn, mine); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, "ANALYZE "+table.String()); err != nil {
			return fmt.Errorf("analyze %s: %w", table, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	k := key(replication, ref.Database)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.built == nil {
		p.built, p.analyzed = map[string]map[int]bool{}, map[string]map[schemadump.QualifiedName]bool{}
	}
	if p.built[k] == nil {
		p.built[k], p.analyzed[k] = map[int]bool{}, map[schemadump.QualifiedName]bool{}
	}
	for _, it := range mine {
		p.built[k][it.ID] = true
	}
	p.analyzed[k][table] = true
	return nil
}

// analyze gathers planner statistics for the copied tables of a database
// that were not analyzed right after their copy, so that the target plans
// queries well from the first minute.
func (p *Provider) analyze(ctx context.Context, ep Endpoints, replication, db string) error {
	p.mu.Lock()
	var tables []schemadump.QualifiedName
	for _, t := range p.scope[key(replication, db)] {
		if t = p.targetOf(replication, db, t); !p.analyzed[key(replication, db)][t] {
			tables = append(tables, t)
		}
	}
	p.mu.Unlock()
	if len(tables) == 0 {
		return nil
	}
	conn, err := conninfo.Connect(ctx, ep.Target.WithDatabase(db))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.String()
	}
	if _, err := conn.Exec(ctx, "ANALYZE "+strings.Join(names, ", ")); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}
