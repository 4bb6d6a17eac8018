package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/rowfilter"
	"github.com/jackc/pgx/v5"
)

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
	dst, err := conninfo.Connect(ctx, ep.Target.WithDatabase(ref.Database))
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

	src, err := conninfo.Connect(ctx, ep.Source.WithDatabase(ref.Database))
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
	_, published, err := rowfilter.OfPublication(ctx, src, pubName, ref.Schema, ref.Table)
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
