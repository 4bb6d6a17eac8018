package datacopy

import (
	"context"
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
)

// SequenceValue is the state of one sequence: setval(Schema.Name,
// LastValue, IsCalled) reproduces it.
type SequenceValue struct {
	Schema    string `json:"schema"`
	Name      string `json:"name"`
	LastValue int64  `json:"last_value"`
	IsCalled  bool   `json:"is_called"`
	// OwnerTable is the table of the sequence's OWNED BY (serial,
	// identity), in the sequence's schema as PostgreSQL requires; "" if
	// none.
	OwnerTable string `json:"owner_table,omitempty"`
}

// String renders the quoted qualified name.
func (v SequenceValue) String() string { return pgx.Identifier{v.Schema, v.Name}.Sanitize() }

// sequenceReadChunk bounds how many sequences one UNION ALL query reads.
const sequenceReadChunk = 1000

// ReadSequenceValues reads the current last_value and is_called of seqs
// from src's database (all readable sequences of the user schemas, not
// the tool's own database_replicator, when seqs is nil). Unreadable sequences (Readable false) are skipped. The
// catalog's values are not reused: they are as old as the introspection,
// and a sync needs the values of now.
func ReadSequenceValues(ctx context.Context, src conninfo.Info, seqs []*catalog.Sequence) ([]SequenceValue, error) {
	conn, err := conninfo.Connect(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("read sequence values: %w", err)
	}
	defer conn.Close(context.Background())
	return readSequenceValues(ctx, conn, seqs)
}

// readSequenceValues reads sequence values on conn (which may be inside a
// snapshot transaction).
func readSequenceValues(ctx context.Context, conn *pgx.Conn, seqs []*catalog.Sequence) ([]SequenceValue, error) {
	if seqs == nil {
		rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname, COALESCE(o.relname, '') FROM pg_catalog.pg_class c
			JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			LEFT JOIN LATERAL (SELECT t.relname FROM pg_catalog.pg_depend d
				JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
				WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
				  AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i') LIMIT 1) o ON true
			WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'database_replicator')
			  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
			  AND CASE WHEN c.relkind = 'S' THEN pg_catalog.has_sequence_privilege(c.oid, 'SELECT') END
			ORDER BY 1, 2`)
		if err != nil {
			return nil, fmt.Errorf("list sequences: %w", err)
		}
		seqs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (*catalog.Sequence, error) {
			s := &catalog.Sequence{Readable: true}
			return s, row.Scan(&s.Schema, &s.Name, &s.OwnedByTable)
		})
		if err != nil {
			return nil, fmt.Errorf("list sequences: %w", err)
		}
	}
	var readable []*catalog.Sequence
	for _, s := range seqs {
		if s != nil && s.Readable {
			readable = append(readable, s)
		}
	}
	out := make([]SequenceValue, 0, len(readable))
	for start := 0; start < len(readable); start += sequenceReadChunk {
		chunk := readable[start:min(start+sequenceReadChunk, len(readable))]
		var b strings.Builder
		for i, s := range chunk {
			if i > 0 {
				b.WriteString("\nUNION ALL ")
			}
			fmt.Fprintf(&b, "SELECT %d, last_value, is_called FROM %s", i, pgx.Identifier{s.Schema, s.Name}.Sanitize())
		}
		rows, err := conn.Query(ctx, b.String(), pgx.QueryExecModeExec)
		if err != nil {
			return nil, fmt.Errorf("read sequence values: %w", err)
		}
		vals := make([]SequenceValue, len(chunk))
		for i, s := range chunk {
			vals[i] = SequenceValue{Schema: s.Schema, Name: s.Name, OwnerTable: s.OwnedByTable}
		}
		var idx int
		var last int64
		var called bool
		_, err = pgx.ForEachRow(rows, []any{&idx, &last, &called}, func() error {
			vals[idx].LastValue, vals[idx].IsCalled = last, called
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read sequence values: %w", err)
		}
		out = append(out, vals...)
	}
	return out, nil
}

// ApplySequenceValues sets every sequence of vals on dst's database with
// setval(sequence, last_value, is_called), all in one transaction, and
// returns how many it set. A sequence missing on the target fails the
// whole sync (naming every missing one) before anything is set.
func ApplySequenceValues(ctx context.Context, dst conninfo.Info, vals []SequenceValue) (int, error) {
	if len(vals) == 0 {
		return 0, nil
	}
	conn, err := conninfo.Connect(ctx, dst)
	if err != nil {
		return 0, fmt.Errorf("sync sequences: %w", err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("sync sequences: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // no-op after Commit

	names := make([]string, len(vals))
	for i, v := range vals {
		names[i] = v.String()
	}
	var missing []string
	rows, err := tx.Query(ctx, `SELECT n FROM unnest($1::text[]) AS n
		WHERE pg_catalog.to_regclass(n) IS NULL
		   OR (SELECT relkind FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass(n)) <> 'S'`, names)
	if err != nil {
		return 0, fmt.Errorf("sync sequences: check target: %w", err)
	}
	if missing, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return 0, fmt.Errorf("sync sequences: check target: %w", err)
	}
	if len(missing) > 0 {
		return 0, fmt.Errorf("sync sequences: %d sequence(s) missing on the target %s: %s (create the schema first)",
			len(missing), dst.Redacted(), strings.Join(missing, ", "))
	}
	batch := &pgx.Batch{}
	for i, v := range vals {
		batch.Queue("SELECT pg_catalog.setval($1::regclass, $2, $3)", names[i], v.LastValue, v.IsCalled)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return 0, fmt.Errorf("sync sequences on %s: %w", dst.Redacted(), err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("sync sequences on %s: commit: %w", dst.Redacted(), err)
	}
	return len(vals), nil
}

// SyncSequences copies the current value of seqs (from the catalog, e.g.
// Database.Sequences; every readable sequence when nil) from src's
// database to dst's database: it reads them now on the source and sets
// them on the target in one transaction. It returns how many sequences
// it set.
func SyncSequences(ctx context.Context, src, dst conninfo.Info, seqs []*catalog.Sequence) (int, error) {
	return SyncSequencesRemapped(ctx, src, dst, seqs, nil)
}

// SyncSequencesRemapped is SyncSequences for a target whose tables may be
// remapped: schemaOf returns the schema a sequence owned by the source
// table schema.ownerTable has on the target (a sequence moves with
// its table, ALTER TABLE ... SET SCHEMA); nil keeps every name.
func SyncSequencesRemapped(ctx context.Context, src, dst conninfo.Info, seqs []*catalog.Sequence, schemaOf func(schema, ownerTable string) string) (int, error) {
	vals, err := ReadSequenceValues(ctx, src, seqs)
	if err != nil {
		return 0, err
	}
	if schemaOf != nil {
		for i, v := range vals {
			if v.OwnerTable != "" {
				vals[i].Schema = schemaOf(v.Schema, v.OwnerTable)
			}
		}
	}
	return ApplySequenceValues(ctx, dst, vals)
}
