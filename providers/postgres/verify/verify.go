// Package verify compares source and target of every replication: it
// walks the scope of each replication (every database, every table that
// carries data, or only the tables asked for), compares each table's rows
// with the bucketed checksum comparison (compare.VerifyTable) and each
// database's schema with schemacompare, and returns one verdict per table
// and per database. For logical replication a filtered table is compared
// with the filter its publication carries, so that a time window frozen
// there is what the source side reads.
package verify

import (
	"context"
	"fmt"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/providers/postgres/compare"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
	"github.com/database-replicator/database-replicator/providers/postgres/rowfilter"
	"github.com/database-replicator/database-replicator/providers/postgres/schemacompare"
	"github.com/database-replicator/database-replicator/providers/postgres/streamapply"
	"github.com/database-replicator/database-replicator/providers/postgres/xminsync"
)

// Verdict is one table's outcome. Its JSON form is verify --json's.
type Verdict struct {
	// Table is the table reference, db.schema.table.
	Table string `json:"table"`
	// Target is the table's reference on the target when it is remapped
	// there (db.schema.table); "" when it has the source's name.
	Target string `json:"target,omitempty"`
	// Result is "equal" or "DIFFERENT".
	Result string `json:"result"`
	// Seconds is how long the comparison took.
	Seconds float64 `json:"seconds"`
	// Detail is the comparison's result: row counts and differing keys.
	Detail compare.VerifyResult `json:"detail"`
}

// Results of a verdict.
const (
	Equal     = "equal"
	Different = "DIFFERENT"
)

// Input is what Run compares.
type Input struct {
	// Config is the loaded configuration.
	Config *lang.Config
	// Endpoints are Config's endpoints, resolved once.
	Endpoints *endpoints.Set
	// Tables limits the comparison to these tables; empty means all.
	Tables []lang.TableRef
	// MaxKeys is how many differing keys are listed per kind and table.
	MaxKeys int
	// SkipData leaves the rows out (verify --schema-only); SkipSchema
	// leaves the schema out (verify --data-only).
	SkipData, SkipSchema bool
}

// SchemaVerdict is one database's schema outcome. Its JSON form is
// verify --json's.
type SchemaVerdict struct {
	// Database is the database's name.
	Database string `json:"database"`
	// Result is "equal" or "DIFFERENT".
	Result string `json:"result"`
	// Objects is how many objects were compared.
	Objects int `json:"objects"`
	// Differences are the objects that differ.
	Differences []schemacompare.Difference `json:"differences,omitempty"`
}

// Report is everything verify found.
type Report struct {
	// DataCompared and SchemaCompared say what was compared.
	DataCompared, SchemaCompared bool
	// Tables are the verdicts of the tables compared (none with SkipData).
	Tables []Verdict
	// TablesDiffer is how many tables differ.
	TablesDiffer int
	// Schema are the verdicts of the databases' schemas (none with
	// SkipSchema).
	Schema []SchemaVerdict
	// ObjectsDiffer is how many schema objects differ.
	ObjectsDiffer int
}

// Run compares every table and every database schema in scope. Something
// that differs is not an error.
func Run(ctx context.Context, in Input) (*Report, error) {
	servers, err := planning.IntrospectAll(ctx, in.Endpoints, planning.DatabasesInScope(in.Config, nil), nil)
	if err != nil {
		return nil, err
	}
	rep := &Report{DataCompared: !in.SkipData, SchemaCompared: !in.SkipSchema}
	for _, r := range in.Config.Replications {
		src := servers["source."+r.Source]
		scope, diags := planner.ResolveScope(r, src, "source."+r.Source)
		if diags.HasErrors() {
			return nil, fmt.Errorf("verify: %w", diags.Err())
		}
		method := planner.DecideMethod(r, src).Method
		si, di, err := in.Endpoints.Pair(r)
		if err != nil {
			return nil, err
		}
		for _, ds := range scope.Databases {
			din := DatabaseInput{Replication: r, Scope: ds, Source: si, Target: di, Method: method, Tables: in.Tables, MaxKeys: in.MaxKeys,
				IgnoreSchemas: ignoredSchemas(in.Config)}
			if !in.SkipSchema {
				sv, err := Schema(ctx, din)
				if err != nil {
					return nil, err
				}
				rep.Schema = append(rep.Schema, sv)
				rep.ObjectsDiffer += len(sv.Differences)
			}
			if in.SkipData {
				continue
			}
			vs, n, err := Database(ctx, din)
			if err != nil {
				return nil, err
			}
			rep.Tables = append(rep.Tables, vs...)
			rep.TablesDiffer += n
		}
	}
	return rep, nil
}

