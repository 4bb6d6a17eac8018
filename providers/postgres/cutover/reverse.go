package cutover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
)

// reverseSuffix ends the names of the reverse replication's objects.
const reverseSuffix = "_reverse"

// reverseName is name with reverseSuffix, within PostgreSQL's 63 bytes.
func reverseName(name string) string {
	if max := 63 - len(reverseSuffix); len(name) > max {
		name = name[:max]
	}
	return name + reverseSuffix
}

// setReverse records in db's record that the detach sets up reverse
// replication, and the names of its objects.
func setReverse(db *Database) {
	rec := db.Record
	rec.Reverse = true
	rec.ReversePublication = reverseName(db.Publication)
	rec.ReverseSlot = reverseName(db.Slot)
	rec.ReverseSubscription = reverseName(db.Subscription)
	rec.ReverseStoresPassword = db.StoresPassword
}

// checkReverseIdentity fails when a table of the subscription cannot
// publish its updates and deletes from the target: the reverse
// publication would make them fail on the new primary.
func checkReverseIdentity(ctx context.Context, dst *pgConn, subscription string) error {
	rows, err := dst.Query(ctx, `SELECT sr.srrelid::regclass::text
		FROM pg_catalog.pg_subscription_rel sr JOIN pg_catalog.pg_subscription s ON s.oid = sr.srsubid
		  JOIN pg_catalog.pg_class c ON c.oid = sr.srrelid
		WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
		  AND (c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT EXISTS (
		    SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)))
		ORDER BY 1`, subscription)
	if err != nil {
		return fmt.Errorf("read the replica identities of subscription %q's tables: %w", subscription, err)
	}
	bad, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("read the replica identities of subscription %q's tables: %w", subscription, err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("--reverse: %d table(s) have no primary key or replica identity on the target, so their updates and deletes would fail once it publishes them: %s; run ALTER TABLE … REPLICA IDENTITY FULL on the target (or cut over without --reverse)",
			len(bad), strings.Join(bad, ", "))
	}
	return nil
}

// reverseOnTarget prepares the reverse replication on the target while
// the forward subscription still exists and no application writes there:
// it stops the subscription's workers (so that nothing the source sent is
// applied after the switch point), creates the reverse publication over
// the subscription's tables and creates the reverse slot, whose
// consistent point is the switch point. Each step tolerates an earlier
// run's having done it.
func reverseOnTarget(ctx context.Context, dst *pgConn, db *Database) error {
	rec := db.Record
	sub := pgx.Identifier{db.Subscription}.Sanitize()
	if _, err := dst.Exec(ctx, "ALTER SUBSCRIPTION "+sub+" DISABLE"); err != nil {
		return fmt.Errorf("ALTER SUBSCRIPTION %s DISABLE: %w", sub, err)
	}
	if err := waitWorkersGone(ctx, dst, db.Subscription); err != nil {
		return err
	}
	var pubExists bool
	if err := dst.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_catalog.pg_publication WHERE pubname = $1`, rec.ReversePublication).Scan(&pubExists); err != nil {
		return fmt.Errorf("read publication %q on the target: %w", rec.ReversePublication, err)
	}
	if !pubExists {
		rows, err := dst.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname)
			FROM pg_catalog.pg_subscription_rel sr JOIN pg_catalog.pg_subscription s ON s.oid = sr.srsubid
			  JOIN pg_catalog.pg_class c ON c.oid = sr.srrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
			ORDER BY 1`, db.Subscription)
		var tables []string
		if err == nil {
			tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			return fmt.Errorf("list the tables of subscription %q: %w", db.Subscription, err)
		}
		sql := "CREATE PUBLICATION " + pgx.Identifier{rec.ReversePublication}.Sanitize()
		if len(tables) > 0 {
			sql += " FOR TABLE " + strings.Join(tables, ", ")
		}
		if _, err := dst.Exec(ctx, sql); err != nil {
			return fmt.Errorf("create the reverse publication %q on the target: %w", rec.ReversePublication, err)
		}
	}
	var slotExists bool
	if err := dst.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, rec.ReverseSlot).Scan(&slotExists); err != nil {
		return fmt.Errorf("read replication slot %q on the target: %w", rec.ReverseSlot, err)
	}
	if !slotExists {
		if _, err := dst.Exec(ctx, `SELECT pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')`, rec.ReverseSlot); err != nil {
			return fmt.Errorf("create the reverse replication slot %q on the target (wal_level must be logical there): %w", rec.ReverseSlot, err)
		}
	}
	return nil
}

