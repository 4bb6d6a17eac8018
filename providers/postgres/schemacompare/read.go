package schemacompare

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
)

// Object is one schema object read from the catalogs, as a comparable
// record.
type Object struct {
	// Kind is the object kind: database, schema, extension, table, view,
	// materialized view, column, index, constraint, trigger, rule, policy,
	// sequence, function, procedure, aggregate, type, default privileges.
	Kind string `json:"kind"`
	// Name is the object's name as a user reads it: identifiers quoted
	// where needed, schema-qualified; a column is table.column, a
	// constraint, trigger, rule or policy "name on table", a function
	// carries its argument types.
	Name string `json:"name"`
	// Parent is the name of the relation a column, index, constraint,
	// trigger, rule or policy belongs to ("" for others).
	Parent string `json:"parent,omitempty"`
	// Attributes are the compared properties, each normalised to text
	// ("" when unset).
	Attributes map[string]string `json:"attributes"`

	// rel is the table (its partition root) the object belongs to, as
	// {schema, name}; an object of a table outside the scope is not
	// compared.
	rel relName
	// deps are the tables (partition roots) the object uses (a view's
	// tables, a foreign key's referenced table): out of scope, the object
	// is left out by the schema dump and not compared.
	deps []relName
	// ownedBy is the table of a sequence's OWNED BY: the dump drops
	// OWNED BY when that table is outside the scope.
	ownedBy relName
	// value and increment are a sequence's last value (nil when never
	// used or unreadable) and increment.
	value     *int64
	increment int64
	// raw are the attributes before normalise (a definition with its
	// original layout, to run as DDL).
	raw map[string]string
}

// relName is a table's schema and name, literally.
type relName struct{ Schema, Name string }

// Schema is every compared object of one database.
type Schema struct {
	// Objects by key (kind and name).
	Objects map[string]*Object
}

func key(kind, name string) string { return kind + "\x00" + name }

// NewSchema builds a Schema from records (objects read elsewhere, or
// made by hand).
func NewSchema(objects ...*Object) *Schema {
	s := &Schema{Objects: map[string]*Object{}}
	for _, o := range objects {
		s.Objects[key(o.Kind, o.Name)] = o
	}
	return s
}

// Options tune Read.
type Options struct {
	// IgnoreSchemas are schemas left out entirely (the tool's own, e.g.
	// the xmin cursor's).
	IgnoreSchemas []string
}

// acl renders an ACL as its difference from the default privileges of
// the object's kind and owner on that server: "default", then "+item"
// for each grant beyond it and "-item" for each default one revoked. So a
// dump's re-granted defaults and a newer server's larger default (MAINTAIN
// from PostgreSQL 17) compare equal.
func acl(col, kind, owner string) string {
	def := fmt.Sprintf("pg_catalog.acldefault('%s', %s)", kind, owner)
	return fmt.Sprintf(`CASE WHEN %[1]s IS NULL THEN 'default' ELSE pg_catalog.concat_ws(' ', 'default',
		(SELECT pg_catalog.string_agg('+' || x::text, ' ' ORDER BY x::text) FROM pg_catalog.unnest(%[1]s) x WHERE NOT x = ANY(%[2]s)),
		(SELECT pg_catalog.string_agg('-' || x::text, ' ' ORDER BY x::text) FROM pg_catalog.unnest(%[2]s) x WHERE NOT x = ANY(%[1]s))) END`, col, def)
}

// notExtension keeps objects that are not members of an extension
// (CREATE EXTENSION makes those; the extension's version is compared).
func notExtension(catalog, oid string) string {
	return fmt.Sprintf(`NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = 'pg_catalog.%s'::pg_catalog.regclass AND e.objid = %s AND e.deptype = 'e')`, catalog, oid)
}

// userSchema keeps namespaces that hold user objects.
func userSchema(nspname string) string {
	return fmt.Sprintf(`%[1]s <> ALL($1::text[]) AND %[1]s NOT IN ('pg_catalog', 'information_schema') AND %[1]s !~ '^pg_(toast|temp_|toast_temp_)'`, nspname)
}

