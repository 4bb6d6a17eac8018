// Package verify compares source and target of every replication table by
// table: it walks the scope of each replication (every database, every
// table that carries data, or only the tables asked for), compares each
// with the bucketed checksum comparison (compare.VerifyTable), and
// returns one verdict per table. For logical replication a filtered table
// is compared with the filter its publication carries, so that a time
// window frozen there is what the source side reads.
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
)

// Verdict is one table's outcome. Its JSON form is verify --json's.
type Verdict struct {
	// Table is the table reference, db.schema.table.
	Table string `json:"table"`
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
}

// Run compares every table in scope and returns the verdicts and how many
// tables differ. A table that differs is not an error.
func Run(ctx context.Context, in Input) ([]Verdict, int, error) {
	servers, err := planning.IntrospectAll(ctx, in.Endpoints, nil)
	if err != nil {
		return nil, 0, err
	}
	var verdicts []Verdict
	differ := 0
	for _, r := range in.Config.Replications {
		src := servers["source."+r.Source]
		scope, diags := planner.ResolveScope(r, src, "source."+r.Source)
		if diags.HasErrors() {
			return nil, 0, fmt.Errorf("verify: %w", diags.Err())
		}
		method := planner.DecideMethod(r, src).Method
		si, di, err := in.Endpoints.Pair(r)
		if err != nil {
			return nil, 0, err
		}
		for _, ds := range scope.Databases {
			vs, n, err := Database(ctx, DatabaseInput{Replication: r, Scope: ds, Source: si, Target: di, Method: method, Tables: in.Tables, MaxKeys: in.MaxKeys})
			if err != nil {
				return nil, 0, err
			}
			verdicts = append(verdicts, vs...)
			differ += n
		}
	}
	return verdicts, differ, nil
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
	for _, ts := range ds.Tables {
		if ts.SchemaOnly || !Selected(in.Tables, ts.Ref) {
			continue
		}
		filter := ts.Filter
		if filter != "" && in.Method == lang.SyncLogical {
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
		res, err := compare.VerifyTable(ctx, src, dst, compare.VerifyRequest{Schema: ts.Ref.Schema, Table: ts.Ref.Table,
			Columns: cols, PrimaryKey: ts.Source.PrimaryKey, SourceFilter: filter, MaxKeys: in.MaxKeys})
		if err != nil {
			return nil, 0, err
		}
		v := Verdict{Table: ts.Ref.String(), Result: Equal, Seconds: time.Since(start).Seconds(), Detail: res}
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
