package catalog

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/connstr"
	"github.com/jackc/pgx/v5"
)

// sequencesQuery lists the sequences of user schemas with their owning
// column (serial or identity) and whether their value can be read.
// Unlogged sequences cannot be read on a standby.
const sequencesQuery = `
SELECT c.oid, n.nspname::text, c.relname::text, s.seqstart, s.seqincrement, format_type(s.seqtypid, NULL),
       has_sequence_privilege(c.oid, 'SELECT') AND (c.relpersistence <> 'u' OR NOT pg_is_in_recovery()),
       COALESCE(oc.relname::text, ''), COALESCE(oa.attname::text, ''), COALESCE(dep.deptype = 'i', false)
FROM pg_catalog.pg_sequence s
JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_depend dep ON dep.classid = 'pg_catalog.pg_class'::regclass AND dep.objid = c.oid
     AND dep.refclassid = 'pg_catalog.pg_class'::regclass AND dep.refobjsubid > 0 AND dep.deptype IN ('a', 'i')
LEFT JOIN pg_catalog.pg_class oc ON oc.oid = dep.refobjid
LEFT JOIN pg_catalog.pg_attribute oa ON oa.attrelid = dep.refobjid AND oa.attnum = dep.refobjsubid
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'`

// sequenceValuesChunk bounds how many sequences one UNION ALL query reads.
const sequenceValuesChunk = 1000

// sequences fills Sequences, sorted by schema, name. The values come
// from one UNION ALL query over the readable sequences (per 1000):
// pg_sequences.last_value hides is_called, and setval(s, v, false) leaves
// last_value = v with is_called false, which only the relation tells.
func (r *dbReader) sequences(ctx context.Context, d *Database) error {
	rows, err := r.tx.Query(ctx, sequencesQuery, pgx.QueryExecModeExec)
	if err != nil {
		return err
	}
	seqs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Sequence, error) {
		s := &Sequence{}
		var oid uint32
		err := row.Scan(&oid, &s.Schema, &s.Name, &s.Start, &s.Increment, &s.DataType, &s.Readable,
			&s.OwnedByTable, &s.OwnedByColumn, &s.Identity)
		s.LastValue = s.Start
		return s, err
	})
	if err != nil {
		return err
	}
	sort.Slice(seqs, func(i, j int) bool { return lessQualified(seqs[i].Schema, seqs[i].Name, seqs[j].Schema, seqs[j].Name) })
	d.Sequences = seqs
	var readable []*Sequence
	for _, s := range seqs {
		if s.Readable {
			readable = append(readable, s)
		}
	}
	for start := 0; start < len(readable); start += sequenceValuesChunk {
		chunk := readable[start:min(start+sequenceValuesChunk, len(readable))]
		if err := r.sequenceValues(ctx, chunk); err != nil {
			return fmt.Errorf("values: %w", err)
		}
	}
	return nil
}

// sequenceValues reads last_value and is_called of seqs in one query.
func (r *dbReader) sequenceValues(ctx context.Context, seqs []*Sequence) error {
	var b strings.Builder
	for i, s := range seqs {
		if i > 0 {
			b.WriteString("\nUNION ALL ")
		}
		fmt.Fprintf(&b, "SELECT %d, last_value, is_called FROM %s", i, pgx.Identifier{s.Schema, s.Name}.Sanitize())
	}
	rows, err := r.tx.Query(ctx, b.String(), pgx.QueryExecModeExec)
	if err != nil {
		return err
	}
	var (
		i      int
		last   int64
		called bool
	)
	_, err = pgx.ForEachRow(rows, []any{&i, &last, &called}, func() error {
		if i >= 0 && i < len(seqs) {
			seqs[i].LastValue, seqs[i].IsCalled = last, called
		}
		return nil
	})
	return err
}

// publicationsQuery lists publications with their tables; the %s are the
// row filter and column list (PostgreSQL 15+) and publish_via_partition_root
// (13+). An explicit column list is told apart from "all columns" by
// pg_publication_rel.prattrs. A listed partition comes with its top-most
// partitioned ancestor and that ancestor's number of leaf partitions, for
// foldPartitions.
const publicationsQuery = `
SELECT p.pubname::text, pg_get_userbyid(p.pubowner)::text, p.puballtables,
       p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, %s,
       COALESCE(pt.schemaname::text, ''), COALESCE(pt.tablename::text, ''), %s,
       COALESCE(rn.nspname::text, ''), COALESCE(rc.relname::text, ''),
       COALESCE((SELECT count(*) FROM pg_catalog.pg_partition_tree(rc.oid) l WHERE l.isleaf), 0)::int
FROM pg_catalog.pg_publication p
LEFT JOIN pg_catalog.pg_publication_tables pt ON pt.pubname = p.pubname
LEFT JOIN pg_catalog.pg_namespace tn ON tn.nspname = pt.schemaname
LEFT JOIN pg_catalog.pg_class tc ON tc.relnamespace = tn.oid AND tc.relname = pt.tablename
LEFT JOIN pg_catalog.pg_class rc ON tc.relispartition AND rc.oid = pg_catalog.pg_partition_root(tc.oid)
LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace`

// publicationsRel15 adds the column lists of PostgreSQL 15+.
const publicationsRel15 = `
LEFT JOIN pg_catalog.pg_publication_rel pr ON pr.prpubid = p.oid AND pr.prrelid = tc.oid`

