package actions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/database-replicator/database-replicator/executor"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/datacopy"
	"github.com/database-replicator/database-replicator/providers/postgres/rowfilter"
	"github.com/database-replicator/database-replicator/providers/postgres/schemadump"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
	"github.com/database-replicator/database-replicator/providers/postgres/streamapply"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"
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
	s, err := snapshot.Export(ctx, ep.Source.WithDatabase(db))
	if err != nil {
		return "", err
	}
	p.snapshots[k] = s
	return s.Name, nil
}

// resumedSnapshotFor returns the snapshot the tables of a resumed stream
// snapshot are copied in, and its consistent point: the permanent slot is
// kept, and one TEMPORARY slot per database and run exports a newer
// snapshot (dropped by the server when the run ends). Its consistent point
// splits the source's transactions exactly: those that committed before
// it are in the copy, the stream applies the others.
func (p *Provider) resumedSnapshotFor(ctx context.Context, ep Endpoints, replication, db, publication string) (string, pglogrepl.LSN, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := key(replication, db)
	s := p.slots[k]
	if s == nil {
		name := resumeSlotName(publication, db)
		var err error
		s, err = snapshot.CreateTemporarySlotWithSnapshot(ctx, ep.Source.WithDatabase(db), name)
		if err != nil {
			return "", 0, fmt.Errorf("new snapshot for the tables copied again: %w", err)
		}
		p.slots[k] = s
		p.log.Info("temporary replication slot created for the resumed snapshot", "slot", name, "database", db, "consistent_point", s.ConsistentPoint)
	}
	if !s.Alive() {
		return "", 0, errSnapshotGone
	}
	lsn, err := pglogrepl.ParseLSN(s.ConsistentPoint)
	if err != nil {
		return "", 0, fmt.Errorf("consistent point of slot %q: %w", s.Name, err)
	}
	return s.SnapshotName, lsn, nil
}

// resumeSlotName names the temporary slot of a resumed snapshot: a valid
// slot name (lower case, digits, underscores, at most 63 bytes) that is
// unique per process, so that two runs never collide.
func resumeSlotName(publication, db string) string {
	base := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, publication+"_"+db)
	suffix := fmt.Sprintf("_resume_%d", os.Getpid())
	if len(base) > 63-len(suffix) {
		base = base[:63-len(suffix)]
	}
	return base + suffix
}

