package status

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
)

// Logical names one logical replication whose lag ReadLag reads.
type Logical struct {
	// Replication is the replication's name.
	Replication string
	// Subscription is the subscription's name (the same in every
	// database); each database's slot is planner.SlotName of it.
	Subscription string
	// Source and Target are the servers.
	Source, Target conninfo.Info
	// Databases are the replicated databases.
	Databases []string
}

// ReadLag reads what lag needs and nothing more: on each source server
// the current WAL position and the replications' slots, on each target
// server the subscriptions (pg_subscription and pg_stat_subscription are
// cluster-wide, so one connection sees every database's). That is one
// connection and one query per server, whatever the number of databases
// and tables. The rows carry no table states (Tables is nil); State,
// Enabled, Slot, SlotActive, LagBytes, LagSeconds and RetainedWAL follow
// the same rules as Collect's.
func ReadLag(ctx context.Context, reqs []Logical) ([]Row, error) {
	type server struct {
		info  conninfo.Info
		names []string
	}
	sources, targets := map[string]*server{}, map[string]*server{}
	add := func(m map[string]*server, info conninfo.Info, db, name string) {
		k := serverKey(info)
		s := m[k]
		if s == nil {
			// Connect to a replicated database: it exists on both sides.
			s = &server{info: info.WithDatabase(db)}
			m[k] = s
		}
		if !slices.Contains(s.names, name) {
			s.names = append(s.names, name)
		}
	}
	for _, r := range reqs {
		for _, db := range r.Databases {
			add(sources, r.Source, db, planner.SlotName(r.Subscription, db))
			add(targets, r.Target, db, r.Subscription)
		}
	}
	slots := map[string]sourceSlots{}
	for k, s := range sources {
		got, err := readSlots(ctx, s.info, s.names)
		if err != nil {
			return nil, err
		}
		slots[k] = got
	}
	subs := map[string]map[subKey]subRow{}
	for k, s := range targets {
		got, err := readSubscriptions(ctx, s.info, s.names)
		if err != nil {
			return nil, err
		}
		subs[k] = got
	}
	var rows []Row
	for _, r := range reqs {
		src, dst := slots[serverKey(r.Source)], subs[serverKey(r.Target)]
		for _, db := range r.Databases {
			row := Row{Replication: r.Replication, Database: db, Method: string(lang.SyncLogical),
				Subscription: r.Subscription, Slot: planner.SlotName(r.Subscription, db)}
			sl, slotFound := src.slots[row.Slot]
			if slotFound {
				row.SlotActive, row.WALStatus = sl.active, sl.walStatus
				row.RetainedWAL = sl.retained
				row.LagBytes = catalog.LSNDiff(src.currentLSN, sl.confirmedFlush)
			}
			sub, ok := dst[subKey{db, r.Subscription}]
			finishLogical(&row, slotFound, ok, sub.enabled, sub.lagSeconds)
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// sourceSlots is what ReadLag reads on a source server.
type sourceSlots struct {
	currentLSN string
	slots      map[string]slotRow
}

type slotRow struct {
	active         bool
	confirmedFlush string
	retained       int64
	walStatus      string
}

// lagSlotsQuery reads the current WAL position (on a primary or a
// standby) and the named slots; one row with NULL slot columns when none
// exists.
const lagSlotsQuery = `
WITH lsn AS (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS current)
SELECT COALESCE(lsn.current::text, ''), s.slot_name::text, COALESCE(s.active, false),
       COALESCE(s.confirmed_flush_lsn::text, ''),
       COALESCE(pg_wal_lsn_diff(lsn.current, s.restart_lsn), 0)::bigint,
       COALESCE(to_jsonb(s)->>'wal_status', '')
FROM lsn LEFT JOIN pg_catalog.pg_replication_slots s ON s.slot_name = ANY($1::text[])`

// readSlots reads the current WAL position and the named slots of one
// source server in one query.
func readSlots(ctx context.Context, info conninfo.Info, names []string) (sourceSlots, error) {
	out := sourceSlots{slots: map[string]slotRow{}}
	conn, err := conninfo.Connect(ctx, info)
	if err != nil {
		return out, fmt.Errorf("lag: source %s: %w", info.Redacted(), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, lagSlotsQuery, pgx.QueryExecModeExec, names)
	if err != nil {
		return out, fmt.Errorf("lag: source %s: read slots: %w", info.Redacted(), err)
	}
	defer rows.Close()
	for rows.Next() {
		var name *string
		var sl slotRow
		if err := rows.Scan(&out.currentLSN, &name, &sl.active, &sl.confirmedFlush, &sl.retained, &sl.walStatus); err != nil {
			return out, fmt.Errorf("lag: source %s: read slots: %w", info.Redacted(), err)
		}
		if name != nil {
			out.slots[*name] = sl
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("lag: source %s: read slots: %w", info.Redacted(), err)
	}
	return out, nil
}

// subKey is a subscription: its database and name.
type subKey struct{ database, name string }

type subRow struct {
	enabled    bool
	lagSeconds float64
}

// lagSubscriptionsQuery reads the named subscriptions of every database,
// with how long ago each apply worker last confirmed a position
// (clock_timestamp, not now(): a lag is never negative); 0 when no worker
// runs or it has confirmed nothing yet.
const lagSubscriptionsQuery = `
SELECT d.datname::text, s.subname::text, s.subenabled,
       COALESCE((SELECT greatest(extract(epoch FROM clock_timestamp() - st.latest_end_time), 0)::float8
                 FROM pg_catalog.pg_stat_subscription st
                 WHERE st.subid = s.oid AND st.relid IS NULL AND st.latest_end_time IS NOT NULL
                 LIMIT 1), 0)
FROM pg_catalog.pg_subscription s
JOIN pg_catalog.pg_database d ON d.oid = s.subdbid
WHERE s.subname = ANY($1::text[])`

// readSubscriptions reads the named subscriptions of one target server in
// one query.
func readSubscriptions(ctx context.Context, info conninfo.Info, names []string) (map[subKey]subRow, error) {
	conn, err := conninfo.Connect(ctx, info)
	if err != nil {
		return nil, fmt.Errorf("lag: target %s: %w", info.Redacted(), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, lagSubscriptionsQuery, pgx.QueryExecModeExec, names)
	if err != nil {
		return nil, fmt.Errorf("lag: target %s: read subscriptions: %w", info.Redacted(), err)
	}
	defer rows.Close()
	out := map[subKey]subRow{}
	for rows.Next() {
		var k subKey
		var sub subRow
		if err := rows.Scan(&k.database, &k.name, &sub.enabled, &sub.lagSeconds); err != nil {
			return nil, fmt.Errorf("lag: target %s: read subscriptions: %w", info.Redacted(), err)
		}
		out[k] = sub
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lag: target %s: read subscriptions: %w", info.Redacted(), err)
	}
	return out, nil
}

// serverKey identifies a server (and the role used on it) apart from the
// database of a connection string.
func serverKey(info conninfo.Info) string {
	return fmt.Sprintf("%s:%d:%s", info.Host(), info.Port(), info.User())
}
