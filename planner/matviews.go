package planner

import (
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

// planMatviews fills the materialized views post-data populates (or
// empties) so that each is populated on the target exactly when it is on
// the source (pg_dump --schema-only leaves every one unpopulated), and
// returns what to add to the reason. all is true when post-data runs
// whole (the target's are all unpopulated after the restore).
func (b *builder) planMatviews(ds *DatabaseScope, after *plans.PostDataAttrs, all bool) string {
	var target map[catalog.RelName]bool // populated on the target
	if tdb := b.dst.Database(ds.Name); tdb != nil && !all {
		target = map[catalog.RelName]bool{}
		for _, m := range tdb.MaterializedViews {
			target[catalog.RelName{Schema: m.Schema, Name: m.Name}] = m.Populated
		}
	}
	var refresh, noData []string
	for _, m := range ds.Source.MaterializedViews {
		k := catalog.RelName{Schema: m.Schema, Name: m.Name}
		populated, exists := target[k]
		if target != nil && !exists {
			continue // not on the target (schema drift)
		}
		t := plans.TableName{Schema: m.Schema, Table: m.Name}
		switch {
		case m.Populated && (all || !populated):
			after.RefreshMaterializedViews = append(after.RefreshMaterializedViews, t)
			refresh = append(refresh, m.Schema+"."+m.Name)
		case !m.Populated && !all && populated:
			after.NoDataMaterializedViews = append(after.NoDataMaterializedViews, t)
			noData = append(noData, m.Schema+"."+m.Name)
		}
	}
	var why []string
	if len(refresh) > 0 {
		why = append(why, fmt.Sprintf("REFRESH MATERIALIZED VIEW %s (populated on the source), in dependency order", strings.Join(refresh, ", ")))
	}
	if len(noData) > 0 {
		why = append(why, fmt.Sprintf("REFRESH MATERIALIZED VIEW %s WITH NO DATA (not populated on the source)", strings.Join(noData, ", ")))
	}
	return strings.Join(why, "; ")
}