// publications fills Publications, sorted by name, tables by schema, name.
func (r *dbReader) publications(ctx context.Context, d *Database) error {
	viaRoot, filter, join := "false", "'', NULL::text[]", ""
	if r.version >= 130000 {
		viaRoot = "p.pubviaroot"
	}
	if r.version >= 150000 {
		filter = "COALESCE(pt.rowfilter, ''), CASE WHEN pr.prattrs IS NULL THEN NULL ELSE pt.attnames::text[] END"
		join = publicationsRel15
	}
	rows, err := r.tx.Query(ctx, fmt.Sprintf(publicationsQuery, viaRoot, filter)+join, pgx.QueryExecModeExec)
	if err != nil {
		return err
	}
	byName := map[string]*Publication{}
	listed := map[*Publication][]listedTable{}
	var (
		p  Publication
		pt PublicationTable
		lt listedTable
	)
	_, err = pgx.ForEachRow(rows, []any{&p.Name, &p.Owner, &p.AllTables, &p.Insert, &p.Update, &p.Delete, &p.Truncate, &p.ViaRoot,
		&pt.Schema, &pt.Name, &pt.RowFilter, &pt.Columns, &lt.rootSchema, &lt.rootName, &lt.rootLeaves}, func() error {
		pub := byName[p.Name]
		if pub == nil {
			cp := p
			pub = &cp
			byName[p.Name] = pub
			d.Publications = append(d.Publications, pub)
		}
		if pt.Name != "" {
			t := pt
			t.Columns = append([]string(nil), pt.Columns...)
			if len(t.Columns) == 0 {
				t.Columns = nil
			}
			l := lt
			l.table = t
			listed[pub] = append(listed[pub], l)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(d.Publications, func(i, j int) bool { return d.Publications[i].Name < d.Publications[j].Name })
	for _, pub := range d.Publications {
		pub.Tables = foldPartitions(listed[pub])
		sort.Slice(pub.Tables, func(i, j int) bool {
			return lessQualified(pub.Tables[i].Schema, pub.Tables[i].Name, pub.Tables[j].Schema, pub.Tables[j].Name)
		})
	}
	return nil
}

// listedTable is one row of pg_publication_tables with, for a partition,
// its top-most partitioned ancestor and that ancestor's leaf count.
type listedTable struct {
	table                PublicationTable
	rootSchema, rootName string
	rootLeaves           int
}

// foldPartitions reports a partitioned table whose every leaf partition
// is published as the partitioned table itself, as it was added to the
// publication: pg_publication_tables lists the leaves instead (without
// publish_via_partition_root), and PostgreSQL 12 cannot publish a
// partitioned table at all, so its leaves are added one by one. The
// folded entry takes the first leaf's row filter and column list (those of
// the ancestor they were published through). Partitions of a partially
// published tree stay as they are.
func foldPartitions(listed []listedTable) []PublicationTable {
	type root struct{ schema, name string }
	count := map[root]int{}
	for _, l := range listed {
		if l.rootName != "" {
			count[root{l.rootSchema, l.rootName}]++
		}
	}
	var out []PublicationTable
	done := map[root]bool{}
	for _, l := range listed {
		r := root{l.rootSchema, l.rootName}
		if l.rootName == "" || l.rootLeaves == 0 || count[r] < l.rootLeaves {
			out = append(out, l.table)
			continue
		}
		if done[r] {
			continue
		}
		done[r] = true
		t := l.table
		t.Schema, t.Name = r.schema, r.name
		out = append(out, t)
	}
	return out
}

// subscriptionsQuery lists the subscriptions of the current database with
// their tables' sync states; %s is subconninfo, or an empty string literal when the user may
// not read that column.
const subscriptionsQuery = `
SELECT s.subname::text, pg_get_userbyid(s.subowner)::text, s.subenabled, COALESCE(s.subslotname::text, ''),
       s.subpublications::text[], %s,
       COALESCE(rn.nspname::text, ''), COALESCE(rc.relname::text, ''),
       COALESCE(sr.srsubstate::text, ''), COALESCE(sr.srsublsn::text, '')
FROM pg_catalog.pg_subscription s
LEFT JOIN pg_catalog.pg_subscription_rel sr ON sr.srsubid = s.oid
LEFT JOIN pg_catalog.pg_class rc ON rc.oid = sr.srrelid
LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())`

// subscriptions fills Subscriptions, sorted by name, tables by schema,
// name. Connection strings are redacted before they are stored.
func (r *dbReader) subscriptions(ctx context.Context, d *Database) error {
	connCol := "''"
	if r.readConnInfo {
		connCol = "s.subconninfo"
	}
	rows, err := r.tx.Query(ctx, fmt.Sprintf(subscriptionsQuery, connCol), pgx.QueryExecModeExec)
	if err != nil {
		return err
	}
	byName := map[string]*Subscription{}
	var (
		s  Subscription
		st SubscriptionTable
	)
	_, err = pgx.ForEachRow(rows, []any{&s.Name, &s.Owner, &s.Enabled, &s.SlotName, &s.Publications, &s.ConnInfo,
		&st.Schema, &st.Name, &st.State, &st.LSN}, func() error {
		sub := byName[s.Name]
		if sub == nil {
			cp := s
			cp.Publications = append([]string{}, s.Publications...)
			cp.ConnInfo = connstr.RedactURL(s.ConnInfo)
			sub = &cp
			byName[s.Name] = sub
			d.Subscriptions = append(d.Subscriptions, sub)
		}
		if st.Name != "" {
			sub.Tables = append(sub.Tables, st)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(d.Subscriptions, func(i, j int) bool { return d.Subscriptions[i].Name < d.Subscriptions[j].Name })
	for _, sub := range d.Subscriptions {
		sort.Slice(sub.Tables, func(i, j int) bool {
			return lessQualified(sub.Tables[i].Schema, sub.Tables[i].Name, sub.Tables[j].Schema, sub.Tables[j].Name)
		})
	}
	return nil
}