// rootOf renders {schema, name} of a relation's partition root.
func rootOf(oid string) string {
	return fmt.Sprintf(`(SELECT ARRAY[rn.nspname::text, rc.relname::text] FROM pg_catalog.pg_class rc JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
		WHERE rc.oid = COALESCE(pg_catalog.pg_partition_root(%[1]s), %[1]s))`, oid)
}

// queries return (kind, name, parent, rel text[], deps text[] as flat
// schema/name pairs, owned_by text[], attributes jsonb).
func queries(version int) []string {
	triggerFilter := "NOT t.tgisinternal"
	if version >= 130000 {
		// Clones of a partitioned table's trigger on its partitions come
		// with the parent's: compared there.
		triggerFilter += " AND t.tgparentid = 0"
	}
	return []string{
		// The database.
		`SELECT 'database', pg_catalog.quote_ident(d.datname), '', '{}'::text[], '{}'::text[], '{}'::text[], pg_catalog.jsonb_build_object(
			'owner', pg_catalog.pg_get_userbyid(d.datdba),
			'encoding', pg_catalog.pg_encoding_to_char(d.encoding),
			'collate', d.datcollate::text, 'ctype', d.datctype::text,
			'grants', ` + acl("d.datacl", "d", "d.datdba") + `,
			'comment', pg_catalog.shobj_description(d.oid, 'pg_database'),
			'settings', (SELECT pg_catalog.array_to_string(ARRAY(SELECT x FROM pg_catalog.unnest(s.setconfig) x ORDER BY 1), ', ')
				FROM pg_catalog.pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0))
		FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()`,

		// Schemas.
		`SELECT 'schema', pg_catalog.quote_ident(n.nspname), '', '{}'::text[], '{}'::text[], '{}'::text[], pg_catalog.jsonb_build_object(
			'owner', pg_catalog.pg_get_userbyid(n.nspowner),
			'grants', ` + acl("n.nspacl", "n", "n.nspowner") + `,
			'comment', pg_catalog.obj_description(n.oid, 'pg_namespace'))
		FROM pg_catalog.pg_namespace n WHERE ` + userSchema("n.nspname") + ` AND ` + notExtension("pg_namespace", "n.oid"),

		// Extensions.
		`SELECT 'extension', pg_catalog.quote_ident(x.extname), '', '{}'::text[], '{}'::text[], '{}'::text[], pg_catalog.jsonb_build_object(
			'version', x.extversion, 'schema', n.nspname::text,
			'comment', pg_catalog.obj_description(x.oid, 'pg_extension'))
		FROM pg_catalog.pg_extension x JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace
		WHERE n.nspname <> ALL($1::text[])`,

		// Tables, partitions, views, materialized views.
		`SELECT CASE WHEN c.relkind IN ('v') THEN 'view' WHEN c.relkind = 'm' THEN 'materialized view' ELSE 'table' END,
			pg_catalog.format('%I.%I', n.nspname, c.relname), '',
			CASE WHEN c.relkind IN ('r', 'p', 'f') THEN ` + rootOf("c.oid") + ` ELSE '{}'::text[] END,
			CASE WHEN c.relkind IN ('v', 'm') THEN ARRAY(
				SELECT u FROM (SELECT DISTINCT ` + rootOf("d.refobjid") + ` AS r
					FROM pg_catalog.pg_rewrite w JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND d.objid = w.oid
					 AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.refobjid <> c.oid
					JOIN pg_catalog.pg_class dc ON dc.oid = d.refobjid AND dc.relkind IN ('r', 'p', 'f')
					WHERE w.ev_class = c.oid) s, pg_catalog.unnest(s.r) u) ELSE '{}'::text[] END,
			'{}'::text[],
			pg_catalog.jsonb_build_object(
			'kind', CASE c.relkind WHEN 'r' THEN CASE WHEN c.relispartition THEN 'partition' ELSE 'table' END
				WHEN 'p' THEN CASE WHEN c.relispartition THEN 'partitioned partition' ELSE 'partitioned table' END
				WHEN 'f' THEN 'foreign table' WHEN 'v' THEN 'view' ELSE 'materialized view' END,
			'persistence', CASE c.relpersistence WHEN 'u' THEN 'unlogged' ELSE 'permanent' END,
			'partition of', (SELECT pg_catalog.format('%I.%I', pn.nspname, pc.relname) FROM pg_catalog.pg_inherits i
				JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
				WHERE i.inhrelid = c.oid AND c.relispartition),
			'partition bound', CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END,
			'partition key', CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END,
			'inherits', (SELECT pg_catalog.string_agg(pg_catalog.format('%I.%I', pn.nspname, pc.relname), ', ' ORDER BY i.inhseqno) FROM pg_catalog.pg_inherits i
				JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
				WHERE i.inhrelid = c.oid AND NOT c.relispartition),
			'owner', pg_catalog.pg_get_userbyid(c.relowner),
			'grants', ` + acl("c.relacl", "r", "c.relowner") + `,
			'comment', pg_catalog.obj_description(c.oid, 'pg_class'),
			'options', pg_catalog.array_to_string(ARRAY(SELECT x FROM pg_catalog.unnest(c.reloptions) x ORDER BY 1), ', '),
			'row security', CASE WHEN c.relforcerowsecurity THEN 'forced' WHEN c.relrowsecurity THEN 'enabled' ELSE 'disabled' END,
			'definition', CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END,
			'populated', CASE WHEN c.relkind = 'm' THEN c.relispopulated::text END)
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm') AND ` + userSchema("n.nspname") + ` AND ` + notExtension("pg_class", "c.oid"),

		// Columns of tables, views, materialized views.
		`SELECT 'column', pg_catalog.format('%I.%I.%I', n.nspname, c.relname, a.attname), pg_catalog.format('%I.%I', n.nspname, c.relname),
			CASE WHEN c.relkind IN ('r', 'p', 'f') THEN ` + rootOf("c.oid") + ` ELSE '{}'::text[] END, '{}'::text[], '{}'::text[],
			pg_catalog.jsonb_build_object(
			'position', CASE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid)
				THEN (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute b WHERE b.attrelid = c.oid AND b.attnum > 0 AND b.attnum <= a.attnum AND NOT b.attisdropped)::text END,
			'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
			'default', CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) END,
			'generated', CASE WHEN a.attgenerated = 's' THEN 'stored ' || pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) END,
			'not null', CASE WHEN c.relkind IN ('r', 'p', 'f') THEN a.attnotnull::text END,
			'identity', CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END,
			'collation', CASE WHEN a.attcollation <> t.typcollation THEN (SELECT pg_catalog.format('%I.%I', cn.nspname, co.collname)
				FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END,
			'comment', pg_catalog.col_description(c.oid, a.attnum),
			'grants', pg_catalog.array_to_string(ARRAY(SELECT x::text FROM pg_catalog.unnest(a.attacl) x ORDER BY 1), ' '))
		FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
		LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
		WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm') AND ` + userSchema("n.nspname") + ` AND ` + notExtension("pg_class", "c.oid"),

		// Indexes.
		`SELECT 'index', pg_catalog.format('%I.%I', n.nspname, ic.relname), pg_catalog.format('%I.%I', n.nspname, c.relname),
			CASE WHEN c.relkind IN ('r', 'p', 'f') THEN ` + rootOf("c.oid") + ` ELSE '{}'::text[] END, '{}'::text[], '{}'::text[],
			pg_catalog.jsonb_build_object(
			'definition', pg_catalog.pg_get_indexdef(i.indexrelid),
			'valid', i.indisvalid::text, 'clustered', i.indisclustered::text,
			'comment', pg_catalog.obj_description(ic.oid, 'pg_class'))
		FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE ` + userSchema("n.nspname") + ` AND ` + notExtension("pg_class", "c.oid"),

		// Constraints of tables and domains (NOT NULL is a column's
		// property; clones on partitions come with the parent's).
		`SELECT 'constraint', CASE WHEN c.oid IS NOT NULL THEN pg_catalog.format('%I on %I.%I', co.conname, n.nspname, c.relname)
				ELSE pg_catalog.format('%I on domain %I.%I', co.conname, tn.nspname, t.typname) END,
			CASE WHEN c.oid IS NOT NULL THEN pg_catalog.format('%I.%I', n.nspname, c.relname) ELSE pg_catalog.format('%I.%I', tn.nspname, t.typname) END,
			CASE WHEN c.oid IS NOT NULL THEN ` + rootOf("c.oid") + ` ELSE '{}'::text[] END,
			CASE WHEN co.confrelid <> 0 THEN ` + rootOf("co.confrelid") + ` ELSE '{}'::text[] END, '{}'::text[],
			pg_catalog.jsonb_build_object(
			'definition', pg_catalog.pg_get_constraintdef(co.oid),
			'comment', pg_catalog.obj_description(co.oid, 'pg_constraint'))
		FROM pg_catalog.pg_constraint co
		LEFT JOIN pg_catalog.pg_class c ON c.oid = co.conrelid LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_catalog.pg_type t ON t.oid = co.contypid LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
		WHERE co.contype <> 'n' AND co.conparentid = 0 AND (c.oid IS NOT NULL OR t.oid IS NOT NULL)
		  AND ` + userSchema("COALESCE(n.nspname, tn.nspname)") + ` AND ` + notExtension("pg_constraint", "co.oid"),

		// Triggers.
		`SELECT 'trigger', pg_catalog.format('%I on %I.%I', t.tgname, n.nspname, c.relname), pg_catalog.format('%I.%I', n.nspname, c.relname),
			CASE WHEN c.relkind IN ('r', 'p', 'f') THEN ` + rootOf("c.oid") + ` ELSE '{}'::text[] END, '{}'::text[], '{}'::text[],
			pg_catalog.jsonb_build_object(
			'definition', pg_catalog.pg_get_triggerdef(t.oid),
			'enabled', CASE t.tgenabled WHEN 'O' THEN 'origin' WHEN 'D' THEN 'disabled' WHEN 'R' THEN 'replica' WHEN 'A' THEN 'always' END,
			'comment', pg_catalog.obj_description(t.oid, 'pg_trigger'))
		FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE ` + triggerFilter + ` AND ` + userSchema("n.nspname") + ` AND ` + notExtension("pg_class", "c.oid"),

		// Rules (a view's own _RETURN rule is its definition).
		`SELECT 'rule', pg_catalog.format('%I on %I.%I', r.rulename, n.nspname, c.relname), pg_catalog.format('%I.%I', n.nspname, c.relname),
			CASE WHEN c.relkind IN ('r', 'p', 'f') THEN ` + rootOf("c.oid") + ` ELSE '{}'::text[] END, '{}'::text[], '{}'::text[],
			pg_catalog.jsonb_build_object('definition', pg_catalog.pg_get_ruledef(r.oid),
			'comment', pg_catalog.obj_description(r.oid, 'pg_rewrite'))
		FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE r.rulename <> '_RETURN' AND ` + userSchema("n.nspname") + ` AND ` + notExtension("pg_class", "c.oid"),

		// Row-level security policies.
		`SELECT 'policy', pg_catalog.format('%I on %I.%I', p.polname, n.nspname, c.relname), pg_catalog.format('%I.%I', n.nspname, c.relname),
			` + rootOf("c.oid") + `, '{}'::text[], '{}'::text[],
			pg_catalog.jsonb_build_object(
			'command', p.polcmd::text, 'permissive', p.polpermissive::text,
			'roles', pg_catalog.array_to_string(ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(r)::text END FROM pg_catalog.unnest(p.polroles) r ORDER BY 1), ', '),
			'using', pg_catalog.pg_get_expr(p.polqual, p.polrelid),
			'with check', pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid),
			'comment', pg_catalog.obj_description(p.oid, 'pg_policy'))
		FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE ` + userSchema("n.nspname"),

		// Sequences: parameters, OWNED BY, and the value (compared apart).
		`SELECT 'sequence', pg_catalog.format('%I.%I', n.nspname, c.relname), '',
			COALESCE((SELECT ` + rootOf("d.refobjid") + ` FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
				AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'i'), '{}'::text[]),
			'{}'::text[],
			COALESCE((SELECT ` + rootOf("d.refobjid") + ` FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
				AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'a'), '{}'::text[]),
			pg_catalog.jsonb_build_object(
			'type', pg_catalog.format_type(s.seqtypid, NULL),
			'start', s.seqstart::text, 'increment', s.seqincrement::text, 'minimum', s.seqmin::text, 'maximum', s.seqmax::text,
			'cache', s.seqcache::text, 'cycle', s.seqcycle::text,
			'owned by', (SELECT pg_catalog.format('%I.%I.%I', dn.nspname, dc.relname, da.attname) FROM pg_catalog.pg_depend d
				JOIN pg_catalog.pg_class dc ON dc.oid = d.refobjid JOIN pg_catalog.pg_namespace dn ON dn.oid = dc.relnamespace
				JOIN pg_catalog.pg_attribute da ON da.attrelid = d.refobjid AND da.attnum = d.refobjsubid
				WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
				  AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i')),
			'owner', pg_catalog.pg_get_userbyid(c.relowner),
			'grants', ` + acl("c.relacl", "s", "c.relowner") + `,
			'comment', pg_catalog.obj_description(c.oid, 'pg_class'),
			'last value', (SELECT v.last_value::text FROM pg_catalog.pg_sequences v WHERE v.schemaname = n.nspname AND v.sequencename = c.relname))
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid
		WHERE ` + userSchema("n.nspname") + ` AND ` + notExtension("pg_class", "c.oid"),

		// Functions, procedures, aggregates.
		`SELECT CASE p.prokind WHEN 'a' THEN 'aggregate' WHEN 'p' THEN 'procedure' ELSE 'function' END,
			pg_catalog.format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)), '',
			'{}'::text[], '{}'::text[], '{}'::text[],
			pg_catalog.jsonb_build_object(
			'definition', CASE WHEN p.prokind <> 'a' THEN pg_catalog.pg_get_functiondef(p.oid) END,
			'aggregate', (SELECT pg_catalog.format('sfunc=%s stype=%s finalfunc=%s combinefunc=%s initcond=%s msfunc=%s sortop=%s kind=%s',
				a.aggtransfn, pg_catalog.format_type(a.aggtranstype, NULL), a.aggfinalfn, a.aggcombinefn, a.agginitval, a.aggmtransfn, a.aggsortop::pg_catalog.regoperator, a.aggkind)
				FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = p.oid),
			'result', pg_catalog.pg_get_function_result(p.oid),
			'owner', pg_catalog.pg_get_userbyid(p.proowner),
			'grants', ` + acl("p.proacl", "f", "p.proowner") + `,
			'comment', pg_catalog.obj_description(p.oid, 'pg_proc'))
		FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
		WHERE ` + userSchema("n.nspname") + ` AND ` + notExtension("pg_proc", "p.oid"),

		// Types: enums, domains, composite and range types, base types
		// (array types, a relation's row type and multiranges come with
		// what they belong to).
		`SELECT 'type', pg_catalog.format('%I.%I', n.nspname, t.typname), '', '{}'::text[], '{}'::text[], '{}'::text[],
			pg_catalog.jsonb_build_object(
			'kind', CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'c' THEN 'composite' WHEN 'r' THEN 'range' ELSE 'base' END,
			'labels', CASE WHEN t.typtype = 'e' THEN (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) END,
			'base type', CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) END,
			'default', t.typdefault,
			'not null', CASE WHEN t.typtype = 'd' THEN t.typnotnull::text END,
			'collation', CASE WHEN t.typtype = 'd' AND t.typcollation <> (SELECT b.typcollation FROM pg_catalog.pg_type b WHERE b.oid = t.typbasetype)
				THEN (SELECT pg_catalog.format('%I.%I', cn.nspname, co.collname) FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation) END,
			'attributes', CASE WHEN t.typtype = 'c' THEN (SELECT pg_catalog.string_agg(pg_catalog.format('%I %s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
				FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END,
			'subtype', CASE WHEN t.typtype = 'r' THEN (SELECT pg_catalog.format_type(r.rngsubtype, NULL) FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid) END,
			'owner', pg_catalog.pg_get_userbyid(t.typowner),
			'grants', ` + acl("t.typacl", "T", "t.typowner") + `,
			'comment', pg_catalog.obj_description(t.oid, 'pg_type'))
		FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
		WHERE t.typtype IN ('b', 'c', 'd', 'e', 'r')
		  AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
		  AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type a WHERE a.typarray = t.oid)
		  AND ` + userSchema("n.nspname") + ` AND ` + notExtension("pg_type", "t.oid"),

		// Default privileges (ALTER DEFAULT PRIVILEGES).
		`SELECT 'default privileges', pg_catalog.format('for %I in %s on %s', pg_catalog.pg_get_userbyid(d.defaclrole),
				COALESCE(pg_catalog.quote_ident(n.nspname), 'every schema'),
				CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions' WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' ELSE d.defaclobjtype::text END),
			'', '{}'::text[], '{}'::text[], '{}'::text[],
			pg_catalog.jsonb_build_object('grants', pg_catalog.array_to_string(ARRAY(SELECT x::text FROM pg_catalog.unnest(d.defaclacl) x ORDER BY 1), ' '))
		FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace
		WHERE n.oid IS NULL OR ` + userSchema("n.nspname"),
	}
}

