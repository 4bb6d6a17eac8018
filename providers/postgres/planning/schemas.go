package planning

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/schemacompare"
	"github.com/database-replicator/database-replicator/providers/postgres/xminsync"
	"github.com/database-replicator/database-replicator/state"
)

// ReadSchemas reads, read-only, the schema of every database in scope
// that exists on its target, on the source and on the target, for the
// planner's schema drift detection (planner.Input.Schemas, keyed by
// planner.SchemaKey). The tool's own schemas are left out, and so are
// databases whose schema prior does not record: their schema change is a
// create, which compares nothing (a first apply of thousands of tables
// would hold the source's whole catalog in memory for nothing).
func ReadSchemas(ctx context.Context, cfg *lang.Config, eps *endpoints.Set, servers map[string]*catalog.Server, prior *state.State) (map[string]*schemacompare.Schema, error) {
	type job struct {
		key  string
		info conninfo.Info
	}
	var jobs []job
	seen := map[string]bool{}
	for _, r := range cfg.Replications {
		srcName, dstName := "source."+r.Source, "target."+r.Target
		src, dst := servers[srcName], servers[dstName]
		if src == nil || dst == nil {
			continue
		}
		si, di, err := eps.Pair(r)
		if err != nil {
			continue // IntrospectAll failed on it already
		}
		scope, _ := planner.ResolveScope(r, src, srcName)
		if scope == nil {
			continue
		}
		for _, ds := range scope.Databases {
			if dst.Database(ds.Name) == nil || prior == nil || prior.Resource(addrs.New(r.Name, addrs.Schema, ds.Name).String()) == nil {
				continue
			}
			for _, j := range []job{{planner.SchemaKey(srcName, ds.Name), si.WithDatabase(ds.Name)}, {planner.SchemaKey(dstName, ds.Name), di.WithDatabase(ds.Name)}} {
				if !seen[j.key] {
					seen[j.key] = true
					jobs = append(jobs, j)
				}
			}
		}
	}
	out := map[string]*schemacompare.Schema{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	ignore := OwnSchemas(cfg)
	for _, j := range jobs {
		g.Go(func() error {
			conn, err := conninfo.Connect(gctx, j.info)
			if err != nil {
				return fmt.Errorf("read the schema of %s: %w", j.key, err)
			}
			defer conn.Close(context.WithoutCancel(gctx))
			s, err := schemacompare.Read(gctx, conn, schemacompare.Options{IgnoreSchemas: ignore})
			if err != nil {
				return fmt.Errorf("%s: %w", j.key, err)
			}
			mu.Lock()
			out[j.key] = s
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// OwnSchemas are the tool's own schemas, left out of schema comparisons:
// the xmin cursor's, and a PostgreSQL state backend's.
func OwnSchemas(cfg *lang.Config) []string {
	out := []string{xminsync.CursorSchema}
	if cfg != nil && cfg.State != nil && cfg.State.Backend == lang.BackendPostgres && cfg.State.Schema != "" {
		out = append(out, cfg.State.Schema)
	}
	return out
}
