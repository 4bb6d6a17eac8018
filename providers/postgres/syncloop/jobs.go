package syncloop

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/xminsync"
	"github.com/database-replicator/database-replicator/state"
)

// Pending sorts the pending changes of a plan for sync: subscriptions
// and schema drift repairs (which sync applies, see driftRepair) and
// anything else, which blocks sync
// until apply has run (each as "address (action)").
func Pending(p *plans.Plan) (subscriptions int, blocking []string) {
	done := snapshotDone(p)
	for _, ch := range p.Changes {
		switch {
		case ch.Action == plans.NoOp:
		case ch.Addr.Kind == addrs.Subscription || ch.Addr.Kind == addrs.Xmin && ch.Action == plans.Update || driftRepair(ch, done):
			// Subscriptions, xmin pauses and resumes, drift repairs.
			subscriptions++
		default:
			blocking = append(blocking, fmt.Sprintf("%s (%s)", ch.Addr, ch.Action))
		}
	}
	return subscriptions, blocking
}

// JobsInput is what the jobs of a configuration are built from.
type JobsInput struct {
	Config    *lang.Config
	Endpoints *endpoints.Set
	// State holds each table's xmin watermark from its copy.
	State *state.State
	// Servers are the introspected endpoints by address.
	Servers map[string]*catalog.Server
	// SyncInterval and ReconcileInterval override the configuration's
	// when not zero; NoReconcile turns reconciliation off.
	SyncInterval, ReconcileInterval time.Duration
	NoReconcile                     bool
	// Log receives warnings about tables; nil discards them.
	Log hclog.Logger
}

// Choice is the sync method decided for one replication.
type Choice struct {
	Replication string
	planner.MethodDecision
}

// Jobs describes each replication's loop. It returns the method chosen
// for each replication up to the first error (sync prints them), and an
// error when no replication syncs or one asks for a method this version
// cannot run.
func Jobs(in JobsInput) ([]*Job, []Choice, error) {
	log := in.Log
	if log == nil {
		log = hclog.NewNullLogger()
	}
	var jobs []*Job
	var choices []Choice
	var pausedAll []string
	for _, r := range in.Config.Replications {
		src := in.Servers["source."+r.Source]
		d := planner.DecideMethod(r, src)
		choices = append(choices, Choice{Replication: r.Name, MethodDecision: d})
		if d.Method == lang.SyncNone {
			continue
		}
		si, di, err := in.Endpoints.Pair(r)
		if err != nil {
			return nil, choices, err
		}
		scope, sd := planner.ResolveScope(r, src, "source."+r.Source)
		if sd.HasErrors() {
			return nil, choices, sd.Err() // every error, each naming replication.NAME
		}
		job := &Job{Replication: r, Method: d.Method, Source: si, Target: di,
			Interval: firstNonZero(in.SyncInterval, r.Sync.Interval, lang.DefaultSyncInterval),
			// The configuration holds the default when it says nothing;
			// reconcile_interval = "off" is zero.
			ReconcileEvery: firstNonZero(in.ReconcileInterval, r.Sync.ReconcileInterval, -1),
		}
		if in.NoReconcile {
			job.ReconcileEvery = -1
		}
		paused, polled := 0, 0
		for _, ds := range scope.Databases {
			db := Database{Name: ds.Name}
			if d.Method == lang.SyncXmin {
				var p int
				db.Tables, p = xminTables(in.State, r.Name, ds, log)
				db.Changes = xminsync.NewChangeTracker()
				db.Carryover = xminsync.NewCarryover()
				paused += p
				polled += len(db.Tables)
			}
			job.Databases = append(job.Databases, db)
		}
		if paused > 0 && polled == 0 {
			// sync { enabled = false } or the pause command: no cycle.
			log.Info("continuous sync is paused: no xmin cycle runs", "replication", r.Name)
			pausedAll = append(pausedAll, r.Name)
			continue
		}
		jobs = append(jobs, job)
	}
	if len(jobs) == 0 && len(pausedAll) > 0 {
		return nil, choices, fmt.Errorf("sync: continuous sync of replication %s is paused, and no other replication syncs: resume it first (sync { enabled = true } in the configuration, or database-replicator resume)", strings.Join(pausedAll, ", "))
	}
	if len(jobs) == 0 {
		return nil, choices, errors.New("sync: no replication has a sync method (sync.method = \"none\" everywhere)")
	}
	return jobs, choices, nil
}

func firstNonZero(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d != 0 {
			return d
		}
	}
	return 0
}

// xminTables describes the tables of one database for the xmin engine,
// starting each at the watermark its copy recorded in state, and counts
// the tables left out because the state records them paused.
func xminTables(st *state.State, replication string, ds *planner.DatabaseScope, log hclog.Logger) (out []xminsync.Table, paused int) {
	for _, ts := range ds.Tables {
		if ts.SchemaOnly {
			continue
		}
		key := ts.Ref.Schema + "." + ts.Ref.Table
		var start uint64
		res := st.Resource(addrs.New(replication, addrs.Xmin, ts.Ref.String()).String())
		if res != nil {
			if p, _ := res.Attributes["paused"].(bool); p {
				paused++
				continue
			}
			start, _ = res.Uint("xmin_watermark")
		}
		if start == 0 {
			log.Warn("no xmin watermark in state for this table: its first cycle reads every row once", "table", ts.Ref.String())
		}
		if len(ts.Source.PrimaryKey) == 0 {
			log.Warn("table without primary key: a change is found by comparing rows as a multiset (only the difference is written)", "table", ts.Ref.String())
		}
		out = append(out, xminsync.FromCatalog(key, ts.Source, ts.Filter, start))
	}
	return out, paused
}
