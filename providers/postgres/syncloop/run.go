package syncloop

import (
	"context"
	"fmt"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/datacopy"
	"github.com/database-replicator/database-replicator/providers/postgres/status"
	"github.com/database-replicator/database-replicator/providers/postgres/xminsync"
)

// RunCycle runs one cycle of a job: an xmin cycle per database (xmin), or
// the start of each database's stream applier (stream: see runStreams),
// then the database's sequences (every method). Only o.Log, o.Metrics
// and o.Report are used.
func RunCycle(ctx context.Context, stop <-chan struct{}, j *Job, c Cycle, o Options) error {
	name := j.Replication.Name
	if j.Method == lang.SyncStream {
		if err := runStreams(ctx, stop, j, c, o); err != nil {
			return err
		}
	}
	for i := range j.Databases {
		db := &j.Databases[i]
		src, dst := j.Source.WithDatabase(db.Name), j.Target.WithDatabase(db.Name)
		if j.Method == lang.SyncXmin {
			start := time.Now()
			res, err := xminsync.Cycle(ctx, src, dst, db.Tables, xminsync.Options{
				Replication:    name,
				BatchSize:      j.Replication.Sync.BatchSize,
				Parallel:       j.Replication.Snapshot.Jobs,
				ReconcileAfter: c.ReconcileAfter,
				Log:            o.Log.With("replication", name, "database", db.Name),
				Stop:           stop,
				Changes:        db.Changes,
				Carryover:      db.Carryover,
				WaitAtMost:     waitAtMost(j, c),
				ReplayDDL:      j.Replication.Policy.CaptureDDL,
				OnRows: func(table string, up, del int64) {
					o.Metrics.rows.WithLabelValues(name, db.Name, table, "upsert").Add(float64(up))
					o.Metrics.rows.WithLabelValues(name, db.Name, table, "delete").Add(float64(del))
				},
			})
			if err != nil {
				return fmt.Errorf("replication.%s database %q: %w", name, db.Name, err)
			}
			o.Metrics.cycle.WithLabelValues(name, db.Name).Observe(time.Since(start).Seconds())
			o.Metrics.lastCycle.WithLabelValues(name, db.Name).SetToCurrentTime()
			up, del := res.Rows()
			rep := CycleReport{Replication: name, Database: db.Name, Upserted: up, Deleted: del,
				Tables: len(res.Tables), Took: time.Since(start)}
			if res.DDLReplayed > 0 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%d captured DDL statement(s) replayed", res.DDLReplayed))
			}
			unchanged, earlier := 0, 0
			for _, t := range res.Tables {
				if t.Unchanged {
					unchanged++
				}
				if t.Earlier {
					earlier++
				}
				if t.Diffed {
					rep.Notes = append(rep.Notes, t.Table+" compared as a multiset")
				}
				if t.FullScan {
					rep.Notes = append(rep.Notes, t.Table+" read in full")
				}
			}
			if unchanged > 0 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%d unchanged table(s) not read", unchanged))
			}
			if earlier > 0 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%d table(s) left running by an earlier cycle finished", earlier))
			}
			if res.StillRunning > 0 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%d table(s) still running from an earlier cycle", res.StillRunning))
			}
			if res.LeftRunning > 0 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("%d table(s) left running", res.LeftRunning))
			}
			rep.Reconciled = len(res.Tables) > 0 && res.Tables[0].Reconciled
			o.Report.XminCycle(rep)
		}
		if j.Replication.Policy.CaptureDDL {
			if err := logDDLFailures(ctx, dst, &db.DDLFailuresSeen, o.Log.With("replication", name, "database", db.Name)); err != nil {
				o.Log.Warn("captured DDL: could not read the target's log", "replication", name, "database", db.Name, "error", err)
			}
		}
		var schemaOf func(schema, table string) string
		if j.Replication.Remaps() {
			dbName := db.Name
			schemaOf = func(schema, table string) string {
				return j.Replication.TargetOf(lang.TableRef{Database: dbName, Schema: schema, Table: table}).Schema
			}
		}
		n, err := datacopy.SyncSequencesRemapped(ctx, src, dst, nil, schemaOf)
		if err != nil {
			return fmt.Errorf("replication.%s database %q: sequences: %w", name, db.Name, err)
		}
		if j.Method != lang.SyncXmin || c.Once {
			o.Log.Info("sequences synced", "replication", name, "database", db.Name, "sequences", n)
		}
	}
	return nil
}

// LagTick reads the lag of the logical jobs with status.ReadLag (one
// connection and one query per server), updates the metrics and reports
// each database. A failure is counted, logged and left to the next tick.
func LagTick(ctx context.Context, jobs []*Job, o Options) {
	streamLag(ctx, jobs, o)
	var reqs []status.Logical
	for _, j := range jobs {
		if j.Method != lang.SyncLogical {
			continue
		}
		dbs := make([]string, len(j.Databases))
		for i, d := range j.Databases {
			dbs[i] = d.Name
		}
		reqs = append(reqs, status.Logical{Replication: j.Replication.Name, Subscription: j.Replication.Sync.Subscription,
			Source: j.Source, Target: j.Target, Databases: dbs})
	}
	if len(reqs) == 0 {
		return
	}
	rows, err := status.ReadLag(ctx, reqs)
	if err != nil {
		o.Metrics.errors.WithLabelValues().Inc()
		o.Log.Error("status", "error", err)
		return
	}
	for _, r := range rows {
		if r.LagKnown {
			o.Metrics.lagBytes.WithLabelValues(r.Replication, r.Database).Set(float64(r.LagBytes))
			o.Metrics.lagSeconds.WithLabelValues(r.Replication, r.Database).Set(r.LagSeconds)
		} else {
			// No lag to measure (slot missing or lost, subscription
			// disabled or missing): no series rather than a fake 0;
			// replicator_streaming is 0 and the problem is logged.
			o.Metrics.lagBytes.DeleteLabelValues(r.Replication, r.Database)
			o.Metrics.lagSeconds.DeleteLabelValues(r.Replication, r.Database)
		}
		if r.Problem != "" {
			o.Log.Warn("replication is not streaming", "replication", r.Replication, "database", r.Database, "state", r.State, "problem", r.Problem)
		}
		o.Metrics.streaming.WithLabelValues(r.Replication, r.Database).Set(map[bool]float64{true: 1}[r.State == status.StateStreaming])
		o.Report.Lag(r)
	}
}

// waitAtMost is how long an xmin cycle of j waits for its tables before
// leaving the slowest running (xminsync.Options.WaitAtMost): the job's
// interval, so the other tables' next cycle starts on time; --once waits
// for every table.
func waitAtMost(j *Job, c Cycle) time.Duration {
	if c.Once {
		return 0
	}
	return j.Interval
}
