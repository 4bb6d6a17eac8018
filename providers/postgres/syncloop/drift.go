package syncloop

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
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

// RepairingRunJob returns a RunJob for Options that, before each cycle of
// a job, compares the partitions of its databases on source and target
// (a partition created, detached or dropped on the source stops the
// logical apply worker with "target relation does not exist", and the
// xmin engine finds no partition for the new rows) and, when they
// differ, calls repair: plan and apply what policy { on_schema_drift }
// allows, as sync does at start. A difference repair did not resolve is
// not repaired again until it changes. The cycle itself is RunCycle.
func RepairingRunJob(o Options, repair func(ctx context.Context) error) func(ctx context.Context, stop <-chan struct{}, j *Job, c Cycle) error {
	var mu sync.Mutex
	tried := map[string]string{} // job -> difference last repaired
	return func(ctx context.Context, stop <-chan struct{}, j *Job, c Cycle) error {
		sig, err := partitionSignature(ctx, j)
		if err != nil {
			o.Log.Warn("partition check failed", "replication", j.Replication.Name, "error", err)
		}
		mu.Lock()
		again := sig != "" && tried[j.Replication.Name] != sig
		tried[j.Replication.Name] = sig
		mu.Unlock()
		if again {
			o.Log.Info("partitions differ between source and target: repairing per policy.on_schema_drift", "replication", j.Replication.Name, "difference", sig)
			if err := repair(ctx); err != nil {
				o.Log.Error("repair failed", "replication", j.Replication.Name, "error", err)
			}
		}
		return RunCycle(ctx, stop, j, c, o)
	}
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
