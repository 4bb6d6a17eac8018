package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// LSNDiff returns a - b in bytes for two LSNs in text form ("0/1A2B3C"),
// or 0 when either does not parse or b is ahead.
func LSNDiff(a, b string) int64 {
	x, err1 := pglogrepl.ParseLSN(a)
	y, err2 := pglogrepl.ParseLSN(b)
	if err1 != nil || err2 != nil || y > x {
		return 0
	}
	return int64(x - y)
}

// SubscriptionLagSeconds reads, on the target, how long ago the
// subscription's apply worker last confirmed a position to the source
// (pg_stat_subscription.latest_end_time). ok is false when no worker runs.
func SubscriptionLagSeconds(ctx context.Context, target conninfo.Info, subscription string) (seconds float64, ok bool, err error) {
	conn, err := conninfo.Connect(ctx, target)
	if err != nil {
		return 0, false, err
	}
	defer conn.Close(context.Background())
	var s *float64
	// clock_timestamp, not now(): the worker may confirm after this
	// transaction started, and a lag is never negative.
	err = conn.QueryRow(ctx, `SELECT greatest(extract(epoch FROM clock_timestamp() - latest_end_time), 0)::float8
		FROM pg_catalog.pg_stat_subscription WHERE subname = $1 AND relid IS NULL`, subscription).Scan(&s)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("read pg_stat_subscription: %w", err)
	}
	if s == nil {
		return 0, true, nil
	}
	return *s, true, nil
}
