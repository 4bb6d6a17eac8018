// Package planning orchestrates a plan: it introspects every endpoint of a
// configuration in parallel, asks each source how it reads the configured
// row filters, and hands both to planner.Build. The planner itself stays
// pure; this package is where its inputs are read from live servers.
package planning

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtool"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sync/errgroup"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/rowfilter"
	"github.com/database-replicator/database-replicator/state"
)

// Input is what a plan is made from.
type Input struct {
	// Config is the loaded configuration.
	Config *lang.Config
	// Endpoints are Config's endpoints, resolved once.
	Endpoints *endpoints.Set
	// Prior is the state before this plan.
	Prior *state.State
	// Targets limits the plan (plan --target); empty means everything.
	Targets []string
	// Log receives debug lines and the warning when row filters cannot
	// be checked by the server. Nil discards them.
	Log hclog.Logger
	// Now stamps the plan; zero means time.Now().UTC().
	Now time.Time
	// Paused overrides whether sync of a replication is paused (the
	// pause and resume commands; see planner.Input.Paused).
	Paused map[string]bool
}

// Make introspects every endpoint and builds the plan. The error is an I/O
// failure; problems of the configuration against the servers are the
// diagnostics.
func Make(ctx context.Context, in Input) (*plans.Plan, diag.Diagnostics, error) {
	log := logger(in.Log)
	servers, err := IntrospectAll(ctx, in.Endpoints, DatabasesInScope(in.Config, in.Prior), log)
	if err != nil {
		return nil, nil, err
	}
	now := in.Now
	if now.IsZero() {
		now = time.Now().UTC()
	}
	dumpMajor, err := pgtool.DumpMajor(ctx)
	if err != nil {
		log.Debug("no local pg_dump version for the plan's version check", "error", err)
		dumpMajor = 0 // apply reports a missing pg_dump
	}
	schemas, err := ReadSchemas(ctx, in.Config, in.Endpoints, servers, in.Prior)
	if err != nil {
		return nil, nil, err
	}
	plan, diags := planner.Build(planner.Input{
		Config: in.Config, Servers: servers, Prior: in.Prior, Targets: in.Targets, Now: now, Paused: in.Paused,
		FilterChecks: CheckFilters(ctx, in.Config, in.Endpoints, servers, log),
		PgDumpMajor:  dumpMajor, Schemas: schemas,
	})
	return plan, diags, nil
}

// Databases maps an endpoint address ("source.prod") to the databases to
// introspect on it; an endpoint it does not list is introspected whole.
type Databases map[string][]string

// DatabasesInScope lists, per endpoint, the databases that cfg's
// replications name and those prior records for them (a database taken
// out of the configuration is still planned for), so that the other
// databases of a server, perhaps with thousands of tables, are never read.
// A replication without a database list (every database, or every one but
// the excluded) leaves its endpoints introspected whole.
func DatabasesInScope(cfg *lang.Config, prior *state.State) Databases {
	out := Databases{}
	whole := map[string]bool{}
	for _, r := range cfg.Replications {
		ends := []string{string(lang.KindSource) + "." + r.Source, string(lang.KindTarget) + "." + r.Target}
		if r.Databases == nil {
			for _, e := range ends {
				whole[e] = true
			}
			continue
		}
		names := append([]string(nil), r.Databases...)
		names = append(names, recordedDatabases(prior, r.Name)...)
		for _, e := range ends {
			out[e] = append(out[e], names...)
		}
	}
	for e := range whole {
		delete(out, e)
	}
	for e, names := range out {
		slices.Sort(names)
		out[e] = slices.Compact(names)
	}
	return out
}

// recordedDatabases lists the databases of the resources prior records for
// replication name (table keys count by their database).
func recordedDatabases(prior *state.State, replication string) []string {
	if prior == nil {
		return nil
	}
	var out []string
	for _, a := range prior.Addresses() {
		addr, err := addrs.Parse(a)
		if err != nil || addr.Replication != replication || addr.Key == "" {
			continue
		}
		db := addr.Key
		if addr.Kind == addrs.Table {
			ref, err := lang.ParseTableRef(addr.Key)
			if err != nil {
				continue
			}
			db = ref.Database
		}
		out = append(out, db)
	}
	return out
}

