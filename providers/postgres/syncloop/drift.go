package syncloop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/schemacompare"
	"github.com/jackc/pgx/v5"
)

// driftRepair reports whether sync applies a change itself, like a
// subscription: a schema drift update (planned only under
// policy { on_schema_drift = "apply" }: new partitions, tables, columns)
// and the publication and post-data updates that follow the source's
// schema; once the database's snapshot is done (see snapshotDone), also
// the copy of a table that joined the scope since. Anything
// else waits for apply.
func driftRepair(ch *plans.Change, snapshotDone func(*plans.Change) bool) bool {
	if ch.Action == plans.Create && (ch.Addr.Kind == addrs.Table || ch.Addr.Kind == addrs.Xmin) && snapshotDone(ch) {
		// A table that joined the scope since (xmin: copied, then polled).
		return true
	}
	if ch.Action != plans.Update {
		return false
	}
	switch ch.Addr.Kind {
	case addrs.Schema:
		a, ok := ch.After.(*plans.SchemaAttrs)
		return ok && a.Drift != nil
	case addrs.Publication, addrs.PostData:
		return true
	}
	return false
}

// partitionsQuery lists every partition of the connected database with
// its parent, as "schema.child<schema.parent" texts.
const partitionsQuery = `
SELECT format('%I.%I<%I.%I', n.nspname, c.relname, pn.nspname, p.relname)
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid AND c.relispartition
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
ORDER BY 1`

// partitionSignature reads the partitions of every database of a job on
// the source and the target (one query per database and side) and
// returns "" when they agree, else a text that names the difference.
// Partitions of tables the target does not have are out of scope and
// left out.
func partitionSignature(ctx context.Context, j *Job) (string, error) {
	var diffs []string
	for _, db := range j.Databases {
		src, err := readPartitions(ctx, j.Source.WithDatabase(db.Name))
		if err != nil {
			return "", fmt.Errorf("source %q: %w", db.Name, err)
		}
		dst, err := readPartitions(ctx, j.Target.WithDatabase(db.Name))
		if err != nil {
			return "", fmt.Errorf("target %q: %w", db.Name, err)
		}
		// Sets, not slice scans: this runs before every cycle, and a
		// database may hold thousands of partitions.
		inSrc, inDst, parents := map[string]bool{}, map[string]bool{}, map[string]bool{}
		for _, p := range src {
			inSrc[p] = true
		}
		for _, p := range dst {
			inDst[p] = true
			_, parent, _ := strings.Cut(p, "<")
			parents[parent] = true
		}
		for _, p := range src {
			if _, parent, _ := strings.Cut(p, "<"); parents[parent] && !inDst[p] {
				diffs = append(diffs, db.Name+": +"+p)
			}
		}
		for _, p := range dst {
			if !inSrc[p] {
				diffs = append(diffs, db.Name+": -"+p)
			}
		}
	}
	return strings.Join(diffs, ", "), nil
}

func readPartitions(ctx context.Context, info conninfo.Info) ([]string, error) {
	conn, err := conninfo.Connect(ctx, info)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, partitionsQuery)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Repair is how RepairingRunJob repairs schema drift.
type Repair struct {
	// Run plans and applies what policy { on_schema_drift } allows, as
	// sync does at start, and returns the databases held for a reviewed
	// apply (policy "plan"). An error that is a *StopError stops sync.
	Run func(ctx context.Context) ([]Held, error)
	// Held are the databases held when sync started.
	Held []Held
	// OwnSchemas are left out of the schema comparison (the tool's own).
	OwnSchemas []string
	// SchemaEvery is the least time between two schema comparisons of a
	// job (each reads both catalogs); 0 compares before every cycle.
	SchemaEvery time.Duration
}

// StopError stops sync: a repair met schema drift that
// policy.on_schema_drift = "fail" refuses.
type StopError struct{ Err error }

func (e *StopError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *StopError) Unwrap() error { return e.Err }