// Schema compares the schema of one database in scope: the objects of the
// tables in scope (all of them, or those of in.Tables only) and, without
// in.Tables, every other object of the database. Sequence values must be
// equal without sync and not behind the source's where sync runs.
func Schema(ctx context.Context, in DatabaseInput) (SchemaVerdict, error) {
	name := in.Scope.Name
	read := func(info conninfo.Info, side string) (*schemacompare.Schema, error) {
		conn, err := conninfo.Connect(ctx, info.WithDatabase(name))
		if err != nil {
			return nil, err
		}
		defer conn.Close(context.Background())
		s, err := schemacompare.Read(ctx, conn, schemacompare.Options{IgnoreSchemas: in.IgnoreSchemas})
		if err != nil {
			return nil, fmt.Errorf("verify the schema of %q on the %s: %w", name, side, err)
		}
		return s, nil
	}
	src, err := read(in.Source, "source")
	if err != nil {
		return SchemaVerdict{}, err
	}
	dst, err := read(in.Target, "target")
	if err != nil {
		return SchemaVerdict{}, err
	}
	// A remapped table's rows are compared (Database); its catalog
	// records carry other names on each side and are left out.
	inScope, ignore := in.Scope.SchemaCompareScope(func(ref lang.TableRef) bool { return Selected(in.Tables, ref) })
	scope := schemacompare.Scope{
		Tables:         inScope,
		TablesOnly:     len(in.Tables) > 0,
		SequenceValues: schemacompare.ValuesNotBehind,
	}
	if in.Method == lang.SyncNone {
		scope.SequenceValues = schemacompare.ValuesEqual
	}
	all, n := schemacompare.Diff(src, dst, scope)
	var diffs []schemacompare.Difference
	for _, d := range all {
		if !ignore(d) {
			diffs = append(diffs, d)
		}
	}
	v := SchemaVerdict{Database: name, Result: Equal, Objects: n, Differences: diffs}
	if len(diffs) > 0 {
		v.Result = Different
	}
	return v, nil
}

// ignoredSchemas are the tool's own schemas, left out of the schema
// comparison: the xmin cursor's, and a PostgreSQL state backend's.
func ignoredSchemas(cfg *lang.Config) []string {
	out := []string{xminsync.CursorSchema}
	if cfg != nil && cfg.State != nil && cfg.State.Backend == lang.BackendPostgres && cfg.State.Schema != "" {
		out = append(out, cfg.State.Schema)
	}
	return out
}

// DatabaseInput is one database of one replication to compare.
type DatabaseInput struct {
	Replication *lang.Replication
	Scope       *planner.DatabaseScope
	// Source and Target are the servers (any database: the scope's is used).
	Source, Target conninfo.Info
	// Method is the replication's sync method (planner.DecideMethod).
	Method  lang.SyncMethod
	Tables  []lang.TableRef
	MaxKeys int
	// IgnoreSchemas are left out of the schema comparison (the tool's own).
	IgnoreSchemas []string
}

// Database compares the tables of one database in scope over one
// connection per side.
func Database(ctx context.Context, in DatabaseInput) ([]Verdict, int, error) {
	ds := in.Scope
	src, err := conninfo.Connect(ctx, in.Source.WithDatabase(ds.Name))
	if err != nil {
		return nil, 0, err
	}
	defer src.Close(context.Background())
	dst, err := conninfo.Connect(ctx, in.Target.WithDatabase(ds.Name))
	if err != nil {
		return nil, 0, err
	}
	defer dst.Close(context.Background())
	var out []Verdict
	differ := 0
	// The stream applier's filters (sources before PostgreSQL 15): the
	// ones the tables were copied with (a time window frozen).
	var applierFilters map[streamapply.TableName]string
	published := in.Method == lang.SyncLogical
	if in.Method == lang.SyncStream {
		if applierFilters, err = streamapply.ReadTableFilters(ctx, dst, in.Replication.Name); err != nil {
			return nil, 0, err
		}
		version, err := conninfo.ServerVersionNum(ctx, src)
		if err != nil {
			return nil, 0, err
		}
		published = version >= 150000
	}
	for _, ts := range ds.Tables {
		if ts.SchemaOnly || !Selected(in.Tables, ts.Ref) {
			continue
		}
		filter := ts.Filter
		if f, ok := applierFilters[streamapply.TableName{Schema: ts.Ref.Schema, Table: ts.Ref.Table}]; ok && filter != "" {
			filter = f
		} else if filter != "" && published {
			// Compare with what the publication carries (a time window is frozen there).
			stored, _, err := rowfilter.OfPublication(ctx, src, in.Replication.Sync.Publication, ts.Ref.Schema, ts.Ref.Table)
			if err != nil {
				return nil, 0, fmt.Errorf("verify %s: %w", ts.Ref, err)
			}
			if stored != "" {
				filter = stored
			}
		}
		cols := make([]string, len(ts.Source.Columns))
		for i, c := range ts.Source.Columns {
			cols[i] = c.Name
		}
		start := time.Now()
		req := compare.VerifyRequest{Schema: ts.Ref.Schema, Table: ts.Ref.Table,
			Columns: cols, PrimaryKey: ts.Source.PrimaryKey, SourceFilter: filter, MaxKeys: in.MaxKeys}
		if ts.Remapped() {
			req.TargetSchema, req.TargetTable = ts.Target.Schema, ts.Target.Table
		}
		res, err := compare.VerifyTable(ctx, src, dst, req)
		if err != nil {
			return nil, 0, err
		}
		v := Verdict{Table: ts.Ref.String(), Result: Equal, Seconds: time.Since(start).Seconds(), Detail: res}
		if ts.Remapped() {
			v.Target = ts.Target.String()
		}
		if !res.Equal {
			v.Result = Different
			differ++
		}
		out = append(out, v)
	}
	return out, differ, nil
}

// Selected reports whether want selects ref (every table when want is
// empty).
func Selected(want []lang.TableRef, ref lang.TableRef) bool {
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		if w == ref {
			return true
		}
	}
	return false
}