// IntrospectAll introspects every endpoint in parallel, each with the
// databases dbs lists for it (every database when it lists none), and
// returns them by address ("source.prod"). The first failure, naming its
// endpoint, cancels the others.
func IntrospectAll(ctx context.Context, eps *endpoints.Set, dbs Databases, log hclog.Logger) (map[string]*catalog.Server, error) {
	log = logger(log)
	all := eps.All()
	out := make([]*catalog.Server, len(all))
	g, gctx := errgroup.WithContext(ctx)
	for i, ep := range all {
		g.Go(func() error {
			if ep.Err != nil {
				return ep.Err
			}
			names, scoped := dbs[ep.Address()]
			if scoped && names == nil {
				names = []string{} // server-level facts only
			}
			log.Debug("introspecting", "endpoint", ep.Address(), "url", ep.Info.Redacted(), "databases", names)
			s, err := catalog.Introspect(gctx, ep.Info, names)
			if err != nil {
				return fmt.Errorf("%s: %w", ep.Address(), err)
			}
			out[i] = s
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	servers := map[string]*catalog.Server{}
	for i, ep := range all {
		servers[ep.Address()] = out[i]
	}
	return servers, nil
}

// CheckFilters asks each source, read-only, whether the configured row
// filters are valid and publishable and whether each means what its
// publication stores, so that the planner compares filters by meaning and
// reports a broken filter before anything is copied. The
// result is keyed by table reference. A source that cannot answer is
// logged as a warning: its filters are then compared as text.
func CheckFilters(ctx context.Context, cfg *lang.Config, eps *endpoints.Set, servers map[string]*catalog.Server, log hclog.Logger) map[string]rowfilter.Result {
	log = logger(log)
	out := map[string]rowfilter.Result{}
	for _, r := range cfg.Replications {
		src := cfg.Sources[r.Source]
		if src == nil || servers[src.Address()] == nil {
			continue
		}
		info, err := eps.Source(r)
		if err != nil {
			continue // IntrospectAll failed on it already
		}
		// Every filtered table in scope, as the planner will see it: a
		// filter written without a database (the predecessor's
		// --table-filter "events:...") applies to that table in each
		// database in scope, and each is checked there. Missing tables
		// are the planner's to report.
		scope, _ := planner.ResolveScope(r, servers[src.Address()], src.Address())
		var reqs []rowfilter.Request
		refs := map[rowfilter.Request]string{}
		for _, ds := range scope.Databases {
			for _, ts := range ds.Tables {
				if ts.Filter == "" {
					continue
				}
				req := rowfilter.Request{Database: ds.Name, Schema: ts.Ref.Schema, Table: ts.Ref.Table, Filter: ts.Filter,
					Stored: storedFilter(ds.Source.Publication(r.Sync.Publication), ts.Ref.Schema, ts.Ref.Table)}
				reqs = append(reqs, req)
				refs[req] = ts.Ref.String()
			}
		}
		if len(reqs) == 0 {
			continue
		}
		got, err := rowfilter.Check(ctx, info, reqs)
		if err != nil {
			log.Warn("row filters are compared as text", "source", src.Address(), "reason", err)
		}
		for req, chk := range got {
			out[refs[req]] = chk
		}
	}
	return out
}

// storedFilter is the row filter pub stores for a table ("" for none).
func storedFilter(pub *catalog.Publication, schema, table string) string {
	if pub == nil {
		return ""
	}
	for _, pt := range pub.Tables {
		if pt.Schema == schema && pt.Name == table {
			return pt.RowFilter
		}
	}
	return ""
}

func logger(l hclog.Logger) hclog.Logger {
	if l == nil {
		return hclog.NewNullLogger()
	}
	return l
}

// ImportInput is an import: the object ID at Addr, checked against the
// configuration before the state records it.
type ImportInput struct {
	// Config, Endpoints, Prior and Log are as for Make.
	Config    *lang.Config
	Endpoints *endpoints.Set
	Prior     *state.State
	Log       hclog.Logger
	// Addr is the address to import at; ID the object's name on its server.
	Addr addrs.Addr
	ID   string
}

// Import introspects every endpoint read-only, as a plan does, and hands
// the object to planner.Import. The error is an I/O failure; a mismatch is
// in the diagnostics, and then nothing is to be recorded.
func Import(ctx context.Context, in ImportInput) (*planner.Imported, diag.Diagnostics, error) {
	log := logger(in.Log)
	if diags := planner.CheckImportAddress(in.Config, in.Prior, in.Addr); diags.HasErrors() {
		return nil, diags, nil
	}
	servers, err := IntrospectAll(ctx, in.Endpoints, DatabasesInScope(in.Config, in.Prior), log)
	if err != nil {
		return nil, nil, err
	}
	im, diags := planner.Import(planner.ImportInput{
		Input: planner.Input{Config: in.Config, Servers: servers, Prior: in.Prior, Now: time.Now().UTC(),
			FilterChecks: CheckFilters(ctx, in.Config, in.Endpoints, servers, log)},
		Addr: in.Addr, ID: in.ID,
	})
	return im, diags, nil
}
