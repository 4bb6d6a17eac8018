package actions

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// publication creates, alters or drops the source publication of a database.
func (p *Provider) publication(ctx context.Context, ep Endpoints, c *plans.Change) (plans.Attrs, error) {
	db := c.Addr.Key
	attrs, err := attrsOf[*plans.PublicationAttrs](c)
	if err != nil {
		return nil, err
	}
	name := attrs.Name
	conn, err := conninfo.Connect(ctx, ep.Source.WithDatabase(db))
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	pub := pgx.Identifier{name}.Sanitize()
	if c.Action == plans.Delete {
		_, err := conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pub)
		return nil, err
	}
	var stmts []string
	for _, t := range attrs.SetReplicaIdentityFull {
		stmts = append(stmts, "ALTER TABLE "+quoteTable(t)+" REPLICA IDENTITY FULL")
	}
	out := *attrs
	out.DropForTableSync = nil
	out.Tables = append([]plans.PublishedTable{}, attrs.Tables...)
	version, err := conninfo.ServerVersionNum(ctx, conn)
	if err != nil {
		return nil, err
	}
	var current map[plans.TableName]string
	if c.Action == plans.Update {
		if current, err = publishedTables(ctx, conn, name); err != nil {
			return nil, err
		}
	}
	// item renders one table of the publication with its row filter.
	item := func(i int) (string, error) {
		t := &out.Tables[i]
		f := t.RowFilter()
		if t.Window != nil && t.Cutoff == "" {
			// A time window is frozen when its table joins the publication;
			// an already published window keeps its stored cut-off.
			fw, err := freezeWindow(ctx, conn, t.Table, *t.Window)
			if err != nil {
				return "", err
			}
			t.Frozen = fw
			f = fw
		}
		if f != "" {
			// The filter is data: refuse text that would not stay one
			// expression inside the parentheses (the plan file may have
			// been edited), and run the statement through the extended
			// protocol, which executes one statement only.
			if err := lang.CheckRowFilterSyntax(f); err != nil {
				return "", fmt.Errorf("row filter of %s: %w", quoteTable(t.Table), err)
			}
			return quoteTable(t.Table) + " WHERE (" + f + ")", nil
		}
		if version < 130000 {
			return leavesBefore13(ctx, conn, t.Table)
		}
		return quoteTable(t.Table), nil
	}
	if added, dropped, ok := addedAndDropped(current, out.Tables); c.Action == plans.Update && ok {
		// Published tables that keep their filter are left alone: DROP
		// TABLE for those no longer wanted (or dropped for a re-copy by
		// the subscription's table sync), ADD TABLE for new ones.
		if len(dropped) > 0 {
			names := make([]string, len(dropped))
			for i, t := range dropped {
				names[i] = quoteTable(t)
			}
			stmts = append(stmts, "ALTER PUBLICATION "+pub+" DROP TABLE "+strings.Join(names, ", "))
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
		for i := range out.Tables {
			it, err := item(i)
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		}
		sort.Strings(items)
		switch {
		case len(items) == 0 && c.Action == plans.Update:
			sql = "ALTER PUBLICATION " + pub + " SET (publish = 'insert, update, delete, truncate')"
		case len(items) == 0:
			sql = "CREATE PUBLICATION " + pub
		case c.Action == plans.Update:
			sql = "ALTER PUBLICATION " + pub + " SET TABLE " + strings.Join(items, ", ")
		default:
			sql = "CREATE PUBLICATION " + pub + " FOR TABLE " + strings.Join(items, ", ")
		}
		stmts = append(stmts, sql)
	}
	if len(stmts) > 0 {
		// One transaction: a rerun finds either nothing or everything done.
		// Every statement goes through the extended protocol (one
		// statement per text), as they carry row filters.
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			for _, sql := range stmts {
				if _, err := conninfo.ExecOne(ctx, tx.Conn(), sql); err != nil {
					return statementError(sql, err)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, sql := range stmts {
			if strings.HasPrefix(sql, "ALTER TABLE ") {
				p.log.Info("replica identity set to full", "database", db, "statement", sql)
				continue
			}
			p.log.Info("publication changed", "publication", name, "database", db, "statement", strings.SplitN(sql, " WHERE ", 2)[0])
		}
	}
	if err := p.targetReplicaIdentityFull(ctx, ep, db, attrs.SetReplicaIdentityFull); err != nil {
		return nil, err
	}
	return &out, nil
}

// leavesBefore13 renders a table for a publication on PostgreSQL 12, which
// refuses partitioned tables ("Adding partitioned tables to publications
// is not supported"): a partitioned table becomes its leaf partitions
// (the catalog reports them folded back into the partitioned table), any
// other table itself. Row filters, which could not apply to the leaves,
// do not exist before 15.
func leavesBefore13(ctx context.Context, conn *pgx.Conn, t plans.TableName) (string, error) {
	table := quoteTable(t)
	rows, err := conn.Query(ctx, `SELECT n.nspname::text, c.relname::text
		FROM pg_catalog.pg_partition_tree($1::regclass) l
		JOIN pg_catalog.pg_class c ON c.oid = l.relid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE l.isleaf AND l.relid <> $1::regclass
		ORDER BY 1, 2`, table)
	if err != nil {
		return "", fmt.Errorf("list the partitions of %s: %w", table, err)
	}
	var leaves []string
	var schema, name string
	if _, err := pgx.ForEachRow(rows, []any{&schema, &name}, func() error {
		leaves = append(leaves, quoteTable(plans.TableName{Schema: schema, Table: name}))
		return nil
	}); err != nil {
		return "", fmt.Errorf("list the partitions of %s: %w", table, err)
	}
	if len(leaves) == 0 {
		return table, nil
	}
	return strings.Join(leaves, ", "), nil
}

// statementError names the statement that failed (without its row
// filters) and, when the source refused a row filter, says so.
func statementError(sql string, err error) error {
	what := strings.SplitN(strings.SplitN(sql, " FOR ", 2)[0], " TABLE ", 2)[0]
	if strings.HasPrefix(sql, "ALTER TABLE ") {
		what = sql
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && strings.Contains(pgErr.Message, "WHERE") {
		msg := pgErr.Message
		if pgErr.Detail != "" {
			msg += ": " + pgErr.Detail
		}
		return fmt.Errorf("%s: the source refuses a row filter (%s); nothing of this publication change was applied: fix the filter (publications allow only immutable built-in functions and operators over the table's columns), or use sync { method = \"xmin\" }: %w", what, msg, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// quoteTable renders a table name as a SQL identifier.
func quoteTable(t plans.TableName) string { return pgx.Identifier{t.Schema, t.Table}.Sanitize() }

// publishedTables returns the tables a publication carries now, with
// their stored row filters ("" for none);
// nil when the server cannot tell (before PostgreSQL 15 there are no row
// filters to compare).
func publishedTables(ctx context.Context, conn *pgx.Conn, pub string) (map[plans.TableName]string, error) {
	version, err := conninfo.ServerVersionNum(ctx, conn)
	if err != nil {
		return nil, err
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
	out := map[plans.TableName]string{}
	var schema, table, filter string
	if _, err := pgx.ForEachRow(rows, []any{&schema, &table, &filter}, func() error {
		out[plans.TableName{Schema: schema, Table: table}] = filter
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read the tables of publication %s: %w", pub, err)
	}
	return out, nil
}

// addedAndDropped reports whether every wanted table that is published
// keeps its stored filter (the plan carries the stored spelling of a
// filter that did not change, and the stored cut-off of a time window),
// and returns the indexes of the wanted tables that are not published and
// the published tables that are not wanted, each sorted by name.
func addedAndDropped(current map[plans.TableName]string, want []plans.PublishedTable) (added []int, dropped []plans.TableName, ok bool) {
	if current == nil {
		return nil, nil, false
	}
	wanted := map[plans.TableName]bool{}
	for i, t := range want {
		wanted[t.Table] = true
		stored, published := current[t.Table]
		switch {
		case !published:
			added = append(added, i)
		case t.Window != nil && t.Cutoff == "":
			return nil, nil, false // the window is frozen again
		case stored != t.RowFilter():
			return nil, nil, false
		}
	}
	for t := range current {
		if !wanted[t] {
			dropped = append(dropped, t)
		}
	}
	sort.Slice(added, func(i, j int) bool { return want[added[i]].Table.Less(want[added[j]].Table) })
	plans.SortTableNames(dropped)
	return added, dropped, true
}

// freezeWindow turns a time window into a constant cut-off that a
// publication accepts: "column" > 'now() - window' cast to the column's type.
func freezeWindow(ctx context.Context, conn *pgx.Conn, t plans.TableName, w plans.TimeWindow) (string, error) {
	table := quoteTable(t)
	col, last := w.Column, w.Last
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
