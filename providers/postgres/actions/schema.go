package actions

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/schemadump"
)

// schemaScope is the dump scope of one database: its tables in the plan.
func (p *Provider) schemaScope(replication, db string) schemadump.SchemaScope {
	return schemadump.SchemaScope{
		Tables: p.scope[key(replication, db)],
		Warn:   func(msg string) { p.log.Warn(msg, "database", db) },
	}
}

// schema restores the pre-data schema of one database.
func (p *Provider) schema(ctx context.Context, ep Endpoints, c *plans.Change) (plans.Attrs, error) {
	db := c.Addr.Key
	switch c.Action {
	case plans.Delete:
		return nil, nil
	case plans.Update:
		return p.schemaDrift(ctx, ep, c)
	}
	var sql bytes.Buffer
	if err := schemadump.DumpSchema(ctx, ep.Source.WithDatabase(db), schemadump.SectionPreData, p.schemaScope(c.Addr.Replication, db), &sql); err != nil {
		return nil, err
	}
	if err := schemadump.ApplySQL(ctx, ep.Target.WithDatabase(db), &sql); err != nil {
		return nil, err
	}
	return c.After, nil
}

// schemaDrift creates the tables and adds the columns the source gained
// after the first apply (DDL is not replicated by PostgreSQL): the new
// tables from the source's schema dump, restricted to their catalog ids
// (pre-data in one transaction together with the new columns, then their
// primary keys, indexes, constraints and triggers), before the
// publication carries them and the subscription's table sync fills them.
// Every step is idempotent: an interrupted apply is simply run again.
func (p *Provider) schemaDrift(ctx context.Context, ep Endpoints, c *plans.Change) (plans.Attrs, error) {
	db := c.Addr.Key
	src, dst := ep.Source.WithDatabase(db), ep.Target.WithDatabase(db)
	after, err := attrsOf[*plans.SchemaAttrs](c)
	if err != nil {
		return nil, err
	}
	if after.Drift == nil {
		return nil, errors.New("schema drift: the change names no drift: run plan again")
	}
	var tables []schemadump.QualifiedName
	for _, ref := range after.Drift.MissingTables {
		tables = append(tables, schemadump.QualifiedName{Schema: ref.Schema, Name: ref.Table})
	}
	columns := map[schemadump.QualifiedName][]string{}
	for ref, cols := range after.Drift.AddColumns {
		columns[schemadump.QualifiedName{Schema: ref.Schema, Name: ref.Table}] = cols
	}
	warn := func(msg string) { p.log.Warn(msg, "database", db) }
	scope := p.schemaScope(c.Addr.Replication, db)
	pre, post, err := schemadump.DumpTables(ctx, src, scope, tables)
	if err != nil {
		return nil, fmt.Errorf("schema drift: %w", err)
	}
	if p.filtered[key(c.Addr.Replication, db)] {
		post = notValidForeignKeys(post)
	}
	defs, err := schemadump.ColumnDefinitions(ctx, src, columns)
	if err != nil {
		return nil, fmt.Errorf("schema drift: %w", err)
	}
	if err := p.applyPartitionDrift(ctx, src, dst, after.Drift, true); err != nil {
		return nil, err
	}
	if err := schemadump.ApplyDDL(ctx, dst, pre, defs, warn); err != nil {
		return nil, err
	}
	jobs := max(ep.IndexJobs, 1)
	// The primary key must exist before the subscription's table sync and
	// apply worker use the table.
	if err := schemadump.ApplyPostData(ctx, dst, post, jobs); err != nil {
		return nil, fmt.Errorf("schema drift: %w", err)
	}
	if err := p.applyPartitionDrift(ctx, src, dst, after.Drift, false); err != nil {
		return nil, err
	}
	p.log.Info("schema drift applied", "database", db, "tables", len(tables), "columns", len(defs), "items", len(pre)+len(post))
	return c.After, nil
}
