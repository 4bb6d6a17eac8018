package actions

import (
	"context"
	"fmt"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
)

// refreshMaterializedViews populates (REFRESH MATERIALIZED VIEW, in the
// given dependency order) and empties (WITH NO DATA) materialized views
// on one target database. A view the target lacks is skipped.
func refreshMaterializedViews(ctx context.Context, target conninfo.Info, refresh, noData []plans.TableName) error {
	if len(refresh) == 0 && len(noData) == 0 {
		return nil
	}
	conn, err := conninfo.Connect(ctx, target)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	run := func(t plans.TableName, suffix string) error {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", quoteTable(t)).Scan(&exists); err != nil {
			return fmt.Errorf("look up materialized view %s: %w", quoteTable(t), err)
		}
		if !exists {
			return nil
		}
		sql := "REFRESH MATERIALIZED VIEW " + quoteTable(t) + suffix
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("target: %s: %w", sql, err)
		}
		return nil
	}
	for _, t := range refresh {
		if err := run(t, ""); err != nil {
			return err
		}
	}
	for _, t := range noData {
		if err := run(t, " WITH NO DATA"); err != nil {
			return err
		}
	}
	return nil
}

// RefreshMaterializedViews is the cutover hook for materialized views: it
// reads which materialized views of a source database are populated and
// refreshes those on the target database (in dependency order), so that
// they hold the target's final data; those unpopulated on the source are
// emptied. It returns the views refreshed.
func RefreshMaterializedViews(ctx context.Context, source, target conninfo.Info) ([]plans.TableName, error) {
	conn, err := conninfo.Connect(ctx, source)
	if err != nil {
		return nil, err
	}
	mvs, err := catalog.ReadMaterializedViews(ctx, conn)
	conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("read the source's materialized views: %w", err)
	}
	var refresh, noData []plans.TableName
	for _, m := range mvs {
		t := plans.TableName{Schema: m.Schema, Table: m.Name}
		if m.Populated {
			refresh = append(refresh, t)
		} else {
			noData = append(noData, t)
		}
	}
	return refresh, refreshMaterializedViews(ctx, target, refresh, noData)
}
