package actions

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
	"github.com/database-replicator/database-replicator/state"
)

// strMap reads a map[string]any attribute of strings.
func strMap(v any) map[string]string {
	out := map[string]string{}
	if m, ok := v.(map[string]any); ok {
		for k, e := range m {
			if s, ok := e.(string); ok {
				out[k] = s
			}
		}
	}
	return out
}

// attrsOf returns the attributes a change acts on: what it was for a
// delete, what it will be otherwise.
func attrsOf(c *planner.Change) map[string]any {
	if c.Action == planner.Delete {
		return c.Before
	}
	return c.After
}

// publication creates, alters or drops the source publication of a database.
func (p *Provider) publication(ctx context.Context, ep Endpoints, c *planner.Change) (map[string]any, error) {
	db := c.Addr.Key
	attrs := attrsOf(c)
	name, _ := attrs["name"].(string)
	conn, err := conninfo.Connect(ctx, ep.Source.WithDatabase(db))
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	pub := pgx.Identifier{name}.Sanitize()
	if c.Action == planner.Delete {
		_, err := conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pub)
		return nil, err
	}
	for _, t := range state.StringList(attrs["set_replica_identity_full"]) {
		if _, err := conn.Exec(ctx, "ALTER TABLE "+t+" REPLICA IDENTITY FULL"); err != nil {
			return nil, fmt.Errorf("set replica identity full on %s: %w", t, err)
		}
	}
	filters := strMap(attrs["row_filters"])
	windows, _ := attrs["time_windows"].(map[string]any)
	want := state.StringList(attrs["tables"])
	var current map[string]string
	if c.Action == planner.Update {
		if current, err = publishedTables(ctx, conn, name); err != nil {
			return nil, err
		}
	}
	frozen := map[string]any{}
	// item renders one table of the publication with its row filter.
	item := func(t string) (string, error) {
		f := filters[t]
		if w, ok := windows[t].(map[string]any); ok && (f == "" || strings.HasSuffix(f, frozenSuffix)) {
			// A time window is frozen when its table joins the publication;
			// an already published window keeps its stored cut-off (the
			// plan carries it as the filter).
			fw, err := freezeWindow(ctx, conn, t, w)
			if err != nil {
				return "", err
			}
			frozen[t] = fw
			f = fw
		}
		if f != "" {
			return t + " WHERE (" + f + ")", nil
		}
		return t, nil
	}
	var stmts []string
	if added, dropped, ok := addedAndDropped(current, want, filters); c.Action == planner.Update && ok {
		// Published tables that keep their filter are left alone: DROP
		// TABLE for those no longer wanted (or dropped for a re-copy by
		// the subscription's table sync), ADD TABLE for new ones.
		if len(dropped) > 0 {
			stmts = append(stmts, "ALTER PUBLICATION "+pub+" DROP TABLE "+strings.Join(dropped, ", "))
		}
		var items []string
		for _, t := range added {
			it, err := item(t)
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		}
		if len(items) > 0 {
			stmts = append(stmts, "ALTER PUBLICATION "+pub+" ADD TABLE "+strings.Join(items, ", "))
		}
	} else {
		var sql string
		var items []string
		for _, t := range want {
			it, err := item(t)
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		}
		sort.Strings(items)
		switch {
		case len(items) == 0 && c.Action == planner.Update:
			sql = "ALTER PUBLICATION " + pub + " SET (publish = 'insert, update, delete, truncate')"
		case len(items) == 0:
			sql = "CREATE PUBLICATION " + pub
		case c.Action == planner.Update:
			sql = "ALTER PUBLICATION " + pub + " SET TABLE " + strings.Join(items, ", ")
		default:
			sql = "CREATE PUBLICATION " + pub + " FOR TABLE " + strings.Join(items, ", ")
		}
		stmts = append(stmts, sql)
	}
	if len(stmts) > 0 {
		// One transaction: a rerun finds either nothing or everything done.
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			for _, sql := range stmts {
				if _, err := tx.Exec(ctx, sql); err != nil {
					return fmt.Errorf("%s: %w", strings.SplitN(strings.SplitN(sql, " FOR ", 2)[0], " TABLE ", 2)[0], err)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, sql := range stmts {
			p.log.Info("publication changed", "publication", name, "database", db, "statement", strings.SplitN(sql, " WHERE ", 2)[0])
		}
	}
	out := merge(attrs, nil)
	delete(out, planner.AttrDropForTableSync)
	if len(frozen) > 0 {
		out["frozen_time_windows"] = frozen
	}
	return out, nil
}

// frozenSuffix ends the planned filter of a time window that is frozen
// when its table joins the publication.
const frozenSuffix = "(frozen to a constant cut-off when the publication is created)"

// publishedTables returns the tables a publication carries now, quoted
// as the plan names them, with their stored row filters ("" for none);
// nil when the server cannot tell (before PostgreSQL 15 there are no row
// filters to compare).
func publishedTables(ctx context.Context, conn *pgx.Conn, pub string) (map[string]string, error) {
	var version int
	if err := conn.QueryRow(ctx, "SELECT pg_catalog.current_setting('server_version_num')::int").Scan(&version); err != nil {
		return nil, fmt.Errorf("read server version: %w", err)
	}
	if version < 150000 {
		return nil, nil
	}
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname, COALESCE(pg_catalog.pg_get_expr(pr.prqual, pr.prrelid), '')
		FROM pg_catalog.pg_publication_rel pr
		JOIN pg_catalog.pg_publication p ON p.oid = pr.prpubid
		JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE p.pubname = $1`, pub)
	if err != nil {
		return nil, fmt.Errorf("read the tables of publication %s: %w", pub, err)
	}
	out := map[string]string{}
	var schema, table, filter string
	if _, err := pgx.ForEachRow(rows, []any{&schema, &table, &filter}, func() error {
		out[lang.QuoteIdent(schema)+"."+lang.QuoteIdent(table)] = filter
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read the tables of publication %s: %w", pub, err)
	}
	return out, nil
}

// addedAndDropped reports whether every wanted table that is published
// keeps its stored filter (the plan carries the stored spelling of a
// filter that did not change), and returns the wanted tables that are not
// published and the published ones that are not wanted, sorted.
func addedAndDropped(current map[string]string, want []string, filters map[string]string) (added, dropped []string, ok bool) {
	if current == nil {
		return nil, nil, false
	}
	wanted := map[string]bool{}
	for _, t := range want {
		wanted[t] = true
		stored, published := current[t]
		switch {
		case !published:
			added = append(added, t)
		case stored != filters[t]:
			return nil, nil, false
		}
	}
	for t := range current {
		if !wanted[t] {
			dropped = append(dropped, t)
		}
	}
	sort.Strings(added)
	sort.Strings(dropped)
	return added, dropped, true
}

// freezeWindow turns a time window into a constant cut-off that a
// publication accepts: "column" > 'now() - window' cast to the column's type.
func freezeWindow(ctx context.Context, conn *pgx.Conn, table string, w map[string]any) (string, error) {
	col, _ := w["column"].(string)
	last, _ := w["last"].(string)
	var colType, cutoff string
	err := conn.QueryRow(ctx, `SELECT format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a
		WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped`, table, col).Scan(&colType)
	if err != nil {
		return "", fmt.Errorf("time window of %s: column %q: %w", table, col, err)
	}
	if err := conn.QueryRow(ctx, "SELECT (now() - $1::interval)::"+colType+"::text", last).Scan(&cutoff); err != nil {
		return "", fmt.Errorf("time window of %s: %w", table, err)
	}
	return pgx.Identifier{col}.Sanitize() + " > " + conninfo.QuoteLiteral(cutoff) + "::" + colType, nil
}

// slot creates the logical slot with an exported snapshot, and keeps the
// snapshot for the table copies of this run.
func (p *Provider) slot(ctx context.Context, ep Endpoints, c *planner.Change) (map[string]any, error) {
	db := c.Addr.Key
	attrs := attrsOf(c)
	name, _ := attrs["name"].(string)
	src := ep.Source.WithDatabase(db)
	if c.Action == planner.Delete || c.Action == planner.Replace {
		if err := snapshot.DropSlot(ctx, src, name); err != nil {
			return nil, err
		}
		if c.Action == planner.Delete {
			return nil, nil
		}
	}
	s, err := snapshot.CreateSlotWithSnapshot(ctx, src, name)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if old := p.slots[key(c.Addr.Replication, db)]; old != nil {
		_ = old.Close(ctx)
	}
	p.slots[key(c.Addr.Replication, db)] = s
	p.mu.Unlock()
	p.log.Info("replication slot created", "slot", name, "database", db, "consistent_point", s.ConsistentPoint)
	return merge(attrs, map[string]any{"consistent_point": s.ConsistentPoint, "snapshot": s.SnapshotName}), nil
}

// subscription creates, alters or drops the target subscription.
func (p *Provider) subscription(ctx context.Context, ep Endpoints, c *planner.Change) (map[string]any, error) {
	db := c.Addr.Key
	attrs := attrsOf(c)
	name, _ := attrs["name"].(string)
	slot, _ := attrs["slot_name"].(string)
	pubs := state.StringList(attrs["publications"])
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
	case planner.Delete:
		for _, sql := range []string{"ALTER SUBSCRIPTION " + sub + " DISABLE", "ALTER SUBSCRIPTION " + sub + " SET (slot_name = NONE)", "DROP SUBSCRIPTION " + sub} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				return nil, fmt.Errorf("%s: %w", sql, err)
			}
		}
		return nil, nil
	case planner.Update:
		stmts := []string{
			"ALTER SUBSCRIPTION " + sub + " SET PUBLICATION " + strings.Join(quotedPubs, ", ") + " WITH (refresh = false)",
			"ALTER SUBSCRIPTION " + sub + " ENABLE",
		}
		stop := state.StringList(attrs[planner.AttrStopApplying])
		if len(state.StringList(attrs[planner.AttrRefreshPublication])) > 0 || len(stop) > 0 {
			// Tables added to the publication after streaming started: the
			// subscription's table sync copies them (and only them: tables
			// already subscribed are not copied again), then streams them.
			// Tables the publication dropped leave pg_subscription_rel:
			// the apply worker stops applying them.
			// Needs an enabled subscription; repeating it is harmless.
			stmts = append(stmts, "ALTER SUBSCRIPTION "+sub+" REFRESH PUBLICATION WITH (copy_data = true)")
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
		out := merge(attrs, nil)
		delete(out, planner.AttrRefreshPublication)
		delete(out, planner.AttrStopApplying)
		return out, nil
	}
	// The slot must be free: release this run's exported snapshot first.
	p.mu.Lock()
	if s := p.slots[key(c.Addr.Replication, db)]; s != nil {
		_ = s.Close(ctx)
		delete(p.slots, key(c.Addr.Replication, db))
	}
	p.mu.Unlock()
	sql := "CREATE SUBSCRIPTION " + sub + " CONNECTION " + conninfo.QuoteLiteral(conninfo.SubscriptionConnString(ep.Source.WithDatabase(db))) +
		" PUBLICATION " + strings.Join(quotedPubs, ", ") +
		" WITH (create_slot = false, slot_name = " + conninfo.QuoteLiteral(slot) + ", copy_data = false, enabled = true)"
	if _, err := conn.Exec(ctx, sql); err != nil {
		// The statement holds the connection string: never print it.
		return nil, fmt.Errorf("CREATE SUBSCRIPTION %s: %s", sub, conninfo.RedactURL(err.Error()))
	}
	return attrs, nil
}
