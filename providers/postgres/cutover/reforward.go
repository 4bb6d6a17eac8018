package cutover

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
)

// Forward is the forward replication a rollback re-establishes at its
// detach: the objects as the configuration wants them (what apply would
// create), computed before the rollback fences anything.
type Forward struct {
	Publication  *plans.PublicationAttrs
	Slot         *plans.SlotAttrs
	Subscription *plans.SubscriptionAttrs
}

// CheckForward fails when f does not describe a whole logical replication.
func CheckForward(f *Forward) error {
	if f == nil || f.Publication == nil || f.Slot == nil || f.Subscription == nil {
		return errors.New("the configuration plans no logical replication for it")
	}
	return nil
}

// reforward creates the forward replication again while both sides are
// fenced and the reverse replication is drained and dropped: the
// publication and a new slot on the source, whose consistent point is the
// switch-back point, then the subscription on the target over that slot
// (no copy). When the subscription exists already (an earlier run got
// that far) nothing is done; otherwise a leftover slot or publication (of
// an interrupted run, or kept by --keep-source-objects) is dropped and
// created again: no subscription has consumed from it and the source is
// still fenced, so nothing is lost.
func reforward(ctx context.Context, db *Database) (string, error) {
	f := db.Forward
	dst, err := connectWritable(ctx, db.Target, "target", db)
	if err != nil {
		return "", err
	}
	defer dst.Close(context.Background())
	var subExists bool
	if err := dst.QueryRow(ctx, `SELECT count(*) > 0 FROM pg_catalog.pg_subscription WHERE subname = $1
		AND subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())`, f.Subscription.Name).Scan(&subExists); err != nil {
		return "", fmt.Errorf("read subscription %q on the target: %w", f.Subscription.Name, err)
	}
	if subExists {
		return f.Slot.ConsistentPoint, nil
	}
	src, err := connectSource(ctx, db)
	if err != nil {
		return "", err
	}
	defer src.Close(context.Background())
	for _, t := range f.Publication.SetReplicaIdentityFull {
		sql := "ALTER TABLE " + pgx.Identifier{t.Schema, t.Table}.Sanitize() + " REPLICA IDENTITY FULL"
		for side, conn := range map[string]*pgConn{"source": src, "target": dst} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				return "", fmt.Errorf("%s on the %s: %w", sql, side, err)
			}
		}
	}
	pub := pgx.Identifier{f.Publication.Name}.Sanitize()
	if _, err := src.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pub); err != nil {
		return "", fmt.Errorf("drop the leftover publication %q on the source: %w", f.Publication.Name, err)
	}
	var items []string
	for i := range f.Publication.Tables {
		t := &f.Publication.Tables[i]
		item := pgx.Identifier{t.Table.Schema, t.Table.Table}.Sanitize()
		filter := t.RowFilter()
		if t.Window != nil && filter == "" {
			// As apply does when a table joins the publication: the
			// window frozen to a constant cut-off, recorded in Frozen.
			if filter, err = freezeWindow(ctx, src, t.Table, *t.Window); err != nil {
				return "", err
			}
			t.Frozen = filter
		}
		if filter != "" {
			if err := lang.CheckRowFilterSyntax(filter); err != nil {
				return "", fmt.Errorf("row filter of %s: %w", item, err)
			}
			item += " WHERE (" + filter + ")"
		}
		items = append(items, item)
	}
	sql := "CREATE PUBLICATION " + pub
	if len(items) > 0 {
		sql += " FOR TABLE " + strings.Join(items, ", ")
	}
	if _, err := src.Exec(ctx, sql); err != nil {
		return "", fmt.Errorf("create the forward publication %q on the source: %w", f.Publication.Name, err)
	}
	var slotActive *bool
	if err := src.QueryRow(ctx, `SELECT (SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = $1)`, f.Slot.Name).Scan(&slotActive); err != nil {
		return "", fmt.Errorf("read replication slot %q on the source: %w", f.Slot.Name, err)
	}
	if slotActive != nil {
		if *slotActive {
			return "", fmt.Errorf("replication slot %q on the source is in use by another consumer: stop it, then run cutover --rollback again", f.Slot.Name)
		}
		if _, err := src.Exec(ctx, `SELECT pg_catalog.pg_drop_replication_slot($1)`, f.Slot.Name); err != nil {
			return "", fmt.Errorf("drop the leftover replication slot %q on the source: %w", f.Slot.Name, err)
		}
	}
	var lsn string
	if err := src.QueryRow(ctx, `SELECT lsn::text FROM pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')`, f.Slot.Name).Scan(&lsn); err != nil {
		return "", fmt.Errorf("create the forward replication slot %q on the source: %w", f.Slot.Name, err)
	}
	source := db.Source
	withPassword := f.Subscription.StoresPassword && source.WrittenPassword() != ""
	with := "create_slot = false, copy_data = false, slot_name = " + conninfo.QuoteLiteral(f.Slot.Name)
	if !f.Subscription.Enabled {
		with += ", enabled = false"
	}
	var pubs []string
	for _, p := range f.Subscription.Publications {
		pubs = append(pubs, pgx.Identifier{p}.Sanitize())
	}
	sub := pgx.Identifier{f.Subscription.Name}.Sanitize()
	sql = "CREATE SUBSCRIPTION " + sub + " CONNECTION " + conninfo.QuoteLiteral(conninfo.SubscriptionConnString(source, withPassword)) +
		" PUBLICATION " + strings.Join(pubs, ", ") + " WITH (" + with + ")"
	if err := execQuietly(ctx, dst, sql, withPassword); err != nil {
		msg := err.Error()
		for _, pw := range []string{source.WrittenPassword(), source.Password()} {
			if len(pw) >= 4 {
				msg = strings.ReplaceAll(msg, pw, "xxxxx")
			}
		}
		return "", fmt.Errorf("CREATE SUBSCRIPTION %s on the target: %s", sub, msg)
	}
	f.Slot.ConsistentPoint = lsn
	return lsn, nil
}

// freezeWindow turns a time window into a constant cut-off that a
// publication accepts: "column" > 'now() - window' cast to the column's
// type (apply's freeze, on the tool's source session).
func freezeWindow(ctx context.Context, conn *pgConn, t plans.TableName, w plans.TimeWindow) (string, error) {
	table := pgx.Identifier{t.Schema, t.Table}.Sanitize()
	var colType, cutoff string
	err := conn.QueryRow(ctx, `SELECT format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a
		WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped`, table, w.Column).Scan(&colType)
	if err != nil {
		return "", fmt.Errorf("time window of %s: column %q: %w", table, w.Column, err)
	}
	if err := conn.QueryRow(ctx, "SELECT (now() - $1::interval)::"+colType+"::text", w.Last).Scan(&cutoff); err != nil {
		return "", fmt.Errorf("time window of %s: %w", table, err)
	}
	return pgx.Identifier{w.Column}.Sanitize() + " > " + conninfo.QuoteLiteral(cutoff) + "::" + colType, nil
}