// RepairingRunJob returns a RunJob for Options that, before each cycle of
// a job, compares the partitions of its databases on source and target
// (a partition created, detached or dropped on the source stops the
// logical apply worker with "target relation does not exist", and the
// xmin engine finds no partition for the new rows) and, at most every
// rep.SchemaEvery, their schemas (schemacompare: a column added, renamed,
// retyped or dropped, an index, constraint, type, ... on the source), and
// when they differ, calls rep.Run: plan and apply what
// policy { on_schema_drift } allows, as sync does at start. A difference
// the repair did not resolve is not repaired again until it changes. The
// xmin cycles of databases held for review (policy "plan") do not run
// until a repair finds them released, nor do the stream appliers of such
// databases (their rows wait in the slot); the cycle itself is RunCycle.
func RepairingRunJob(o Options, rep Repair) func(ctx context.Context, stop <-chan struct{}, j *Job, c Cycle) error {
	var mu sync.Mutex
	tried := map[string]string{}      // job -> difference last repaired
	schemaSig := map[string]string{}  // job -> last schema difference
	checked := map[string]time.Time{} // job -> last schema comparison
	held := map[[2]string]string{}    // replication/database -> drift
	applyErrors := map[string]int64{} // job -> apply errors counted (15+)
	// job -> database -> the target's DDL log position when a repair was
	// postponed for captured DDL in flight (policy.capture_ddl)
	replayed := map[string]map[string]int64{}
	setHeld := func(hs []Held) {
		clear(held)
		for _, h := range hs {
			held[[2]string{h.Replication, h.Database}] = h.Drift
		}
	}
	setHeld(rep.Held)
	return func(ctx context.Context, stop <-chan struct{}, j *Job, c Cycle) error {
		name := j.Replication.Name
		sig, err := partitionSignature(ctx, j)
		if err != nil {
			o.Log.Warn("partition check failed", "replication", name, "error", err)
		}
		mu.Lock()
		schemaDue := c.Once || time.Since(checked[name]) >= rep.SchemaEvery
		mu.Unlock()
		if !schemaDue && j.Method == lang.SyncLogical {
			// An apply worker that stopped (a missing relation or column, a
			// value the target's type cannot hold) is a reason to compare
			// now rather than at the next scheduled comparison.
			noWorker, errs, err := applyWorkerStopped(ctx, j)
			if err != nil {
				o.Log.Debug("apply worker check failed", "replication", name, "error", err)
			}
			mu.Lock()
			schemaDue = noWorker || errs > applyErrors[name]
			applyErrors[name] = errs
			mu.Unlock()
		}
		if !schemaDue && j.Method == lang.SyncStream {
			// A stream applier that stopped (a relation or column the
			// target lacks, a rename) is a reason to compare now.
			for _, s := range j.streams {
				schemaDue = schemaDue || s.finished()
			}
		}
		if schemaDue && j.Replication.Policy.OnSchemaDrift != lang.DriftIgnore {
			ss, err := schemaSignature(ctx, j, rep.OwnSchemas)
			if err != nil {
				o.Log.Warn("schema check failed", "replication", name, "error", err)
			} else {
				mu.Lock()
				schemaSig[name], checked[name] = ss, time.Now()
				mu.Unlock()
			}
		}
		const clean = "\x00"
		mu.Lock()
		sig += clean + schemaSig[name]
		prev := tried[name]
		tried[name] = sig
		// A new difference, or none any more while a database is held
		// (the reviewed apply ran: the repair releases it).
		again := sig != clean && prev != sig || sig == clean && prev != "" && prev != clean && len(held) > 0
		mu.Unlock()
		if again && sig != clean && j.Replication.Policy.CaptureDDL {
			// Captured DDL on its way replays the difference itself, in
			// stream order: the repair waits for it (see ddlInFlight).
			mu.Lock()
			if replayed[name] == nil {
				replayed[name] = map[string]int64{}
			}
			seen := replayed[name]
			mu.Unlock()
			waiting, err := ddlInFlight(ctx, j, seen)
			if err == nil && len(waiting) > 0 {
				// Compared again, and considered again, at a cycle soon.
				mu.Lock()
				tried[name] = prev
				delete(checked, name)
				mu.Unlock()
				j.recheckIn = rep.SchemaEvery
				again = false
			}
			switch {
			case err != nil:
				o.Log.Warn("captured DDL: could not compare the DDL logs; repairing", "replication", name, "error", err)
			case !again:
				o.Log.Info("schemas differ while captured DDL is on its way to the target: the repair waits for it", "replication", name, "databases", strings.Join(waiting, ", "))
			}
		}
		if again {
			o.Log.Info("source and target schemas differ: repairing per policy.on_schema_drift", "replication", name, "policy", j.Replication.Policy.OnSchemaDrift)
			hs, err := rep.Run(ctx)
			var stopErr *StopError
			switch {
			case errors.As(err, &stopErr):
				return err
			case err != nil:
				o.Log.Error("repair failed", "replication", name, "error", err)
			default:
				mu.Lock()
				setHeld(hs)
				mu.Unlock()
			}
		}
		run := j
		if j.Method == lang.SyncXmin || j.Method == lang.SyncStream {
			mu.Lock()
			var kept []Database
			for _, db := range j.Databases {
				if drift := held[[2]string{name, db.Name}]; drift != "" {
					o.Log.Warn("paused: schema drift awaits a reviewed plan (policy.on_schema_drift = \"plan\"): review it with plan, then run apply",
						"replication", name, "database", db.Name, "drift", drift)
					continue
				}
				kept = append(kept, db)
			}
			mu.Unlock()
			if len(kept) != len(j.Databases) {
				copied := *j
				copied.Databases = kept
				run = &copied
			}
		}
		return RunCycle(ctx, stop, run, c, o)
	}
}

