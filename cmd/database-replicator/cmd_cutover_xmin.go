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

// xminCutover gets the xmin databases of a cutover ready: it takes the
// sync lock of every replication (a running sync makes cutover refuse),
// describes each database's tables as the sync loop does, and returns the
// drain, a final full xmin cycle with reconciliation, as `sync --once`
// runs it. release frees the sync lock.
func (c *cutoverCmd) xminCutover(a *app, cfg *lang.Config, eps *endpoints.Set, st *state.State, dbs []*cutover.Database) (
	drain func(context.Context, *cutover.Database) (string, error), release func(), err error) {
	var xmin []*cutover.Database
	for _, db := range dbs {
		if db.Xmin() {
			xmin = append(xmin, db)
		}
	}
	if len(xmin) == 0 {
		return nil, func() {}, nil
	}
	if c.Reverse {
		return nil, nil, fmt.Errorf("cutover --reverse is not supported for the xmin method yet (%s): cut over without --reverse", xmin[0].Address())
	}
	release, err = syncloop.Exclusive(a.ctx, cfg, eps, "cutover")
	if err != nil {
		return nil, nil, fmt.Errorf("%w (stop the continuous sync, e.g. sync --stop, before the cutover: the cutover runs the final xmin cycle itself)", err)
	}
	servers, err := planning.IntrospectAll(a.ctx, eps, a.log)
	if err != nil {
		release()
		return nil, nil, err
	}
	jobs, _, err := syncloop.Jobs(syncloop.JobsInput{Config: cfg, Endpoints: eps, State: st, Servers: servers, Log: a.log})
	if err != nil {
		release()
		return nil, nil, err
	}
	byDB := map[string]syncloop.Job{}
	for _, j := range jobs {
		for _, d := range j.Databases {
			one := *j
			one.Databases = []syncloop.Database{d}
			byDB[j.Replication.Name+"\x00"+d.Name] = one
		}
	}
	for _, db := range xmin {
		j, ok := byDB[db.Replication+"\x00"+db.Name]
		if !ok {
			continue // the preflight refuses a database without tables
		}
		db.StaleAfter = j.Interval + c.MaxLag.D
		for _, t := range j.Databases[0].Tables {
			db.Tables = append(db.Tables, cutover.TableName{Key: t.Key, Schema: t.Schema, Name: t.Name})
		}
	}
	drain = func(ctx context.Context, db *cutover.Database) (string, error) {
		j, ok := byDB[db.Replication+"\x00"+db.Name]
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
	}
	return drain, release, nil
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
