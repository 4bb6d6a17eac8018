package main

import (
	"context"
	"fmt"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/cutover"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
	"github.com/database-replicator/database-replicator/providers/postgres/syncloop"
	"github.com/database-replicator/database-replicator/state"
)

// streamCutover gets the stream databases of a cutover ready: it takes
// the sync lock of every replication (a running sync makes cutover
// refuse: the slot has one reader), gives each database its remapping,
// and returns the drain: the database's stream applier run as
// `sync --once` runs it, up to the source's position after the fence.
// release frees the sync lock.
func (c *cutoverCmd) streamCutover(a *app, cfg *lang.Config, eps *endpoints.Set, st *state.State, dbs []*cutover.Database) (
	drain func(context.Context, *cutover.Database) error, release func(), err error) {
	var stream []*cutover.Database
	for _, db := range dbs {
		if db.Stream() {
			stream = append(stream, db)
		}
	}
	if len(stream) == 0 {
		return nil, func() {}, nil
	}
	if c.Reverse {
		return nil, nil, fmt.Errorf("cutover --reverse is not supported for the stream method yet (%s): cut over without --reverse", stream[0].Address())
	}
	release, err = syncloop.Exclusive(a.ctx, cfg, eps, "cutover")
	if err != nil {
		return nil, nil, fmt.Errorf("%w (stop the continuous sync, e.g. sync --stop, before the cutover: the cutover runs the final stream itself)", err)
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
		if j.Method != lang.SyncStream {
			continue
		}
		for _, d := range j.Databases {
			one := *j
			one.Databases = []syncloop.Database{d}
			byDB[j.Replication.Name+"\x00"+d.Name] = one
		}
	}
	for _, db := range stream {
		j, ok := byDB[db.Replication+"\x00"+db.Name]
		if !ok || !j.Replication.Remaps() {
			continue
		}
		r, name := j.Replication, db.Name
		db.Remap = func(schema, table string) (string, string) {
			to := r.TargetOf(lang.TableRef{Database: name, Schema: schema, Table: table})
			return to.Schema, to.Table
		}
	}
	drain = func(ctx context.Context, db *cutover.Database) error {
		j, ok := byDB[db.Replication+"\x00"+db.Name]
		if !ok {
			return fmt.Errorf("no stream sync of %s to run (is sync.method still \"stream\"?)", db.Address())
		}
		return syncloop.RunCycle(ctx, nil, &j, syncloop.Cycle{Once: true},
			syncloop.Options{Log: a.log, Report: &cycleCollector{}, Metrics: syncloop.NewMetrics()})
	}
	return drain, release, nil
}