// Read reads every compared object of conn's database in one read-only
// snapshot. Definitions are the server's own deparsed forms
// (pg_get_indexdef, pg_get_constraintdef, pg_get_viewdef,
// pg_get_functiondef, format_type, ...) with every name schema-qualified.
func Read(ctx context.Context, conn *pgx.Conn, opts Options) (*Schema, error) {
	version, err := conninfo.ServerVersionNum(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // read-only
	// Every name in a deparsed definition qualified with its schema.
	if _, err := tx.Exec(ctx, "SET LOCAL search_path = pg_catalog"); err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	ignore := opts.IgnoreSchemas
	if ignore == nil {
		ignore = []string{}
	}
	s := &Schema{Objects: map[string]*Object{}}
	for _, q := range queries(version) {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, ignore)
		}
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("read schema: %w", err)
		}
		var kind, name, parent string
		var rel, deps, owned []string
		var attrs []byte
		_, err = pgx.ForEachRow(rows, []any{&kind, &name, &parent, &rel, &deps, &owned, &attrs}, func() error {
			o, err := newObject(kind, name, parent, rel, deps, owned, attrs)
			if err != nil {
				return err
			}
			s.Objects[key(o.Kind, o.Name)] = o
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read schema: %w", err)
		}
	}
	return s, nil
}