// table copies one table inside its database's snapshot, on connections
// kept from the tables copied before it (sessions).
func (p *Provider) table(ctx context.Context, ep Endpoints, c *plans.Change, progress executor.Progress) (_ plans.Attrs, err error) {
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
	var snap string
	var streamFrom pglogrepl.LSN
	if logical && after.NewSnapshot {
		snap, streamFrom, err = p.resumedSnapshotFor(ctx, ep, c.Addr.Replication, ref.Database, after.Publication)
	} else {
		snap, err = p.snapshotFor(ctx, ep, c.Addr.Replication, ref.Database, logical)
	}
	if err != nil {
		return nil, err
	}
	srcKey, dstKey := sessionKey("source", c.Addr.Replication, ref.Database), sessionKey("target", c.Addr.Replication, ref.Database)
	src, err := p.sessions.get(ctx, srcKey, ep.Source.WithDatabase(ref.Database))
	if err != nil {
		return nil, err
	}
	defer func() { p.sessions.put(ctx, srcKey, src, err == nil) }()
	dst, err := p.sessions.get(ctx, dstKey, ep.Target.WithDatabase(ref.Database))
	if err != nil {
		return nil, err
	}
	defer func() { p.sessions.put(ctx, dstKey, dst, err == nil) }()
	filter := after.Filter
	// Before PostgreSQL 15 publications carry no row filters: the stream
	// applier filters the changes itself, with the filter recorded here.
	applierFilter := false
	if after.Method == lang.SyncStream {
		version, err := conninfo.ServerVersionNum(ctx, src)
		if err != nil {
			return nil, err
		}
		applierFilter = version < 150000
	}
	var frozen string
	if applierFilter && after.TimeWindow != nil {
		// Frozen to a constant cut-off once, here: the copy and the
		// applier use the same one.
		if frozen, err = freezeWindow(ctx, src, plans.TableName{Schema: ref.Schema, Table: ref.Table}, *after.TimeWindow); err != nil {
			return nil, err
		}
		filter = frozen
	}
	if applierFilter && filter != "" {
		if err := lang.CheckRowFilterSyntax(filter); err != nil {
			return nil, fmt.Errorf("row filter of %s: %w", pgx.Identifier{ref.Schema, ref.Table}.Sanitize(), err)
		}
	}
	if logical && filter != "" && !applierFilter {
		// Copy exactly what the publication streams: its stored filter
		// (a time window is frozen to a constant there).
		pub := after.Publication
		stored, published, err := rowfilter.OfPublication(ctx, src, pub, ref.Schema, ref.Table)
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
	out := *after
	if applierFilter {
		if err := streamapply.RecordTableFilter(ctx, dst, c.Addr.Replication, ref.Schema, ref.Table, filter); err != nil {
			return nil, err
		}
		out.FrozenTimeWindow = frozen
	}
	if after.NewSnapshot && logical {
		// Committed before the copy: a copied table whose start is not
		// recorded would be sent again the changes its copy holds.
		if err := streamapply.RecordTableStart(ctx, dst, c.Addr.Replication, ref.Schema, ref.Table, streamFrom); err != nil {
			return nil, err
		}
		out.StreamFrom = streamFrom.String()
	}
	req := datacopy.CopyRequest{Schema: ref.Schema, Table: ref.Table, Filter: filter, Snapshot: snap,
		TargetSchema: after.TargetSchema, TargetTable: after.TargetTable}
	onProgress := func(rows, bytes int64) { progress.Rows(rows); progress.Bytes(bytes) }
	size := after.Bytes
	if ep.SplitLargerThan > 0 && size > ep.SplitLargerThan && ep.SplitParts > 1 {
		stats, parts, err := p.copySplit(ctx, ep, c.Addr.Replication, ref.Database, req, src, ep.SplitParts, c.Action == plans.Replace, onProgress)
		if err != nil {
			return nil, err
		}
		// Ranges cannot be written frozen: one pass sets the hint bits and
		// the visibility map before the indexes are built, so the builds do
		// not dirty every page again and the foreign-key checks can probe
		// the new indexes without visiting the heap.
		table := p.targetOf(c.Addr.Replication, ref.Database, schemadump.QualifiedName{Schema: ref.Schema, Name: ref.Table})
		if _, err := dst.Exec(ctx, "VACUUM "+table.String()); err != nil {
			return nil, fmt.Errorf("vacuum %s after its split copy: %w", table, err)
		}
		if err := p.buildWithTable(ctx, ep, c.Addr.Replication, ref, dst, size); err != nil {
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
	stats, err := datacopy.CopyTable(ctx, src, dst, req, onProgress)
	release()
	if err != nil {
		return nil, err
	}
	if err := p.buildWithTable(ctx, ep, c.Addr.Replication, ref, dst, size); err != nil {
		return nil, err
	}
	out.CopiedRows, out.CopiedBytes = &stats.Rows, &stats.Bytes
	return &out, nil
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
			q = p.targetOf(replication, db, q)
			names = append(names, pgx.Identifier{q.Schema, q.Name}.Sanitize())
		}
		conn, err := conninfo.Connect(ctx, ep.Target.WithDatabase(db))
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

// copySplit copies a big table as parallel CTID ranges, every part inside
// the same snapshot, each with its own source and target connection (with
// foreign keys and triggers off when the table is copied again). The
// parts commit separately: an interrupted split copy leaves the change in
// progress, and the next plan truncates and copies the table again.
func (p *Provider) copySplit(ctx context.Context, ep Endpoints, replication, db string, req datacopy.CopyRequest, src *pgx.Conn, parts int, again bool, onProgress func(rows, bytes int64)) (datacopy.CopyStats, int, error) {
	blocks, err := datacopy.TableBlocks(ctx, src, req.Schema, req.Table)
	if err != nil {
		return datacopy.CopyStats{}, 0, err
	}
	ranges := datacopy.SplitByCTID(blocks, parts)
	var mu sync.Mutex
	var total datacopy.CopyStats
	g, gctx := errgroup.WithContext(ctx)
	for i := range ranges {
		part := ranges[i]
		g.Go(func() error {
			s, err := conninfo.Connect(gctx, ep.Source.WithDatabase(db))
			if err != nil {
				return err
			}
			defer s.Close(context.Background())
			d, err := conninfo.Connect(gctx, ep.Target.WithDatabase(db))
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
			st, err := datacopy.CopyTable(gctx, s, d, r, func(rows, bytes int64) {
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
		return datacopy.CopyStats{}, 0, err
	}
	return total, len(ranges), nil
}
