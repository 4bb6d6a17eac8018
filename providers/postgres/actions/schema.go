package actions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/schemadump"
	"github.com/database-replicator/database-replicator/providers/postgres/streamapply"
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
	scope := p.schemaScope(c.Addr.Replication, db)
	perTx, err := p.preDataLockBudget(ctx, ep, db, len(scope.Tables))
	if err != nil {
		return nil, err
	}
	scope.EntriesPerTransaction = perTx
	var sql bytes.Buffer
	if err := schemadump.DumpSchema(ctx, ep.Source.WithDatabase(db), schemadump.SectionPreData, scope, &sql); err != nil {
		return nil, err
	}
	// Remapped tables move to their target names in the restore's (last)
	// transaction.
	sql.WriteString(renameSQL(p.movesOf(c.Addr.Replication, db), nil))
	if err := schemadump.ApplySQL(ctx, ep.Target.WithDatabase(db), &sql); err != nil {
		if perTx > 0 {
			return nil, fmt.Errorf("%w; the schema of the %d tables was restored in several transactions of at most %d objects each (the target's lock table is too small for one: max_locks_per_transaction), and the first of them may be committed: drop and create database %q on the target (or drop the tables created in it) before running apply again, or raise max_locks_per_transaction on the target (a restart) so that the schema is restored as one transaction", err, len(scope.Tables), perTx, db)
		}
		return nil, err
	}
	return c.After, nil
}

// preDataLockBudget returns how many objects one transaction of the
// pre-data restore of db may create on the target (schemadump.LockBudget):
// 0, one transaction for the whole schema, unless its tables need more
// locks than the target's lock table holds.
func (p *Provider) preDataLockBudget(ctx context.Context, ep Endpoints, db string, tables int) (int, error) {
	conn, err := conninfo.Connect(ctx, ep.Target.WithDatabase(db))
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	perTx, err := schemadump.LockBudget(ctx, conn, tables)
	if err != nil {
		return 0, fmt.Errorf("schema of %q: %w", db, err)
	}
	if perTx > 0 {
		p.log.Warn("the target's lock table is too small to create every table in one transaction: the schema is restored in several (not all or nothing); raise max_locks_per_transaction on the target for one",
			"database", db, "tables", tables, "objects_per_transaction", perTx)
	}
	return perTx, nil
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
	phase := func(name string) []plans.SchemaStatement {
		var out []plans.SchemaStatement
		for _, st := range after.Drift.Statements {
			if st.Phase == name {
				out = append(out, st)
			}
		}
		return out
	}
	// Schemas, types, enum values and sequences first, committed: new
	// tables and columns may use them.
	if err := schemadump.ApplyStatements(ctx, dst, phase(plans.PhaseBefore)); err != nil {
		return nil, err
	}
	if err := p.applyPartitionDrift(ctx, src, dst, after.Drift, true); err != nil {
		return nil, err
	}
	if m := p.movesOf(c.Addr.Replication, db); len(m) > 0 {
		// New tables that are remapped move to their target names in the
		// transaction that creates them; new columns go to the target names.
		missing := map[schemadump.QualifiedName]bool{}
		for _, q := range tables {
			missing[q] = true
		}
		if rename := renameSQL(m, func(q schemadump.QualifiedName) bool { return missing[q] }); rename != "" {
			pre = append(pre, schemadump.PostDataItem{Kind: "RENAME", Name: "remapped tables", SQL: rename})
		}
		post = remapItems(post, m)
		for i := range defs {
			if to := p.targetOf(c.Addr.Replication, db, defs[i].Table); to != defs[i].Table {
				defs[i].SourceTable, defs[i].Table = defs[i].Table, to
			}
		}
	}
	if err := schemadump.ApplyDDL(ctx, src, dst, pre, defs, warn); err != nil {
		return nil, err
	}
	jobs := max(ep.IndexJobs, 1)
	// The primary key must exist before the subscription's table sync and
	// apply worker use the table.
	if err := schemadump.ApplyPostData(ctx, dst, post, jobs); err != nil {
		return nil, fmt.Errorf("schema drift: %w", err)
	}
	// Column changes, constraints, indexes, triggers and views, once the
	// new tables and columns exist.
	if err := schemadump.ApplyStatements(ctx, dst, phase(plans.PhaseAlter)); err != nil {
		return nil, err
	}
	if err := p.applyPartitionDrift(ctx, src, dst, after.Drift, false); err != nil {
		return nil, err
	}
	// What the source no longer has, last, once rows written before it
	// went have arrived.
	if drops := phase(plans.PhaseDrop); len(drops) > 0 {
		passed, err := p.streamPassed(ctx, ep, c.Addr.Replication, db, after.Drift)
		if err != nil {
			return nil, err
		}
		if passed {
			if err := schemadump.ApplyStatements(ctx, dst, drops); err != nil {
				return nil, err
			}
		} else {
			p.log.Warn("schema drift: the drops wait until the stream has applied the rows written before them (the subscription is disabled, or the stream engine's slot still holds such rows: sync applies them); plan shows them until then",
				"database", db, "slot", after.Drift.Slot, "statements", len(drops))
		}
	}
	p.log.Info("schema drift applied", "database", db, "tables", len(tables), "columns", len(defs), "items", len(pre)+len(post), "statements", len(after.Drift.Statements))
	return c.After, nil
}