// newObject builds an Object from one catalog row.
func newObject(kind, name, parent string, rel, deps, owned []string, attrs []byte) (*Object, error) {
	var raw map[string]any
	if err := json.Unmarshal(attrs, &raw); err != nil {
		return nil, fmt.Errorf("%s %s: attributes: %w", kind, name, err)
	}
	o := &Object{Kind: kind, Name: name, Parent: parent, Attributes: make(map[string]string, len(raw))}
	for k, v := range raw {
		switch v := v.(type) {
		case nil:
			o.Attributes[k] = ""
		case string:
			n := normalise(k, v)
			o.Attributes[k] = n
			if n != v {
				// Kept only where it differs: a database of thousands
				// of tables holds hundreds of thousands of attributes.
				if o.raw == nil {
					o.raw = map[string]string{}
				}
				o.raw[k] = v
			}
		default:
			o.Attributes[k] = fmt.Sprint(v)
		}
	}
	if kind == "constraint" {
		// Foreign keys of row-filtered tables are NOT VALID on the target
		// by design (the filtered rows may point at rows left out); the
		// constraint is the same and checks every new row.
		o.Attributes["definition"] = strings.TrimSuffix(o.Attributes["definition"], " NOT VALID")
	}
	if len(rel) == 2 {
		o.rel = relName{rel[0], rel[1]}
	}
	for i := 0; i+1 < len(deps); i += 2 {
		o.deps = append(o.deps, relName{deps[i], deps[i+1]})
	}
	if len(owned) == 2 {
		o.ownedBy = relName{owned[0], owned[1]}
	}
	if kind == "sequence" {
		if v := o.Attributes["last value"]; v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("sequence %s: last value %q: %w", name, v, err)
			}
			o.value = &n
		}
		delete(o.Attributes, "last value")
		o.increment, _ = strconv.ParseInt(o.Attributes["increment"], 10, 64)
	}
	return o, nil
}

// normalise removes differences that are only layout: the deparsed
// definitions of views and functions are compared with runs of white
// space collapsed (servers of different major versions indent them
// differently).
func normalise(attr, v string) string {
	if attr != "definition" {
		return v
	}
	return strings.Join(strings.Fields(v), " ")
}
