package xminsync

import (
	"context"
	"fmt"
	"sync"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
)

// ChangeTracker lets a cycle skip the tables nothing was written to since
// they were last read, instead of scanning each for rows past its cursor.
// It remembers, across the cycles of one database, each table's activity
// counters (pg_stat_get_tuples_inserted/updated/deleted and the live and
// dead tuple counts, summed over a partitioned table's partitions) as read
// before the snapshot of the cycle that last read the table.
//
// Why a skipped table loses nothing: a table is skipped only when every
// counter equals the recorded value, and its cursor does not move. A
// transaction the recorded read did not see committed after that read's
// snapshot, so its counts reach the shared statistics after the counters
// were recorded (PostgreSQL adds a transaction's counts when it ends,
// committed or rolled back), and the table is read again, from the
// unmoved cursor, once they arrive. Counters that go back or jump
// (pg_stat_reset, a crash, a restart, an aborted transaction) only make
// a table differ, except a reset followed by exactly the recorded number
// of changes: the database's statistics reset time, the server's start
// time and the database's commit count (which must not go back) are
// compared too, and any difference forgets every table. Statistics are
// flushed by each backend about once a second (an idle one within 10 s),
// which can delay a change by that much; reconciliation still compares
// every table on its interval. Nothing is skipped with track_counts off, or
// before PostgreSQL 15, whose statistics collector received counts over UDP
// and could drop them under load (a change that never shows would be
// skipped until reconciliation).
//
// A ChangeTracker is safe for the concurrent table workers of a cycle.
type ChangeTracker struct {
	mu     sync.Mutex
	server serverStats
	// tables holds the counters recorded when each table was last read.
	tables map[string]tableStats
}

// NewChangeTracker returns a tracker that knows no table yet: the first
// cycle reads every table.
func NewChangeTracker() *ChangeTracker {
	return &ChangeTracker{tables: map[string]tableStats{}}
}

// serverStats tells whether the counters of two observations can be
// compared at all.
type serverStats struct {
	started, statsReset string
	commits             int64
}

// tableStats are one table's cumulative activity counters.
type tableStats struct {
	inserted, updated, deleted, live, dead int64
}

// observation is the counters read before a cycle's snapshot.
type observation struct {
	server serverStats
	// tracking is false when track_counts is off: nothing is skipped.
	tracking bool
	// tables has an entry for every table that exists on the source.
	tables map[string]tableStats
}

// observationQuery reads the server's facts; observeTablesQuery one row
// per table (by its position in the arrays) that exists on the source: a
// partitioned table sums its leaf partitions.
const (
	observationQuery = `SELECT pg_postmaster_start_time()::text,
       COALESCE(pg_stat_get_db_stat_reset_time(d.oid)::text, ''), pg_stat_get_db_xact_commit(d.oid),
       current_setting('track_counts')::bool AND current_setting('server_version_num')::int >= 150000
FROM pg_catalog.pg_database d WHERE d.datname = current_database()`
	observeTablesQuery = `SELECT k.i, sum(pg_stat_get_tuples_inserted(p.relid))::bigint, sum(pg_stat_get_tuples_updated(p.relid))::bigint,
       sum(pg_stat_get_tuples_deleted(p.relid))::bigint, sum(pg_stat_get_live_tuples(p.relid))::bigint,
       sum(pg_stat_get_dead_tuples(p.relid))::bigint
FROM unnest($1::text[], $2::text[], $3::bool[]) WITH ORDINALITY AS k(schema, name, partitioned, i)
CROSS JOIN LATERAL pg_catalog.to_regclass(format('%I.%I', k.schema, k.name)) AS r(oid)
CROSS JOIN LATERAL (SELECT t.relid FROM pg_catalog.pg_partition_tree(r.oid) t WHERE k.partitioned AND t.isleaf
                    UNION ALL SELECT r.oid WHERE NOT k.partitioned) AS p(relid)
WHERE r.oid IS NOT NULL
GROUP BY k.i`
)

// observe reads the counters of tables on src. It must run before the
// cycle's snapshot is taken (see ChangeTracker).
func observe(ctx context.Context, src conninfo.Info, tables []Table) (observation, error) {
	conn, err := conninfo.Connect(ctx, src)
	if err != nil {
		return observation{}, fmt.Errorf("source: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var o observation
	if err := conn.QueryRow(ctx, observationQuery).Scan(&o.server.started, &o.server.statsReset, &o.server.commits, &o.tracking); err != nil {
		return o, fmt.Errorf("source: read the statistics' state: %w", err)
	}
	schemas, names, partitioned := make([]string, len(tables)), make([]string, len(tables)), make([]bool, len(tables))
	for i, t := range tables {
		schemas[i], names[i], partitioned[i] = t.Schema, t.Name, t.Partitioned
	}
	rows, err := conn.Query(ctx, observeTablesQuery, schemas, names, partitioned)
	if err != nil {
		return o, fmt.Errorf("source: read the tables' activity counters: %w", err)
	}
	o.tables = map[string]tableStats{}
	var i int
	var s tableStats
	_, err = pgx.ForEachRow(rows, []any{&i, &s.inserted, &s.updated, &s.deleted, &s.live, &s.dead}, func() error {
		if i >= 1 && i <= len(tables) {
			o.tables[tables[i-1].Key] = s
		}
		return nil
	})
	if err != nil {
		return o, fmt.Errorf("source: read the tables' activity counters: %w", err)
	}
	return o, nil
}

// begin takes a cycle's observation: when the statistics were reset, the
// server restarted or the commit count went back, every recorded table is
// forgotten (read again).
func (c *ChangeTracker) begin(o observation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !o.tracking || o.server.started != c.server.started || o.server.statsReset != c.server.statsReset ||
		o.server.commits < c.server.commits {
		clear(c.tables)
	}
	c.server = o.server
}

// unchanged reports whether table key's counters in o equal the ones
// recorded when it was last read.
func (c *ChangeTracker) unchanged(o observation, key string) bool {
	if !o.tracking {
		return false
	}
	now, ok := o.tables[key]
	if !ok {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	was, ok := c.tables[key]
	return ok && was == now
}

// read records that table key was read in the cycle that took o. A table
// that finished after a later cycle began (Carryover) is not recorded when
// that cycle saw the statistics reset or the server restart: its counters
// would be compared with ones counted from a new start.
func (c *ChangeTracker) read(o observation, key string) {
	now, ok := o.tables[key]
	if !o.tracking || !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if o.server.started != c.server.started || o.server.statsReset != c.server.statsReset {
		return
	}
	c.tables[key] = now
}
