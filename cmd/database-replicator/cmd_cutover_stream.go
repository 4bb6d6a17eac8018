package main

import (
	"context"
	"fmt"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/cutover"
	"github.com/database-replicator/database-replicator/providers/postgres/syncloop"
)

// streamDrain gets the stream databases of a cutover ready: it gives each
// database its remapping and returns the drain: the database's stream
// applier run as `sync --once` runs it, up to the source's position after
// the fence. jobs are the cutover's sync jobs (see cutoverSyncs).
func (c *cutoverCmd) streamDrain(a *app, jobs *cutoverJobs) (func(context.Context, *cutover.Database) error, error) {
	stream := jobs.databases((*cutover.Database).Stream)
	if len(stream) == 0 {
		return nil, nil
	}
	if c.Reverse {
		return nil, fmt.Errorf("cutover --reverse is not supported for the stream method yet (%s): cut over without --reverse", stream[0].Address())
	}
	for _, db := range stream {
		j, ok := jobs.of(db)
		if !ok || j.Method != lang.SyncStream || !j.Replication.Remaps() {
			continue
		}
		r, name := j.Replication, db.Name
		db.Remap = func(schema, table string) (string, string) {
			to := r.TargetOf(lang.TableRef{Database: name, Schema: schema, Table: table})
			return to.Schema, to.Table
		}
	}
	return func(ctx context.Context, db *cutover.Database) error {
		j, ok := jobs.of(db)
		if !ok || j.Method != lang.SyncStream {
			return fmt.Errorf("no stream sync of %s to run (is sync.method still \"stream\"?)", db.Address())
		}
		return syncloop.RunCycle(ctx, nil, &j, syncloop.Cycle{Once: true},
			syncloop.Options{Log: a.log, Report: &cycleCollector{}, Metrics: syncloop.NewMetrics()})
	}, nil
}
