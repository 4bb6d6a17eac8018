package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/connstr"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
	"github.com/jackc/pgx/v5"
)

// subscription creates, alters or drops the target subscription.
func (p *Provider) subscription(ctx context.Context, ep Endpoints, c *plans.Change) (plans.Attrs, error) {
	db := c.Addr.Key
	attrs, err := attrsOf[*plans.SubscriptionAttrs](c)
	if err != nil {
		return nil, err
	}
	name, slot, pubs := attrs.Name, attrs.SlotName, attrs.Publications
	conn, err := conninfo.Connect(ctx, ep.Target.WithDatabase(db))
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	sub := pgx.Identifier{name}.Sanitize()
	quotedPubs := make([]string, len(pubs))
	for i, pb := range pubs {
		quotedPubs[i] = pgx.Identifier{pb}.Sanitize()
	}
	switch c.Action {
	case plans.Delete:
		// Dropped outside database-replicator already (the predecessor's
		// FAQ: DROP SUBSCRIPTION seren_replication_sub): nothing to do, as
		// for a publication or a slot that is gone.
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_subscription WHERE subname = $1
			AND subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))`, name).Scan(&exists); err != nil {
			return nil, fmt.Errorf("read pg_subscription: %w", err)
		}
		if !exists {
			return nil, nil
		}
		for _, sql := range []string{"ALTER SUBSCRIPTION " + sub + " DISABLE", "ALTER SUBSCRIPTION " + sub + " SET (slot_name = NONE)", "DROP SUBSCRIPTION " + sub} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				return nil, fmt.Errorf("%s: %w", sql, err)
			}
		}
		return nil, nil
	case plans.Update:
		if before, ok := c.Before.(*plans.SubscriptionAttrs); ok && before.StoresPassword != attrs.StoresPassword {
			// sync.subscription_password changed: store the connection
			// string with or without the source URL's password.
			source := ep.Source.WithDatabase(db)
			withPassword := attrs.StoresPassword && source.WrittenPassword() != ""
			sql := "ALTER SUBSCRIPTION " + sub + " CONNECTION " + conninfo.QuoteLiteral(conninfo.SubscriptionConnString(source, withPassword))
			if err := p.runWithConnString(ctx, conn, sql, withPassword); err != nil {
				return nil, fmt.Errorf("ALTER SUBSCRIPTION %s CONNECTION: %s", sub, redactSource(err, source))
			}
		}
		stop := attrs.StopApplying
		if !attrs.Enabled {
			// Sync is paused: the subscription keeps its publications and
			// is disabled; its slot keeps the changes until it is enabled.
			if len(attrs.RefreshPublication) > 0 || len(stop) > 0 || attrs.SubscribeDDLLog {
				return nil, fmt.Errorf("subscription %s: tables joined or left the publication while sync is paused, and PostgreSQL refreshes only an enabled subscription: resume sync first (sync { enabled = true }, or database-replicator resume), then apply", sub)
			}
			sql := "ALTER SUBSCRIPTION " + sub + " SET PUBLICATION " + strings.Join(quotedPubs, ", ") + " WITH (refresh = false)"
			if _, err := conn.Exec(ctx, sql); err != nil {
				return nil, fmt.Errorf("%s: %w", sql, err)
			}
			if err := p.disableSubscription(ctx, ep, db, name); err != nil {
				return nil, err
			}
			return attrs, nil
		}
		stmts := []string{
			"ALTER SUBSCRIPTION " + sub + " SET PUBLICATION " + strings.Join(quotedPubs, ", ") + " WITH (refresh = false)",
			"ALTER SUBSCRIPTION " + sub + " ENABLE",
		}
		if len(attrs.RefreshPublication) > 0 || len(stop) > 0 {
			// Tables added to the publication after streaming started: the
			// subscription's table sync copies them (and only them: tables
			// already subscribed are not copied again), then streams them.
			// Tables the publication dropped leave pg_subscription_rel:
			// the apply worker stops applying them.
			// Needs an enabled subscription; repeating it is harmless.
			stmts = append(stmts, "ALTER SUBSCRIPTION "+sub+" REFRESH PUBLICATION WITH (copy_data = true)")
		} else if attrs.SubscribeDDLLog {
			// The DDL capture's log joined the publication: subscribed
			// without a copy (its rows ran on the source before; the plan
			// never combines it with tables to copy).
			stmts = append(stmts, "ALTER SUBSCRIPTION "+sub+" REFRESH PUBLICATION WITH (copy_data = false)")
		}
		for _, sql := range stmts {
			if _, err := conn.Exec(ctx, sql); err != nil {
				return nil, fmt.Errorf("%s: %w", sql, err)
			}
		}
		if len(stop) > 0 {
			if err := p.waitApplied(ctx, ep, db, slot, stop); err != nil {
				return nil, err
			}
		}
		out := *attrs
		out.RefreshPublication, out.StopApplying, out.SubscribeDDLLog = nil, nil, false
		return &out, nil
	}
	// The slot must be free: release this run's exported snapshot first.
	p.mu.Lock()
	if s := p.slots[key(c.Addr.Replication, db)]; s != nil {
		_ = s.Close(ctx)
		delete(p.slots, key(c.Addr.Replication, db))
	}
	p.mu.Unlock()
	source := ep.Source.WithDatabase(db)
	sql := "CREATE SUBSCRIPTION " + sub + " CONNECTION " + conninfo.QuoteLiteral(conninfo.SubscriptionConnString(source, attrs.StoresPassword)) +
		" PUBLICATION " + strings.Join(quotedPubs, ", ") +
		" WITH (create_slot = false, slot_name = " + conninfo.QuoteLiteral(slot) + ", copy_data = false, enabled = " + fmt.Sprint(attrs.Enabled) + ")"
	if err := p.runWithConnString(ctx, conn, sql, attrs.StoresPassword && source.WrittenPassword() != ""); err != nil {
		return nil, fmt.Errorf("CREATE SUBSCRIPTION %s: %s", sub, redactSource(err, source))
	}
	return attrs, nil
}

// workerStopTimeout bounds the wait for a disabled subscription's apply
// worker to exit.
const workerStopTimeout = time.Minute

// disableSubscription disables the subscription name in database db of the
// target and waits until its apply worker (and table sync workers) have
// exited: ALTER SUBSCRIPTION ... DISABLE only asks them to stop.
func (p *Provider) disableSubscription(ctx context.Context, ep Endpoints, db, name string) error {
	conn, err := conninfo.Connect(ctx, ep.Target.WithDatabase(db))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	sql := "ALTER SUBSCRIPTION " + pgx.Identifier{name}.Sanitize() + " DISABLE"
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	deadline := time.Now().Add(workerStopTimeout)
	for {
		var workers int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_catalog.pg_stat_subscription WHERE subname = $1 AND pid IS NOT NULL`,
			name).Scan(&workers); err != nil {
			return fmt.Errorf("wait for the workers of subscription %q to stop: %w", name, err)
		}
		if workers == 0 {
			p.log.Info("subscription disabled, its workers stopped", "database", db, "subscription", name)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("subscription %q is disabled but %d of its workers still run after %s; run apply again", name, workers, workerStopTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// quietSettings keep a statement out of the server log: log_statement
// ('ddl' and 'all' record CREATE SUBSCRIPTION with its connection string),
// log_min_duration_statement (a slow statement is logged with its text)
// and log_min_error_statement (a failed statement is logged with its
// text). All three are superuser settings (PostgreSQL 15+: or granted
// with GRANT SET).
var quietSettings = []string{"log_statement", "log_min_duration_statement", "log_min_error_statement"}

// redactSource is err's text without the source's connection string or
// password: the statement that failed holds them.
func redactSource(err error, source conninfo.Info) string {
	msg := connstr.RedactURL(err.Error())
	for _, pw := range []string{source.WrittenPassword(), source.Password()} {
		if len(pw) >= 4 {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// runWithConnString runs sql, a CREATE SUBSCRIPTION (with create_slot =
// false, so it may run in a transaction) or ALTER SUBSCRIPTION ...
// CONNECTION holding the source's connection string. When the statement carries a
// password it runs in a transaction whose SET LOCAL settings keep it out
// of the target's server log, provided the role may change them; when it
// may not, the statement runs anyway and a warning says the server log
// may record the password (docs/security.md).
func (p *Provider) runWithConnString(ctx context.Context, conn *pgx.Conn, sql string, hasPassword bool) error {
	if !hasPassword {
		_, err := conninfo.ExecOne(ctx, conn, sql)
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.Background())
	var quiet bool
	if err := tx.QueryRow(ctx, `SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user`).Scan(&quiet); err != nil {
		return fmt.Errorf("is the target role a superuser: %w", err)
	}
	version, err := conninfo.ServerVersionNum(ctx, tx.Conn())
	if err != nil {
		return err
	}
	if !quiet && version >= 150000 {
		// has_parameter_privilege exists from PostgreSQL 15 on (GRANT SET).
		quiet = true
		for _, name := range quietSettings {
			var may bool
			if err := tx.QueryRow(ctx, `SELECT pg_catalog.has_parameter_privilege($1, 'SET')`, name).Scan(&may); err != nil {
				return fmt.Errorf("may this role set %s: %w", name, err)
			}
			quiet = quiet && may
		}
	}
	if quiet {
		for _, set := range []string{"SET LOCAL log_statement = 'none'", "SET LOCAL log_min_duration_statement = -1", "SET LOCAL log_min_error_statement = 'panic'"} {
			if _, err := tx.Exec(ctx, set); err != nil {
				return fmt.Errorf("%s: %w", set, err)
			}
		}
	} else {
		p.log.Warn("the target role may not change log_statement: the target's server log may record the source password of CREATE SUBSCRIPTION (see docs/security.md)")
	}
	if _, err := conninfo.ExecOne(ctx, tx.Conn(), sql); err != nil {
		return err
	}
	return tx.Commit(ctx)
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
	src, err := conninfo.Connect(ctx, ep.Source.WithDatabase(db))
	if err != nil {
		return err
	}
	defer src.Close(context.Background())
	now, err := snapshot.CommittedLSN(ctx, src)
	if err != nil {
		return fmt.Errorf("the source's WAL position: %w", err)
	}
	lsn := now.String()
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
			if len(refs) == 0 {
				p.log.Info("subscription caught up", "database", db, "slot", slot, "lsn", lsn)
			} else {
				p.log.Info("subscription caught up before the re-copy", "database", db, "slot", slot, "lsn", lsn, "tables", strings.Join(tables, ", "))
			}
			return nil
		case time.Now().After(deadline):
			at := "none"
			if confirmed != nil {
				at = *confirmed
			}
			if len(refs) == 0 {
				return fmt.Errorf("the subscription has not applied the source's changes up to %s after %s (slot %q confirmed %s): is it streaming? run apply again", lsn, catchUpTimeout, slot, at)
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
