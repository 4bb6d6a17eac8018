package catalog

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
)

// userRelations restricts pg_class c / pg_namespace n to the tables of
// user schemas. Schema names beginning with pg_ are reserved, so this
// leaves out pg_catalog, pg_toast*, pg_temp* and pg_toast_temp*.
const userRelations = `c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'`

// dbReader reads one database; the server's facts choose the SQL.
type dbReader struct {
	tx pgx.Tx
	// version is server_version_num.
	version int
	// readConnInfo is true when pg_subscription.subconninfo is readable.
	readConnInfo bool
	// byOID indexes the tables read so far.
	byOID map[uint32]*Table
}

// database reads one database's detail into d over its own connection,
// inside one read-only repeatable-read transaction so that the queries see
// the same catalog.
func (in introspector) database(ctx context.Context, info conninfo.Info, s *Server, d *Database) error {
	fail := func(what string, err error) error {
		return fmt.Errorf("introspect %s: %s: %w", d.Name, what, err)
	}
	conn, err := in.connect(ctx, info)
	if err != nil {
		return fail("connect", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fail("begin", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// pg_relation_size takes an ACCESS SHARE lock: fail rather than queue
	// for ever behind a long ALTER TABLE. JIT off: the catalog views'
	// estimates (pg_publication_tables: a function scan of 1,000 rows per
	// publication) cross jit_above_cost, and compiling took 0.4 s of a
	// query that runs in 1 ms, per database, more on a busy server.
	session := "SELECT set_config('lock_timeout', '30s', true)"
	if s.VersionNum >= 110000 {
		session += ", set_config('jit', 'off', true)"
	}
	if _, err := tx.Exec(ctx, session, pgx.QueryExecModeExec); err != nil {
		return fail("session settings", err)
	}
	r := &dbReader{tx: tx, version: s.VersionNum, readConnInfo: s.Privileges.ReadSubscriptionConnInfo, byOID: map[uint32]*Table{}}
	steps := []struct {
		what string
		read func(context.Context, *Database) error
	}{
		{"summary", r.summary},
		{"tables", r.tables},
		{"columns", r.columns},
		{"constraints", r.constraints},
		{"sequences", r.sequences},
		{"materialized views", r.matviews},
		{"publications", r.publications},
		{"subscriptions", r.subscriptions},
	}
	for _, st := range steps {
		if err := st.read(ctx, d); err != nil {
			return fail(st.what, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fail("commit", err)
	}
	d.Introspected = true
	return nil
}

// summaryQuery reads the schemas, extensions and large-object count.
const summaryQuery = `
SELECT ARRAY(SELECT nspname::text FROM pg_catalog.pg_namespace
             WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'),
       ARRAY(SELECT extname::text FROM pg_catalog.pg_extension),
       (SELECT count(*) FROM pg_catalog.pg_largeobject_metadata)`

// summary fills Schemas, Extensions and LargeObjects.
func (r *dbReader) summary(ctx context.Context, d *Database) error {
	if err := r.tx.QueryRow(ctx, summaryQuery, pgx.QueryExecModeExec).Scan(&d.Schemas, &d.Extensions, &d.LargeObjects); err != nil {
		return err
	}
	sort.Strings(d.Schemas)
	sort.Strings(d.Extensions)
	return nil
}

// tablesQuery reads every user table with its size, partition parent,
// replica identity and whether a unique index could serve as replica
// identity (valid, unique, immediate, not partial, key columns plain and
// NOT NULL: the checks of ALTER TABLE ... REPLICA IDENTITY USING INDEX).
const tablesQuery = `
SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, c.relpersistence = 'u',
       COALESCE(pn.nspname::text, ''), COALESCE(pc.relname::text, ''),
       CASE WHEN pc.oid IS NULL THEN '' ELSE format('%I.%I', pn.nspname, pc.relname) END,
       CASE WHEN c.reltuples < 0 OR (c.reltuples = 0 AND c.relpages > 0) THEN -1
            ELSE c.reltuples END::bigint,
       COALESCE(pg_relation_size(c.oid), 0)
         + CASE WHEN c.reltoastrelid <> 0 THEN COALESCE(pg_relation_size(c.reltoastrelid), 0) ELSE 0 END,
       c.relreplident::text,
       COALESCE((SELECT ic.relname::text FROM pg_catalog.pg_index i
                 JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                 WHERE i.indrelid = c.oid AND i.indisreplident LIMIT 1), ''),
       COALESCE((SELECT ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                              JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                              WHERE k.ord <= i.indnkeyatts ORDER BY k.ord)
                 FROM pg_catalog.pg_index i
                 WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indimmediate
                   AND i.indpred IS NULL
                   AND NOT EXISTS (
                     SELECT 1 FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                     LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                     WHERE k.ord <= i.indnkeyatts AND (k.attnum <= 0 OR a.attnotnull IS NOT TRUE))
                 ORDER BY i.indisprimary DESC, i.indisreplident DESC, i.indnkeyatts, i.indexrelid LIMIT 1), '{}'),
       ARRAY(SELECT ARRAY[ipn.nspname::text, ipc.relname::text]
             FROM pg_catalog.pg_inherits i
             JOIN pg_catalog.pg_class ipc ON ipc.oid = i.inhparent
             JOIN pg_catalog.pg_namespace ipn ON ipn.oid = ipc.relnamespace
             WHERE i.inhrelid = c.oid AND NOT c.relispartition ORDER BY i.inhseqno)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_inherits inh ON c.relispartition AND inh.inhrelid = c.oid
LEFT JOIN pg_catalog.pg_class pc ON pc.oid = inh.inhparent
LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
WHERE ` + userRelations

// replicaIdentities spells out pg_class.relreplident.
var replicaIdentities = map[string]string{
	"d": ReplicaIdentityDefault, "n": ReplicaIdentityNothing, "f": ReplicaIdentityFull, "i": ReplicaIdentityIndex,
}

// tables fills Tables (without columns and keys), sorted by schema, name.
func (r *dbReader) tables(ctx context.Context, d *Database) error {
	rows, err := r.tx.Query(ctx, tablesQuery, pgx.QueryExecModeExec)
	if err != nil {
		return err
	}
	tables, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Table, error) {
		t := &Table{}
		var ident string
		var inherits [][]string
		err := row.Scan(&t.OID, &t.Schema, &t.Name, &t.Kind, &t.Unlogged, &t.ParentSchema, &t.ParentName, &t.Parent,
			&t.EstimatedRows, &t.Bytes, &ident, &t.ReplicaIdentityIndex, &t.UniqueKey, &inherits)
		t.HasUniqueNotNullIndex = len(t.UniqueKey) > 0
		if len(t.UniqueKey) == 0 {
			t.UniqueKey = nil
		}
		t.ReplicaIdentity = replicaIdentities[ident]
		for _, p := range inherits {
			if len(p) == 2 {
				t.Inherits = append(t.Inherits, RelName{Schema: p[0], Name: p[1]})
			}
		}
		return t, err
	})
	if err != nil {
		return err
	}
	sort.Slice(tables, func(i, j int) bool {
		return lessQualified(tables[i].Schema, tables[i].Name, tables[j].Schema, tables[j].Name)
	})
	for _, t := range tables {
		r.byOID[t.OID] = t
	}
	sumPartitions(tables)
	d.Tables = tables
	return nil
}

// sumPartitions gives every partitioned table the sum of its partitions'
// row estimates and sizes (a partitioned table holds no rows itself and is
// never analysed by autovacuum): -1 rows when any partition's is unknown.
func sumPartitions(tables []*Table) {
	children := map[[2]string][]*Table{}
	for _, t := range tables {
		if t.ParentName != "" {
			k := [2]string{t.ParentSchema, t.ParentName}
			children[k] = append(children[k], t)
		}
	}
	var sum func(t *Table, depth int) (rows, bytes int64)
	sum = func(t *Table, depth int) (rows, bytes int64) {
		if t.Kind != KindPartitioned || depth > 64 {
			return t.EstimatedRows, t.Bytes
		}
		for _, c := range children[[2]string{t.Schema, t.Name}] {
			r, b := sum(c, depth+1)
			if r < 0 || rows < 0 {
				rows = -1
			} else {
				rows += r
			}
			bytes += b
		}
		return rows, bytes
	}
	for _, t := range tables {
		if t.Kind == KindPartitioned {
			t.EstimatedRows, t.Bytes = sum(t, 0)
		}
	}
}

// columnsQuery reads the live columns of every user table.
const columnsQuery = `
SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.attgenerated::text, a.attidentity::text, COALESCE(pg_get_expr(ad.adbin, ad.adrelid), '')
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND ` + userRelations + `
ORDER BY a.attrelid, a.attnum`

// columns fills every table's Columns in attnum order.
func (r *dbReader) columns(ctx context.Context, d *Database) error {
	rows, err := r.tx.Query(ctx, columnsQuery, pgx.QueryExecModeExec)
	if err != nil {
		return err
	}
	var (
		oid  uint32
		col  Column
		expr string
	)
	_, err = pgx.ForEachRow(rows, []any{&oid, &col.Name, &col.Type, &col.NotNull, &col.Generated, &col.Identity, &expr}, func() error {
		c := col
		if c.Generated != "" {
			c.GenerationExpression = expr
		} else {
			c.Default = expr
		}
		if t := r.byOID[oid]; t != nil {
			t.Columns = append(t.Columns, c)
		}
		return nil
	})
	return err
}

// constraintsQuery reads primary keys and foreign keys in one pass. A
// foreign key of a partitioned table is cloned on each partition (and,
// when a partitioned table is referenced, per referenced partition):
// those clones (conparentid <> 0) are left out, the declared key stands
// for them. Primary keys of partitions are kept.
const constraintsQuery = `
SELECT con.contype::text, con.conname::text, con.conrelid, fn.nspname::text, fc.relname::text,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord),
       con.confrelid, COALESCE(tn.nspname::text, ''), COALESCE(tc.relname::text, ''),
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
             ORDER BY k.ord),
       con.confdeltype::text, con.confupdtype::text
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_class fc ON fc.oid = con.conrelid
JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
LEFT JOIN pg_catalog.pg_class tc ON tc.oid = con.confrelid
LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
WHERE (con.contype = 'p' OR (con.contype = 'f' AND con.conparentid = 0))
  AND fn.nspname !~ '^pg_' AND fn.nspname <> 'information_schema'`

// fkActions spells out confdeltype and confupdtype.
var fkActions = map[string]string{
	"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT",
}

// constraints fills PrimaryKey, ForeignKeys and ReferencedBy.
func (r *dbReader) constraints(ctx context.Context, d *Database) error {
	rows, err := r.tx.Query(ctx, constraintsQuery, pgx.QueryExecModeExec)
	if err != nil {
		return err
	}
	var (
		kind, del, upd string
		from, to       uint32
		fk             ForeignKey
	)
	_, err = pgx.ForEachRow(rows, []any{&kind, &fk.Name, &from, &fk.FromSchema, &fk.FromTable, &fk.Columns,
		&to, &fk.RefSchema, &fk.RefTable, &fk.RefColumns, &del, &upd}, func() error {
		if kind == "p" {
			if t := r.byOID[from]; t != nil {
				t.PrimaryKey = slices.Clone(fk.Columns)
			}
			return nil
		}
		k := fk
		k.Columns, k.RefColumns = slices.Clone(fk.Columns), slices.Clone(fk.RefColumns)
		k.OnDelete, k.OnUpdate = fkActions[del], fkActions[upd]
		if t := r.byOID[from]; t != nil {
			t.ForeignKeys = append(t.ForeignKeys, k)
		}
		if t := r.byOID[to]; t != nil {
			t.ReferencedBy = append(t.ReferencedBy, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range d.Tables {
		sort.Slice(t.ForeignKeys, func(i, j int) bool { return t.ForeignKeys[i].Name < t.ForeignKeys[j].Name })
		sort.Slice(t.ReferencedBy, func(i, j int) bool {
			a, b := t.ReferencedBy[i], t.ReferencedBy[j]
			if a.FromSchema != b.FromSchema || a.FromTable != b.FromTable {
				return lessQualified(a.FromSchema, a.FromTable, b.FromSchema, b.FromTable)
			}
			return a.Name < b.Name
		})
	}
	return nil
}

// lessQualified orders schema-qualified names byte-wise, schema first.
func lessQualified(s1, n1, s2, n2 string) bool {
	if s1 != s2 {
		return s1 < s2
	}
	return n1 < n2
}