// workersGoneTimeout bounds the wait for a disabled subscription's
// workers to exit.
const workersGoneTimeout = time.Minute

// waitWorkersGone waits until the disabled subscription has no worker.
func waitWorkersGone(ctx context.Context, dst *pgConn, subscription string) error {
	deadline := time.Now().Add(workersGoneTimeout)
	for {
		var workers int
		if err := dst.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_stat_subscription st JOIN pg_catalog.pg_subscription s ON s.oid = st.subid
			WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()) AND st.pid IS NOT NULL`,
			subscription).Scan(&workers); err != nil {
			return fmt.Errorf("wait for the workers of subscription %q to stop: %w", subscription, err)
		}
		if workers == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("subscription %q is disabled but %d of its workers still run after %s; run cutover again", subscription, workers, workersGoneTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// reverseOnSource creates the reverse subscription on the source (the old
// primary) over the reverse slot: no slot, no copy, and origin = none
// where the server has it (PostgreSQL 16+), so that it never sends back
// what it received. It reports whether origin = none was set. The
// source's fence does not stop it: apply workers write whatever
// default_transaction_read_only says.
func reverseOnSource(ctx context.Context, db *Database) (bool, error) {
	rec := db.Record
	src, err := connectSource(ctx, db)
	if err != nil {
		return false, err
	}
	defer src.Close(context.Background())
	version, err := conninfo.ServerVersionNum(ctx, src)
	if err != nil {
		return false, err
	}
	originNone := version >= 160000
	var exists bool
	if err := src.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_catalog.pg_subscription WHERE subname = $1
		AND subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())`, rec.ReverseSubscription).Scan(&exists); err != nil {
		return false, fmt.Errorf("read subscription %q on the source: %w", rec.ReverseSubscription, err)
	}
	if exists {
		return originNone, nil
	}
	target := db.Target
	withPassword := rec.ReverseStoresPassword && target.WrittenPassword() != ""
	with := "create_slot = false, copy_data = false, slot_name = " + conninfo.QuoteLiteral(rec.ReverseSlot)
	if originNone {
		with += ", origin = none"
	}
	sub := pgx.Identifier{rec.ReverseSubscription}.Sanitize()
	sql := "CREATE SUBSCRIPTION " + sub + " CONNECTION " + conninfo.QuoteLiteral(conninfo.SubscriptionConnString(target, withPassword)) +
		" PUBLICATION " + pgx.Identifier{rec.ReversePublication}.Sanitize() + " WITH (" + with + ")"
	if err := execQuietly(ctx, src, sql, withPassword); err != nil {
		msg := err.Error()
		for _, pw := range []string{target.WrittenPassword(), target.Password()} {
			if len(pw) >= 4 {
				msg = strings.ReplaceAll(msg, pw, "xxxxx")
			}
		}
		return false, fmt.Errorf("CREATE SUBSCRIPTION %s on the source: %s", sub, msg)
	}
	return originNone, nil
}

// execQuietly runs sql, which holds a password when hasPassword, in a
// transaction that keeps it out of the server log when the role is a
// superuser (the settings are superuser settings).
func execQuietly(ctx context.Context, conn *pgConn, sql string, hasPassword bool) error {
	if !hasPassword {
		_, err := conn.Exec(ctx, sql)
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.Background())
	var super bool
	if err := tx.QueryRow(ctx, `SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		return fmt.Errorf("is the role a superuser: %w", err)
	}
	if super {
		for _, set := range []string{"SET LOCAL log_statement = 'none'", "SET LOCAL log_min_duration_statement = -1", "SET LOCAL log_min_error_statement = 'panic'"} {
			if _, err := tx.Exec(ctx, set); err != nil {
				return fmt.Errorf("%s: %w", set, err)
			}
		}
	}
	if _, err := tx.Exec(ctx, sql); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// errReverseSlotLost is returned when the forward subscription is gone but
// the reverse slot is not there: the switch point is lost.
var errReverseSlotLost = errors.New("the reverse replication slot is missing on the target and the forward subscription is gone, so the switch point is lost")

// reverseSlotExists reports whether the reverse slot is on the target.
func reverseSlotExists(ctx context.Context, dst *pgConn, rec *plans.CutoverAttrs) (bool, error) {
	var ok bool
	if err := dst.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, rec.ReverseSlot).Scan(&ok); err != nil {
		return false, fmt.Errorf("read replication slot %q on the target: %w", rec.ReverseSlot, err)
	}
	return ok, nil
}
