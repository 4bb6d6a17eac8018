package catalog

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// MaterializedView is one materialized view of a user schema.
type MaterializedView struct {
	// Schema is the schema name.
	Schema string `json:"schema"`
	// Name is the materialized view's name.
	Name string `json:"name"`
	// Populated is relispopulated: false after CREATE ... WITH NO DATA
	// (or as pg_dump --schema-only leaves it) until REFRESH.
	Populated bool `json:"populated"`
}

// matviewsQuery reads every view and materialized view of the user
// schemas with the relations its rewrite rule depends on.
const matviewsQuery = `
SELECT c.oid, c.relkind::text, n.nspname::text, c.relname::text, c.relispopulated,
       ARRAY(SELECT DISTINCT d.refobjid FROM pg_catalog.pg_rewrite r
             JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass
                  AND d.objid = r.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass
             WHERE r.ev_class = c.oid AND d.refobjid <> c.oid)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY n.nspname, c.relname`

// matviews fills MaterializedViews in dependency order.
func (r *dbReader) matviews(ctx context.Context, d *Database) error {
	mvs, err := ReadMaterializedViews(ctx, r.tx)
	d.MaterializedViews = mvs
	return err
}

// Querier runs a query: a *pgx.Conn or a pgx.Tx.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ReadMaterializedViews reads the materialized views of the connected
// database, each after the materialized views it reads (directly or
// through views): the order in which REFRESH MATERIALIZED VIEW must run.
func ReadMaterializedViews(ctx context.Context, q Querier) ([]MaterializedView, error) {
	rows, err := q.Query(ctx, matviewsQuery, pgx.QueryExecModeExec)
	if err != nil {
		return nil, err
	}
	var rels []viewRel
	var v viewRel
	if _, err := pgx.ForEachRow(rows, []any{&v.oid, &v.kind, &v.mv.Schema, &v.mv.Name, &v.mv.Populated, &v.deps}, func() error {
		rels = append(rels, v)
		v = viewRel{}
		return nil
	}); err != nil {
		return nil, err
	}
	return orderMatviews(rels), nil
}

// viewRel is a view ("v") or materialized view ("m") and the relations
// its query reads.
type viewRel struct {
	oid  uint32
	kind string
	mv   MaterializedView
	deps []uint32
}

// orderMatviews returns the materialized views so that each comes after
// every materialized view it reads, directly or through views (the order
// REFRESH needs); ties keep the input's order (schema, name).
func orderMatviews(rels []viewRel) []MaterializedView {
	byOID := map[uint32]*viewRel{}
	for i := range rels {
		byOID[rels[i].oid] = &rels[i]
	}
	var out []MaterializedView
	state := map[uint32]int{} // 1 visiting, 2 done
	var visit func(v *viewRel)
	visit = func(v *viewRel) {
		if state[v.oid] != 0 {
			return
		}
		state[v.oid] = 1
		for _, dep := range v.deps {
			if dv := byOID[dep]; dv != nil {
				visit(dv)
			}
		}
		state[v.oid] = 2
		if v.kind == "m" {
			out = append(out, v.mv)
		}
	}
	for i := range rels {
		visit(&rels[i])
	}
	return out
}
