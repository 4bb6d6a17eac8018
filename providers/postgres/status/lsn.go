package status

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
)

// The positions of a logical replication's stream that status shows: on
// the source, the slot's walsender as pg_stat_replication reports it; on
// the target, the subscription's apply worker (pg_stat_subscription) and
// the origin of the transactions it applied (pg_replication_origin_status).
// Every column read exists on PostgreSQL 12-18; the worker columns added
// later (leader_pid in 16, worker_type in 17) are read through to_jsonb, so
// a server without them reads NULL instead of failing.

// senderLSNs is one walsender's row of pg_stat_replication: what it sent
// and what the subscriber reported it wrote, flushed and applied.
type senderLSNs struct {
	sent, write, flush, replay string
}

// sendersQuery reads the walsender of each named slot (joined through the
// slot's active_pid); a slot nobody streams from has no row. The LSN
// columns are NULL for a role that may not see the walsender's details.
const sendersQuery = `
SELECT s.slot_name::text,
       COALESCE(r.sent_lsn::text, ''), COALESCE(r.write_lsn::text, ''),
       COALESCE(r.flush_lsn::text, ''), COALESCE(r.replay_lsn::text, '')
FROM pg_catalog.pg_replication_slots s
JOIN pg_catalog.pg_stat_replication r ON r.pid = s.active_pid
WHERE s.slot_name = ANY($1::text[])`

// readSenders reads the walsenders of the named slots on one source server
// (pg_stat_replication is cluster-wide: any database of it will do).
func readSenders(ctx context.Context, source conninfo.Info, slots []string) (map[string]senderLSNs, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	conn, err := conninfo.Connect(ctx, source)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", source.Redacted(), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, sendersQuery, pgx.QueryExecModeExec, slots)
	if err != nil {
		return nil, fmt.Errorf("source %s: read pg_stat_replication: %w", source.Redacted(), err)
	}
	out := map[string]senderLSNs{}
	var name string
	var s senderLSNs
	_, err = pgx.ForEachRow(rows, []any{&name, &s.sent, &s.write, &s.flush, &s.replay}, func() error {
		out[name] = s
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("source %s: read pg_stat_replication: %w", source.Redacted(), err)
	}
	return out, nil
}

// workerLSNs is what the target says about one subscription's apply
// worker and the transactions it applied.
type workerLSNs struct {
	// lagSeconds is how long ago the worker last confirmed a position
	// to the source (0 when no worker runs or it confirmed nothing yet).
	lagSeconds float64
	// received is pg_stat_subscription.received_lsn, latestEnd its
	// latest_end_lsn.
	received, latestEnd string
	// applied is the remote_lsn of the subscription's replication
	// origin: the source position of the last transaction applied.
	// "" when the role may not read pg_replication_origin_status.
	applied string
}

// workerQuery reads the leader apply worker of the subscription named $1
// in the connection's database (pg_stat_subscription lists the
// subscriptions of every database, and each database has its own of that
// name): relid is set for a table-synchronisation worker, leader_pid (16+)
// for a parallel apply worker. pg_stat_subscription has a row with NULL
// columns when no worker runs. clock_timestamp, not now(): the worker may
// confirm after this transaction started, and a lag is never negative.
// The last column says whether the role may read the origins' progress
// (pg_replication_origin_status is revoked from PUBLIC).
const workerQuery = `
SELECT COALESCE(greatest(extract(epoch FROM clock_timestamp() - st.latest_end_time), 0)::float8, 0),
       COALESCE(st.received_lsn::text, ''), COALESCE(st.latest_end_lsn::text, ''),
       has_table_privilege('pg_catalog.pg_replication_origin_status', 'SELECT')
FROM pg_catalog.pg_subscription s
JOIN pg_catalog.pg_stat_subscription st ON st.subid = s.oid
WHERE s.subname = $1
  AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND st.relid IS NULL
  AND to_jsonb(st)->>'leader_pid' IS NULL
LIMIT 1`

// appliedQuery reads the remote position of the subscription's
// replication origin, which apply advances with every transaction it
// commits (the origin of subscription OID is named pg_OID).
const appliedQuery = `
SELECT COALESCE(o.remote_lsn::text, '')
FROM pg_catalog.pg_subscription s
JOIN pg_catalog.pg_replication_origin_status o ON o.external_id = 'pg_' || s.oid
WHERE s.subname = $1
  AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())`

// readWorker reads a subscription's worker and applied position on the
// target; target names the subscription's database. ok is false when the
// subscription does not exist there.
func readWorker(ctx context.Context, target conninfo.Info, subscription string) (w workerLSNs, ok bool, err error) {
	conn, err := conninfo.Connect(ctx, target)
	if err != nil {
		return w, false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var mayReadOrigins bool
	err = conn.QueryRow(ctx, workerQuery, subscription).Scan(&w.lagSeconds, &w.received, &w.latestEnd, &mayReadOrigins)
	if errors.Is(err, pgx.ErrNoRows) {
		return w, false, nil
	}
	if err != nil {
		return w, false, fmt.Errorf("read pg_stat_subscription: %w", err)
	}
	if mayReadOrigins {
		err = conn.QueryRow(ctx, appliedQuery, subscription).Scan(&w.applied)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return w, true, fmt.Errorf("read pg_replication_origin_status: %w", err)
		}
	}
	return w, true, nil
}