// applyWorkerStopped reports whether the subscription of a database of a
// logical job is enabled but has no apply worker (it stopped on an error
// and waits to retry), and how many apply errors the subscriptions count
// (pg_stat_subscription_stats, PostgreSQL 15+; 0 before): a growing count
// is a worker that fails. The target's server log, which says why, is
// not readable here; the schema comparison finds what differs.
func applyWorkerStopped(ctx context.Context, j *Job) (noWorker bool, applyErrors int64, err error) {
	for _, db := range j.Databases {
		conn, err := conninfo.Connect(ctx, j.Target.WithDatabase(db.Name))
		if err != nil {
			return false, 0, err
		}
		version, err := conninfo.ServerVersionNum(ctx, conn)
		if err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return false, 0, err
		}
		errorsCounted := "0"
		if version >= 150000 {
			errorsCounted = `(SELECT COALESCE(sum(st.apply_error_count), 0) FROM pg_catalog.pg_stat_subscription_stats st WHERE st.subid = s.oid)`
		}
		var stopped bool
		var count int64
		err = conn.QueryRow(ctx, `SELECT s.subenabled AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_subscription w
				WHERE w.subid = s.oid AND w.relid IS NULL AND w.pid IS NOT NULL), `+errorsCounted+`::int8
			FROM pg_catalog.pg_subscription s
			WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())`,
			j.Replication.Sync.Subscription).Scan(&stopped, &count)
		conn.Close(context.WithoutCancel(ctx))
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return false, 0, err
		}
		noWorker = noWorker || stopped
		applyErrors += count
	}
	return noWorker, applyErrors, nil
}

// schemaSignature compares the schema of every database of a job on the
// source and the target (every object: what is in scope is the
// planner's to decide) and returns "" when they agree, else a text that
// names the differences.
func schemaSignature(ctx context.Context, j *Job, own []string) (string, error) {
	var out []string
	for _, db := range j.Databases {
		read := func(info conninfo.Info) (*schemacompare.Schema, error) {
			conn, err := conninfo.Connect(ctx, info.WithDatabase(db.Name))
			if err != nil {
				return nil, err
			}
			defer conn.Close(context.WithoutCancel(ctx))
			return schemacompare.Read(ctx, conn, schemacompare.Options{IgnoreSchemas: own})
		}
		src, err := read(j.Source)
		if err != nil {
			return "", fmt.Errorf("source %q: %w", db.Name, err)
		}
		dst, err := read(j.Target)
		if err != nil {
			return "", fmt.Errorf("target %q: %w", db.Name, err)
		}
		diffs, _ := schemacompare.Diff(src, dst, schemacompare.Scope{})
		for _, d := range diffs {
			line := db.Name + ": " + d.Kind + " " + d.Object + " " + d.Problem
			for _, a := range d.Attributes {
				line += " " + a.Name
			}
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n"), nil
}

// snapshotDone returns, for a plan, whether the snapshot of the database
// of a table or xmin change is done: the plan holds that database's
// schema change, and it neither creates nor replaces it (the first apply
// ran; what is left is repair).
func snapshotDone(p *plans.Plan) func(ch *plans.Change) bool {
	schema := map[[2]string]plans.Action{}
	for _, ch := range p.Changes {
		if ch.Addr.Kind == addrs.Schema {
			schema[[2]string{ch.Addr.Replication, ch.Addr.Key}] = ch.Action
		}
	}
	return func(ch *plans.Change) bool {
		ref, err := lang.ParseTableRef(ch.Addr.Key)
		if err != nil {
			return false
		}
		a, ok := schema[[2]string{ch.Addr.Replication, ref.Database}]
		return ok && (a == plans.NoOp || a == plans.Update)
	}
}
