package syncloop

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
	"github.com/database-replicator/database-replicator/providers/postgres/status"
	"github.com/database-replicator/database-replicator/providers/postgres/streamapply"
)

// streamer is the stream engine's applier of one database, running in a
// goroutine of its own for as long as the loop runs.
type streamer struct {
	applier *streamapply.Applier
	slot    string
	cancel  context.CancelFunc
	done    chan struct{}
	err     error // why Run ended; read after done is closed

	// lastRows and lastAt are the rows counted at the previous lag report
	// (for rows/s).
	lastRows int64
	lastAt   time.Time
}

// finished reports whether the applier has stopped.
func (s *streamer) finished() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// streamCatchUpStatus is how often a --once stream reports its position,
// so that the source answers with its own.
const streamCatchUpStatus = time.Second

// runStreams starts (or restarts) the applier of each database of a
// stream job. An applier that ended with an error is reported here (the
// loop retries with its backoff, and the next call starts it again). With
// c.Once, it waits until every database has applied what the source had
// written when the cycle began, then stops the appliers. The applier of a
// database no longer in j.Databases (held for a reviewed apply) stops.
func runStreams(ctx context.Context, stop <-chan struct{}, j *Job, c Cycle, o Options) error {
	name := j.Replication.Name
	if j.streams == nil {
		j.streams = map[string]*streamer{}
	}
	kept := map[string]bool{}
	for _, db := range j.Databases {
		kept[db.Name] = true
	}
	for db, s := range j.streams {
		if !kept[db] {
			s.cancel()
			<-s.done
			delete(j.streams, db)
			o.Log.Info("stream applier stopped", "replication", name, "database", db)
		}
	}
	if len(j.Databases) == 0 {
		return nil
	}
	var target pglogrepl.LSN
	if c.Once {
		lsn, err := sourceWALPosition(ctx, j.Source.WithDatabase(j.Databases[0].Name))
		if err != nil {
			return fmt.Errorf("replication.%s: %w", name, err)
		}
		target = lsn
	}
	for _, db := range j.Databases {
		if s := j.streams[db.Name]; s != nil && s.finished() {
			delete(j.streams, db.Name)
			if s.err != nil && !errors.Is(s.err, context.Canceled) {
				return fmt.Errorf("replication.%s database %q: stream: %w", name, db.Name, s.err)
			}
		}
		if j.streams[db.Name] != nil {
			continue
		}
		slot := planner.SlotName(j.Replication.Sync.Subscription, db.Name)
		cfg := streamapply.Config{
			Source: j.Source.WithDatabase(db.Name), Target: j.Target.WithDatabase(db.Name),
			Replication: name, Slot: slot, Publications: []string{j.Replication.Sync.Publication},
			Log: o.Log.With("database", db.Name),
			// sync.batch_size: changes per target transaction (whole source
			// transactions: a larger one is never split).
			MaxGroupChanges: j.Replication.Sync.BatchSize,
		}
		if j.Replication.Remaps() {
			r, dbName := j.Replication, db.Name
			cfg.Remap = func(schema, table string) (string, string) {
				to := r.TargetOf(lang.TableRef{Database: dbName, Schema: schema, Table: table})
				return to.Schema, to.Table
			}
		}
		if j.Replication.Policy.CaptureDDL {
			cfg.DDLLog = streamapply.TableName{Schema: plans.DDLLogSchema, Table: plans.DDLLogTable}
		}
		switch j.Replication.Policy.OnSchemaDrift {
		case lang.DriftApply:
			cfg.NewColumns = streamapply.NewColumnsAdd
		case lang.DriftIgnore:
			cfg.NewColumns = streamapply.NewColumnsIgnore
		}
		if c.Once {
			cfg.StatusInterval = streamCatchUpStatus
		}
		a, err := streamapply.New(cfg)
		if err != nil {
			return fmt.Errorf("replication.%s database %q: %w", name, db.Name, err)
		}
		actx, cancel := context.WithCancel(ctx)
		s := &streamer{applier: a, slot: slot, cancel: cancel, done: make(chan struct{}), lastAt: time.Now()}
		go func() {
			defer close(s.done)
			s.err = a.Run(actx)
		}()
		go func() {
			select {
			case <-stop:
				cancel()
			case <-s.done:
			}
		}()
		j.streams[db.Name] = s
		o.Log.Info("stream applier started", "replication", name, "database", db.Name, "slot", slot)
	}
	if !c.Once {
		return nil
	}
	defer stopStreams(j)
	for _, db := range j.Databases {
		s := j.streams[db.Name]
		for {
			st := s.applier.Stats()
			if st.AppliedLSN >= target || st.Idle && st.SourceLSN >= target {
				o.Log.Info("stream caught up", "replication", name, "database", db.Name, "applied_lsn", st.AppliedLSN.String(), "rows", st.Rows)
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-stop:
				return nil
			case <-s.done:
				return fmt.Errorf("replication.%s database %q: stream: %w", name, db.Name, s.err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// stopStreams stops every applier of the job and waits for them.
func stopStreams(j *Job) {
	for db, s := range j.streams {
		s.cancel()
		<-s.done
		delete(j.streams, db)
	}
}

// sourceWALPosition reads the source's WAL position past every commit so far.
func sourceWALPosition(ctx context.Context, src conninfo.Info) (pglogrepl.LSN, error) {
	conn, err := conninfo.Connect(ctx, src)
	if err != nil {
		return 0, fmt.Errorf("source: %w", err)
	}
	defer conn.Close(context.Background())
	lsn, err := snapshot.CommittedLSN(ctx, conn)
	if err != nil {
		return 0, fmt.Errorf("source: %w", err)
	}
	return lsn, nil
}

// streamLag reports each database of the stream jobs from its applier's
// statistics and the source's WAL position, updates the metrics, and
// makes a job whose applier stopped due at once (RunJob restarts it, or
// reports its error).
func streamLag(ctx context.Context, jobs []*Job, o Options) {
	for _, j := range jobs {
		if len(j.streams) == 0 {
			continue
		}
		var current pglogrepl.LSN
		var lsnErr error
		if len(j.Databases) > 0 {
			current, lsnErr = sourceWALPosition(ctx, j.Source.WithDatabase(j.Databases[0].Name))
		}
		for _, db := range j.Databases {
			s := j.streams[db.Name]
			if s == nil {
				continue
			}
			r, rows := streamRow(j.Replication.Name, db.Name, s, current, lsnErr)
			if s.finished() {
				j.next = time.Time{}
			}
			o.Metrics.rows.WithLabelValues(r.Replication, r.Database, "", "stream").Add(float64(rows))
			if r.LagKnown {
				o.Metrics.lagBytes.WithLabelValues(r.Replication, r.Database).Set(float64(r.LagBytes))
				o.Metrics.lagSeconds.WithLabelValues(r.Replication, r.Database).Set(r.LagSeconds)
			} else {
				o.Metrics.lagBytes.DeleteLabelValues(r.Replication, r.Database)
				o.Metrics.lagSeconds.DeleteLabelValues(r.Replication, r.Database)
			}
			o.Metrics.streaming.WithLabelValues(r.Replication, r.Database).Set(map[bool]float64{true: 1}[r.State == status.StateStreaming])
			if r.Problem != "" {
				o.Log.Warn("replication is not streaming", "replication", r.Replication, "database", r.Database, "state", r.State, "problem", r.Problem)
			}
			o.Report.Lag(r)
		}
	}
}

// streamRow is the lag report of one database's applier, and the rows it
// applied since the previous report.
func streamRow(replication, db string, s *streamer, current pglogrepl.LSN, lsnErr error) (status.Row, int64) {
	st := s.applier.Stats()
	now := time.Now()
	r := status.Row{Replication: replication, Database: db, Method: "stream", Slot: s.slot,
		Enabled: true, AppliedLSN: st.AppliedLSN.String(), RowsApplied: st.Rows}
	rows := st.Rows - s.lastRows
	if d := now.Sub(s.lastAt).Seconds(); d > 0 {
		r.RowsPerSecond = float64(rows) / d
	}
	s.lastRows, s.lastAt = st.Rows, now
	switch {
	case s.finished():
		r.State = status.StateNotConnected
		r.Problem = "the stream applier stopped: " + st.LastError + "; sync starts it again after its backoff"
		return r, rows
	case !st.Connected:
		r.State = status.StateNotConnected
		r.Problem = "the stream applier is reconnecting"
		if st.LastError != "" {
			r.Problem += " after: " + st.LastError
		}
		return r, rows
	}
	r.State = status.StateStreaming
	r.SlotActive = true
	if lsnErr != nil {
		return r, rows
	}
	r.SourceLSN = current.String()
	r.LagKnown = true
	done := st.AppliedLSN
	if st.Idle {
		done = max(done, st.SourceLSN)
	}
	if current > done {
		r.LagBytes = catalog.LSNDiff(current.String(), done.String())
		if !st.LastCommitTime.IsZero() {
			r.LagSeconds = max(0, now.Sub(st.LastCommitTime).Seconds())
		}
	}
	return r, rows
}
