package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/cutover"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
	"github.com/database-replicator/database-replicator/providers/postgres/status"
	"github.com/database-replicator/database-replicator/providers/postgres/syncloop"
	"github.com/database-replicator/database-replicator/state"
)

// cutoverJobs are the sync jobs of a cutover's xmin and stream databases,
// one per database, taken under the sync lock.
type cutoverJobs struct {
	dbs  []*cutover.Database
	byDB map[string]syncloop.Job
}

// databases returns the cutover's databases for which is returns true.
func (j *cutoverJobs) databases(is func(*cutover.Database) bool) []*cutover.Database {
	var out []*cutover.Database
	for _, db := range j.dbs {
		if is(db) {
			out = append(out, db)
		}
	}
	return out
}

// of returns db's sync job, narrowed to db.
func (j *cutoverJobs) of(db *cutover.Database) (syncloop.Job, bool) {
	job, ok := j.byDB[db.Replication+"\x00"+db.Name]
	return job, ok
}

// cutoverSyncs takes the sync lock of every replication once (a running
// sync makes cutover refuse: the cutover runs the final xmin cycle or
// stream itself) and describes the sync jobs as the sync loop does, when
// any database is cut over by xmin or stream. release frees the lock.
func cutoverSyncs(a *app, cfg *lang.Config, eps *endpoints.Set, st *state.State, dbs []*cutover.Database) (jobs *cutoverJobs, release func(), err error) {
	jobs = &cutoverJobs{dbs: dbs, byDB: map[string]syncloop.Job{}}
	if len(jobs.databases(func(db *cutover.Database) bool { return db.Xmin() || db.Stream() })) == 0 {
		return jobs, func() {}, nil
	}
	release, err = syncloop.Exclusive(a.ctx, cfg, eps, "cutover")
	if err != nil {
		return nil, nil, fmt.Errorf("%w (stop the continuous sync, e.g. sync --stop, before the cutover: the cutover runs the final xmin cycle or stream itself)", err)
	}
	servers, err := planning.IntrospectAll(a.ctx, eps, planning.DatabasesInScope(cfg, st), a.log)
	if err != nil {
		release()
		return nil, nil, err
	}
	all, _, err := syncloop.Jobs(syncloop.JobsInput{Config: cfg, Endpoints: eps, State: st, Servers: servers, Log: a.log})
	if err != nil {
		release()
		return nil, nil, err
	}
	for _, j := range all {
		for _, d := range j.Databases {
			one := *j
			one.Databases = []syncloop.Database{d}
			jobs.byDB[j.Replication.Name+"\x00"+d.Name] = one
		}
	}
	return jobs, release, nil
}

// xminDrain gets the xmin databases of a cutover ready: it describes each
// database's tables as the sync loop does, and returns the drain, a final
// full xmin cycle with reconciliation, as `sync --once` runs it.
func (c *cutoverCmd) xminDrain(a *app, jobs *cutoverJobs) (func(context.Context, *cutover.Database) (string, error), error) {
	xmin := jobs.databases((*cutover.Database).Xmin)
	if len(xmin) == 0 {
		return nil, nil
	}
	if c.Reverse {
		return nil, fmt.Errorf("cutover --reverse is not supported for the xmin method yet (%s): cut over without --reverse", xmin[0].Address())
	}
	for _, db := range xmin {
		j, ok := jobs.of(db)
		if !ok {
			continue // the preflight refuses a database without tables
		}
		db.StaleAfter = j.Interval + c.MaxLag.D
		for _, t := range j.Databases[0].Tables {
			db.Tables = append(db.Tables, cutover.TableName{Key: t.Key, Schema: t.Schema, Name: t.Name})
		}
	}
	return func(ctx context.Context, db *cutover.Database) (string, error) {
		j, ok := jobs.of(db)
		if !ok {
			return "", fmt.Errorf("no xmin sync of %s to run", db.Address())
		}
		rep := &cycleCollector{}
		// Reconciliation now, whatever reconcile_interval says: rows
		// deleted on the source before the fence must go.
		err := syncloop.RunCycle(ctx, nil, &j, syncloop.Cycle{ReconcileAfter: 0, Once: true},
			syncloop.Options{Log: a.log, Report: rep, Metrics: syncloop.NewMetrics()})
		if err != nil {
			return "", err
		}
		return rep.summary(), nil
	}, nil
}

// cycleCollector receives the final cycle's report.
type cycleCollector struct{ cycles []syncloop.CycleReport }

func (c *cycleCollector) XminCycle(r syncloop.CycleReport) { c.cycles = append(c.cycles, r) }
func (c *cycleCollector) Lag(status.Row)                   {}
func (c *cycleCollector) Stopped(bool)                     {}

// summary describes the cycles, e.g. "3 table(s), 12 row(s) upserted, 2 deleted".
func (c *cycleCollector) summary() string {
	var parts []string
	for _, r := range c.cycles {
		s := fmt.Sprintf("%d table(s), %d row(s) upserted, %d deleted", r.Tables, r.Upserted, r.Deleted)
		if !r.Reconciled {
			s += ", not reconciled"
		}
		if len(r.Notes) > 0 {
			s += "; " + strings.Join(r.Notes, ", ")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