// streamPassed waits until the stream from the drift's slot (none: true
// at once) has applied every change the source wrote up to now, and
// reports whether it has: false, at once, when the subscription is
// disabled (sync is paused), and when it has not within catchUpTimeout.
// The stream engine's slot (drift.Publication set, no subscription) is
// waited for while sync's applier reads it; without one, the slot's
// pending changes are read (peeked) at once.
func (p *Provider) streamPassed(ctx context.Context, ep Endpoints, replication, db string, drift *plans.SchemaDrift) (bool, error) {
	slot := drift.Slot
	if slot == "" {
		return true, nil
	}
	if drift.Publication != "" {
		return p.engineStreamPassed(ctx, ep, replication, db, drift)
	}
	dst, err := conninfo.Connect(ctx, ep.Target.WithDatabase(db))
	if err != nil {
		return false, err
	}
	var enabled bool
	err = dst.QueryRow(ctx, "SELECT subenabled FROM pg_catalog.pg_subscription WHERE subslotname = $1", slot).Scan(&enabled)
	dst.Close(context.WithoutCancel(ctx))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read the subscription of slot %q: %w", slot, err)
	case !enabled:
		return false, nil
	}
	if err := p.waitApplied(ctx, ep, db, slot, nil); err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		// Not caught up (a worker stopped on something else, a lost
		// slot): the drops wait for a later apply.
		p.log.Warn("schema drift: the subscription did not catch up", "database", db, "error", err)
		return false, nil
	}
	return true, nil
}

// engineStreamPassed is streamPassed for the stream engine's slot: while
// an applier (sync) reads it, wait until it has applied everything the
// source wrote up to now; with none (also once it stops), whether the
// slot holds a transaction with row changes that the target has not
// applied (its progress row).
func (p *Provider) engineStreamPassed(ctx context.Context, ep Endpoints, replication, db string, drift *plans.SchemaDrift) (bool, error) {
	src, err := conninfo.Connect(ctx, ep.Source.WithDatabase(db))
	if err != nil {
		return false, err
	}
	defer src.Close(context.WithoutCancel(ctx))
	now, err := snapshot.CommittedLSN(ctx, src)
	if err != nil {
		return false, fmt.Errorf("the source's WAL position: %w", err)
	}
	lsn := now.String()
	deadline := time.Now().Add(catchUpTimeout)
	for {
		var active, done bool
		err = src.QueryRow(ctx, `SELECT active, COALESCE(confirmed_flush_lsn >= $2::pg_lsn, false)
			FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, drift.Slot, lsn).Scan(&active, &done)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return false, nil
		case err != nil:
			return false, fmt.Errorf("read replication slot %q: %w", drift.Slot, err)
		case done:
			return true, nil
		case !active:
			return p.nothingPending(ctx, src, ep, replication, db, drift)
		case time.Now().After(deadline):
			p.log.Warn("schema drift: the stream did not catch up", "database", db, "slot", drift.Slot, "lsn", lsn)
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// nothingPending reports whether the stream engine's idle slot holds no
// transaction with row changes that the target has not applied.
func (p *Provider) nothingPending(ctx context.Context, src *pgx.Conn, ep Endpoints, replication, db string, drift *plans.SchemaDrift) (bool, error) {
	dst, err := conninfo.Connect(ctx, ep.Target.WithDatabase(db))
	if err != nil {
		return false, err
	}
	progress, _, err := streamapply.ReadProgress(ctx, dst, replication)
	dst.Close(context.WithoutCancel(ctx))
	if err != nil {
		return false, err
	}
	pending, err := streamapply.Pending(ctx, src, drift.Slot, drift.Publication, progress.AppliedLSN)
	if err != nil {
		// An applier connected meanwhile: the drops wait for a later apply.
		p.log.Warn("schema drift: the stream's pending changes could not be read", "database", db, "error", err)
		return false, nil
	}
	return !pending, nil
}
