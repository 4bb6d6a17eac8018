package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/database-replicator/database-replicator/executor"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres"
)

// errSnapshotGone explains what happens when a copy has no snapshot.
var errSnapshotGone = errors.New("the exported snapshot of this database's replication slot is gone (an earlier apply stopped after creating the slot): run plan again; it recreates the slot and copies the database's tables again inside the new snapshot")

// tableRef parses a table address key.
func tableRef(k string) (lang.TableRef, error) { return lang.ParseTableRef(k) }

// snapshotFor returns the snapshot every copy of a database runs in: the
// slot's exported snapshot (logical) or one held for the run (xmin).
func (p *Provider) snapshotFor(ctx context.Context, ep Endpoints, replication, db string, logical bool) (name string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := key(replication, db)
	if logical {
		s := p.slots[k]
		if s == nil || !s.Alive() {
			return "", errSnapshotGone
		}
		return s.SnapshotName, nil
	}
	if s := p.snapshots[k]; s != nil {
		return s.Name, nil
	}
	s, err := postgres.ExportSnapshot(ctx, ep.Source.WithDatabase(db))
	if err != nil {
		return "", err
	}
	p.snapshots[k] = s
	return s.Name, nil
}

// table copies one table inside its database's snapshot.
func (p *Provider) table(ctx context.Context, ep Endpoints, c *plans.Change, progress executor.Progress) (plans.Attrs, error) {
	if c.Action == plans.Delete {
		return nil, nil // stop managing it; the target keeps its rows
	}
	ref, err := tableRef(c.Addr.Key)
	if err != nil {
		return nil, err
	}
	after, err := attrsOf[*plans.TableAttrs](c)
	if err != nil {
		return nil, err
	}
	if after.SchemaOnly {
		return after, nil
	}
	if after.CopiedByTableSync && c.Action == plans.Replace {
		return p.recopyByTableSync(ctx, ep, c.Addr.Key, after, ref)
	}
	// Only the slot-based methods copy in a slot's exported snapshot; xmin
	// and none copy in one snapshot held for the run.
	logical := after.Method == lang.SyncLogical || after.Method == lang.SyncStream
	snap, err := p.snapshotFor(ctx, ep, c.Addr.Replication, ref.Database, logical)
	if err != nil {
		return nil, err
	}
	src, err := postgres.Connect(ctx, ep.Source.WithDatabase(ref.Database))
	if err != nil {
		return nil, err
	}
	defer src.Close(context.Background())
	dst, err := postgres.Connect(ctx, ep.Target.WithDatabase(ref.Database))
	if err != nil {
		return nil, err
	}
	defer dst.Close(context.Background())
	filter := after.Filter
	if logical && filter != "" {
		// Copy exactly what the publication streams: its stored filter
		// (a time window is frozen to a constant there).
		pub := after.Publication
		stored, published, err := postgres.PublicationRowFilter(ctx, src, pub, ref.Schema, ref.Table)
		if err != nil {
			return nil, err
		}
		if !published {
			return nil, fmt.Errorf("publication %s does not carry the table: run plan again", pub)
		}
		filter = stored
	}
	if c.Action == plans.Replace {
		if err := p.truncateReplaced(ctx, ep, c.Addr.Replication, ref.Database); err != nil {
			return nil, err
		}
		// Foreign keys and triggers exist on a table copied again: the
		// copy must not fire them (rows arrive in any order).
		if _, err := dst.Exec(ctx, "SET session_replication_role = replica"); err != nil {
			return nil, fmt.Errorf("copy again needs superuser on the target (SET session_replication_role = replica): %w", err)
		}
	}
	req := postgres.CopyRequest{Schema: ref.Schema, Table: ref.Table, Filter: filter, Snapshot: snap}
	onProgress := func(rows, bytes int64) { progress.Rows(rows); progress.Bytes(bytes) }
	size := after.Bytes
	out := *after
	if ep.SplitLargerThan > 0 && size > ep.SplitLargerThan && ep.SplitParts > 1 {
		stats, parts, err := p.copySplit(ctx, ep, c.Addr.Replication, ref.Database, req, src, ep.SplitParts, c.Action == plans.Replace, onProgress)
		if err != nil {
			return nil, err
		}
		if err := p.buildWithTable(ctx, ep, c.Addr.Replication, ref); err != nil {
			return nil, err
		}
		out.CopiedRows, out.CopiedBytes, out.Parts = &stats.Rows, &stats.Bytes, &parts
		return &out, nil
	}
	release, err := p.lane(ctx, c.Addr.Replication, ep.SplitParts)
	if err != nil {
		return nil, err
	}
	// A first copy goes into an empty table: write it frozen.
	req.Freeze = c.Action == plans.Create
	stats, err := postgres.CopyTable(ctx, src, dst, req, onProgress)
	release()
	if err != nil {
		return nil, err
	}
	if err := p.buildWithTable(ctx, ep, c.Addr.Replication, ref); err != nil {
		return nil, err
	}
	out.CopiedRows, out.CopiedBytes = &stats.Rows, &stats.Bytes
	return &out, nil
}

// xmin records the xmin watermark the table's sync starts from.
func (p *Provider) xmin(ctx context.Context, ep Endpoints, c *plans.Change) (plans.Attrs, error) {
	if c.Action == plans.Delete {
		return nil, nil
	}
	after, err := attrsOf[*plans.XminAttrs](c)
	if err != nil {
		return nil, err
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

// deleteAllRows empties tables with DELETE in one transaction, with
// session_replication_role = replica so that foreign keys neither refuse
// nor cascade.
func deleteAllRows(ctx context.Context, conn *pgx.Conn, tables []string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
		return fmt.Errorf("needs superuser on the target (SET session_replication_role = replica): %w", err)
	}
	for _, t := range tables {
		if _, err := tx.Exec(ctx, "DELETE FROM ONLY "+t); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// truncateReplaced empties every table of a database that this run copies
// again, in one TRUNCATE, once, before the first of them is copied: the
// tables may reference each other, so they cannot be truncated one by one.
func (p *Provider) truncateReplaced(ctx context.Context, ep Endpoints, replication, db string) error {
	k := key(replication, db)
	p.mu.Lock()
	once := p.truncated[k]
	p.mu.Unlock()
	if once == nil {
		return nil
	}
	once.Do(func() {
		var names []string
		for _, q := range p.replaced[k] {
			names = append(names, pgx.Identifier{q.Schema, q.Name}.Sanitize())
		}
		conn, err := postgres.Connect(ctx, ep.Target.WithDatabase(db))
		if err != nil {
			p.truncErr[k] = err
			return
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, "TRUNCATE ONLY "+strings.Join(names, ", "))
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "0A000" {
			// A table outside this set references one of them (a foreign
			// key): TRUNCATE refuses, so empty them with DELETE, foreign-key
			// triggers off, so that the referencing rows stay — they match
			// again once the rows are copied back.
			err = deleteAllRows(ctx, conn, names)
		}
		if err != nil {
			p.truncErr[k] = fmt.Errorf("empty the tables copied again (%s): %w", strings.Join(names, ", "), err)
		}
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.truncErr[k]
}

// copySplit copies a big table as parallel CTID ranges, every part inside
// the same snapshot, each with its own source and target connection (with
// foreign keys and triggers off when the table is copied again). The
// parts commit separately: an interrupted split copy leaves the change in
// progress, and the next plan truncates and copies the table again.
func (p *Provider) copySplit(ctx context.Context, ep Endpoints, replication, db string, req postgres.CopyRequest, src *pgx.Conn, parts int, again bool, onProgress func(rows, bytes int64)) (postgres.CopyStats, int, error) {
	blocks, err := postgres.TableBlocks(ctx, src, req.Schema, req.Table)
	if err != nil {
		return postgres.CopyStats{}, 0, err
	}
	ranges := postgres.SplitByCTID(blocks, parts)
	var mu sync.Mutex
	var total postgres.CopyStats
	g, gctx := errgroup.WithContext(ctx)
	for i := range ranges {
		part := ranges[i]
		g.Go(func() error {
			s, err := postgres.Connect(gctx, ep.Source.WithDatabase(db))
			if err != nil {
				return err
			}
			defer s.Close(context.Background())
			d, err := postgres.Connect(gctx, ep.Target.WithDatabase(db))
			if err != nil {
				return err
			}
			defer d.Close(context.Background())
			if again {
				if _, err := d.Exec(gctx, "SET session_replication_role = replica"); err != nil {
					return fmt.Errorf("copy again needs superuser on the target (SET session_replication_role = replica): %w", err)
				}
			}
			r := req
			r.CTIDRange = &part
			release, err := p.lane(gctx, replication, parts)
			if err != nil {
				return err
			}
			st, err := postgres.CopyTable(gctx, s, d, r, func(rows, bytes int64) {
				mu.Lock()
				defer mu.Unlock()
				onProgress(rows, bytes)
			})
			release()
			if err != nil {
				return err
			}
			mu.Lock()
			total.Rows += st.Rows
			total.Bytes += st.Bytes
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return postgres.CopyStats{}, 0, err
	}
	return total, len(ranges), nil
}

// catchUpTimeout bounds the wait for a subscription to apply what was
// published before tables were dropped from its publication for a re-copy.
const catchUpTimeout = 5 * time.Minute

// waitApplied waits until the subscription streaming from slot has
// applied every change the source wrote up to now (the slot confirms a
// position at or past the source's current WAL position). Called after
// the publication dropped tables for a re-copy and the subscription's
// refresh took them out of pg_subscription_rel: from then on no change
// written before the drop can reach them, so emptying them is safe.
func (p *Provider) waitApplied(ctx context.Context, ep Endpoints, db, slot string, refs []lang.TableRef) error {
	tables := make([]string, len(refs))
	for i, r := range refs {
		tables[i] = r.String()
	}
	src, err := postgres.Connect(ctx, ep.Source.WithDatabase(db))
	if err != nil {
		return err
	}
	defer src.Close(context.Background())
	var lsn string
	if err := src.QueryRow(ctx, "SELECT pg_catalog.pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return fmt.Errorf("read the source's WAL position: %w", err)
	}
	deadline := time.Now().Add(catchUpTimeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		var confirmed *string
		var done bool
		err := src.QueryRow(ctx, `SELECT confirmed_flush_lsn::text, COALESCE(confirmed_flush_lsn >= $2::pg_lsn, false)
			FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, slot, lsn).Scan(&confirmed, &done)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("replication slot %q is gone: run plan again", slot)
		case err != nil:
			return fmt.Errorf("read the position of replication slot %q: %w", slot, err)
		case done:
			p.log.Info("subscription caught up before the re-copy", "database", db, "slot", slot, "lsn", lsn, "tables", strings.Join(tables, ", "))
			return nil
		case time.Now().After(deadline):
			at := "none"
			if confirmed != nil {
				at = *confirmed
			}
			return fmt.Errorf("the subscription has not applied the source's changes up to %s after %s (slot %q confirmed %s): is it streaming? %s stay out of the publication until it has; run apply again",
				lsn, catchUpTimeout, slot, at, strings.Join(tables, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// recopyByTableSync copies a table again while streaming goes on, with
// PostgreSQL's own table sync (the slot's exported snapshot is long gone).
// The plan ran before it: the publication dropped the table, and the
// subscription's refresh took it out of pg_subscription_rel and waited
// until every earlier change was applied. This change:
//
//  1. checks that the subscription no longer lists the table (its apply
//     worker must not write to it any more);
//  2. empties it on the target: TRUNCATE, or, when foreign keys of other
//     tables reference it, DELETE with triggers (and so foreign-key
//     checks) off, as a subscription's apply worker runs;
//  3. adds it to the publication with its filter (a time window frozen to
//     a constant cut-off), in one transaction with dropping it first if
//     a rerun finds it there;
//  4. refreshes the subscription with copy_data = true: the table sync
//     copies the rows matching the filter in a snapshot of its own, then
//     hands the table to streaming without a gap.
//
// Every step can run again: an interrupted change is planned again from
// the publication's drop on.
func (p *Provider) recopyByTableSync(ctx context.Context, ep Endpoints, key string, after *plans.TableAttrs, ref lang.TableRef) (plans.Attrs, error) {
	pubName, subName, filter := after.Publication, after.Subscription, after.Filter
	if pubName == "" || subName == "" {
		return nil, errors.New("the change names no publication or subscription: run plan again")
	}
	table := pgx.Identifier{ref.Schema, ref.Table}.Sanitize()
	dst, err := postgres.Connect(ctx, ep.Target.WithDatabase(ref.Database))
	if err != nil {
		return nil, err
	}
	defer dst.Close(context.Background())
	var listed, referenced, partitioned bool
	err = dst.QueryRow(ctx, `WITH tree AS (SELECT relid FROM pg_catalog.pg_partition_tree($2::regclass))
		SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_subscription_rel sr
				JOIN pg_catalog.pg_subscription s ON s.oid = sr.srsubid
				WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
				AND sr.srrelid IN (SELECT relid FROM tree)),
			EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
				WHERE contype = 'f' AND confrelid IN (SELECT relid FROM tree) AND conrelid NOT IN (SELECT relid FROM tree)),
			(SELECT relkind = 'p' FROM pg_catalog.pg_class WHERE oid = $2::regclass)`, subName, table).Scan(&listed, &referenced, &partitioned)
	if err != nil {
		return nil, fmt.Errorf("read the subscription state of %s on the target: %w", table, err)
	}
	if listed {
		return nil, fmt.Errorf("subscription %s still lists %s (pg_subscription_rel): its apply worker may still write to it, so it is not emptied; run plan again", pgx.Identifier{subName}.Sanitize(), table)
	}
	empty := "TRUNCATE ONLY " + table
	switch {
	case referenced:
		// TRUNCATE refuses a referenced table (or would cascade): delete
		// its rows without firing the referencing foreign keys' checks.
		empty = "DELETE FROM " + table
	case partitioned:
		empty = "TRUNCATE " + table
	}
	err = pgx.BeginFunc(ctx, dst, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
			return fmt.Errorf("copy again needs superuser on the target (SET session_replication_role = replica): %w", err)
		}
		if _, err := tx.Exec(ctx, empty); err != nil {
			return fmt.Errorf("empty %s on the target: %w", table, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.log.Info("table emptied for a re-copy by the subscription's table sync", "table", key, "statement", strings.SplitN(empty, " ", 2)[0])

	src, err := postgres.Connect(ctx, ep.Source.WithDatabase(ref.Database))
	if err != nil {
		return nil, err
	}
	defer src.Close(context.Background())
	out := *after
	if w := after.TimeWindow; w != nil {
		frozen, err := freezeWindow(ctx, src, plans.TableName{Schema: ref.Schema, Table: ref.Table}, *w)
		if err != nil {
			return nil, err
		}
		filter = frozen
		out.FrozenTimeWindow = frozen
	}
	pub := pgx.Identifier{pubName}.Sanitize()
	item := table
	if filter != "" {
		item += " WHERE (" + filter + ")"
	}
	_, published, err := postgres.PublicationRowFilter(ctx, src, pubName, ref.Schema, ref.Table)
	if err != nil {
		return nil, err
	}
	err = pgx.BeginFunc(ctx, src, func(tx pgx.Tx) error {
		if published {
			if _, err := tx.Exec(ctx, "ALTER PUBLICATION "+pub+" DROP TABLE "+table); err != nil {
				return fmt.Errorf("ALTER PUBLICATION %s DROP TABLE %s: %w", pub, table, err)
			}
		}
		if _, err := tx.Exec(ctx, "ALTER PUBLICATION "+pub+" ADD TABLE "+item); err != nil {
			return fmt.Errorf("ALTER PUBLICATION %s ADD TABLE %s: %w", pub, table, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sql := "ALTER SUBSCRIPTION " + pgx.Identifier{subName}.Sanitize() + " REFRESH PUBLICATION WITH (copy_data = true)"
	if _, err := dst.Exec(ctx, sql); err != nil {
		return nil, fmt.Errorf("%s: %w", sql, err)
	}
	p.log.Info("table handed to the subscription's table sync", "table", key, "publication", pubName, "subscription", subName)
	return &out, nil
}
