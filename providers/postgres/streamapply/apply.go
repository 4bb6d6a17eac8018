package streamapply

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
)

// handle applies one pgoutput message (data is owned by the caller and
// not reused).
func (s *session) handle(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	msg, err := pglogrepl.ParseV2(data, s.inStream)
	if err != nil {
		return fmt.Errorf("source: decode %q message: %w", data[0], err)
	}
	if s.inStream {
		switch m := msg.(type) {
		case *pglogrepl.StreamStopMessageV2:
			s.inStream = false
			return nil
		case *pglogrepl.RelationMessageV2:
			return s.spoolMessage(m.Xid, data)
		case *pglogrepl.TypeMessageV2:
			return nil
		case *pglogrepl.InsertMessageV2:
			return s.spoolMessage(m.Xid, data)
		case *pglogrepl.UpdateMessageV2:
			return s.spoolMessage(m.Xid, data)
		case *pglogrepl.DeleteMessageV2:
			return s.spoolMessage(m.Xid, data)
		case *pglogrepl.TruncateMessageV2:
			return s.spoolMessage(m.Xid, data)
		case *pglogrepl.LogicalDecodingMessageV2:
			return nil
		default:
			return fmt.Errorf("source: unexpected %s message inside a streamed block", msg.Type())
		}
	}
	switch m := msg.(type) {
	case *pglogrepl.BeginMessage:
		s.begin(m.FinalLSN)
		return nil
	case *pglogrepl.CommitMessage:
		return s.commit(ctx, m.TransactionEndLSN, m.CommitTime)
	case *pglogrepl.StreamStartMessageV2:
		s.inStream = true
		s.streamXid = m.Xid
		if s.spools[m.Xid] == nil {
			sp, err := newSpool(s.a.cfg.SpoolDir, m.Xid)
			if err != nil {
				return err
			}
			s.spools[m.Xid] = sp
			s.a.update(func(st *Stats) { st.StreamedTransactions++ })
		}
		return nil
	case *pglogrepl.StreamCommitMessageV2:
		return s.streamCommit(ctx, m)
	case *pglogrepl.StreamAbortMessageV2:
		sp := s.spools[m.Xid]
		if sp == nil {
			return nil
		}
		if m.SubXid == m.Xid || m.SubXid == 0 {
			sp.close()
			delete(s.spools, m.Xid)
			return nil
		}
		return sp.abortSub(m.SubXid)
	case *pglogrepl.RelationMessageV2:
		return s.relation(ctx, &m.RelationMessage)
	case *pglogrepl.InsertMessageV2, *pglogrepl.UpdateMessageV2, *pglogrepl.DeleteMessageV2, *pglogrepl.TruncateMessageV2:
		return s.change(ctx, msg)
	}
	// Type, origin and logical decoding messages change nothing here.
	return nil
}

// spoolMessage appends a change of a streamed transaction to its spool.
func (s *session) spoolMessage(xid uint32, data []byte) error {
	sp := s.spools[s.streamXid]
	if sp == nil {
		return fmt.Errorf("source: change of streamed transaction %d outside its stream", s.streamXid)
	}
	return sp.add(xid, data)
}

// streamCommit applies a streamed transaction from its spool.
func (s *session) streamCommit(ctx context.Context, m *pglogrepl.StreamCommitMessageV2) error {
	sp := s.spools[m.Xid]
	delete(s.spools, m.Xid)
	defer sp.close()
	s.begin(m.CommitLSN)
	if sp != nil && !s.skipping {
		err := sp.replay(func(data []byte) error {
			msg, err := pglogrepl.ParseV2(data, true)
			if err != nil {
				return fmt.Errorf("spooled transaction %d: decode %q message: %w", m.Xid, data[0], err)
			}
			if rm, ok := msg.(*pglogrepl.RelationMessageV2); ok {
				return s.relation(ctx, &rm.RelationMessage)
			}
			return s.change(ctx, msg)
		})
		if err != nil {
			return err
		}
	}
	return s.commit(ctx, m.TransactionEndLSN, m.CommitTime)
}

// begin starts a source transaction whose commit record is at finalLSN:
// one that committed before the last applied commit's end is skipped (it
// is on the target already).
func (s *session) begin(finalLSN pglogrepl.LSN) {
	s.inTx = true
	s.txDDL = false
	s.txLSN = finalLSN
	s.skipping = finalLSN < s.applied
}

// beforeStart reports whether the open transaction committed before the
// snapshot table r was copied in (a resumed snapshot): its changes to r
// are in the copy already and are not applied.
func (s *session) beforeStart(r *relation) bool {
	start, ok := s.starts[TableName{r.dstSchema, r.dstName}]
	return ok && s.txLSN < start
}

// relationOf is the relation a row change writes to (nil for a truncate).
func (s *session) relationOf(msg pglogrepl.Message) (*relation, error) {
	switch m := msg.(type) {
	case *pglogrepl.InsertMessageV2:
		return s.rel(m.RelationID)
	case *pglogrepl.UpdateMessageV2:
		return s.rel(m.RelationID)
	case *pglogrepl.DeleteMessageV2:
		return s.rel(m.RelationID)
	}
	return nil, nil
}

// commit ends a source transaction; its end LSN is recorded with the
// group, and the group commits when it is big or old enough.
func (s *session) commit(ctx context.Context, end pglogrepl.LSN, commitTime time.Time) error {
	s.inTx = false
	if s.skipping {
		s.skipping = false
		return nil
	}
	s.applied = max(s.applied, end)
	if !s.inGroup {
		// Nothing to write: an empty transaction, committed once the
		// group before it is (see groupCommitted).
		if len(s.flight) == 0 {
			s.committed = s.applied
		}
		s.a.update(func(st *Stats) { st.AppliedLSN = s.committed; st.Transactions++ })
		return nil
	}
	s.groupTxns++
	s.groupCommitTime = commitTime
	ddl := s.txDDL
	s.txDDL = false
	// The group commits as soon as nothing more is waiting (see loop),
	// or here when it is big or old enough.
	if ddl || s.groupChanges >= s.a.cfg.MaxGroupChanges || time.Since(s.groupStart) >= s.a.cfg.MaxGroupDelay {
		return s.commitGroup(ctx)
	}
	return s.flushPipeline()
}

// relation records a relation message.
func (s *session) relation(ctx context.Context, m *pglogrepl.RelationMessage) error {
	// Statements already queued run first: describing the table (and
	// adding a column) must see them, in order.
	if err := s.flushRun(ctx); err != nil {
		return err
	}
	if err := s.sendBatch(ctx); err != nil {
		return err
	}
	if old := s.rels[m.RelationID]; old != nil {
		// The source sends a relation again after its table changed (a
		// column's type, say): statements prepared for the old shape keep
		// their parameter types, so they are prepared again.
		if err := s.forgetStatements(ctx, old.target); err != nil {
			return err
		}
	}
	r, err := describeRelation(ctx, s.dst, m, s.a.cfg.Remap, s.a.cfg.NewColumns, s.filters)
	if err != nil {
		return err
	}
	s.rels[m.RelationID] = r
	return nil
}

// forgetStatements deallocates the statements prepared for target.
func (s *session) forgetStatements(ctx context.Context, target string) error {
	for _, sql := range s.stmtsOf[target] {
		name, ok := s.stmts[sql]
		if !ok {
			continue
		}
		delete(s.stmts, sql)
		if err := s.dst.PgConn().Deallocate(ctx, name); err != nil {
			return fmt.Errorf("target: deallocate %s: %w", firstWords(sql), err)
		}
	}
	delete(s.stmtsOf, target)
	return nil
}

// rel is the relation of a change.
func (s *session) rel(id uint32) (*relation, error) {
	r := s.rels[id]
	if r == nil {
		return nil, fmt.Errorf("source: change for relation %d before its relation message", id)
	}
	return r, nil
}

// change applies one row change (or truncate) inside the open group.
func (s *session) change(ctx context.Context, msg pglogrepl.Message) error {
	if s.skipping {
		return nil
	}
	if len(s.starts) > 0 {
		r, err := s.relationOf(msg)
		if err != nil {
			return err
		}
		if r != nil && s.beforeStart(r) {
			return nil
		}
	}
	s.openGroup(ctx)
	s.groupChanges++
	switch m := msg.(type) {
	case *pglogrepl.InsertMessageV2:
		r, err := s.rel(m.RelationID)
		if err != nil {
			return err
		}
		cols, err := r.insertColumns(m.Tuple)
		if err != nil {
			return err
		}
		if log := s.a.cfg.DDLLog; log.Table != "" && r.srcSchema == log.Schema && r.srcName == log.Table {
			s.txDDL = true
		}
		if s.run.rel != r || !sameInts(s.run.cols, cols) || (s.run.rows+1)*len(cols) > maxInsertParams || s.run.rows >= maxInsertRows {
			if err := s.flushRun(ctx); err != nil {
				return err
			}
			s.run = insertRun{rel: r, cols: cols}
		}
		for _, i := range cols {
			s.run.vals = append(s.run.vals, value(m.Tuple.Columns[i]))
		}
		s.run.rows++
		s.groupRows++
	case *pglogrepl.UpdateMessageV2:
		r, err := s.rel(m.RelationID)
		if err != nil {
			return err
		}
		if err := s.flushRunBefore(ctx, r); err != nil {
			return err
		}
		if r.filter != "" {
			stmts, err := r.filteredUpdate(&m.UpdateMessage)
			if err != nil {
				return err
			}
			s.groupRows++
			for _, st := range stmts {
				if err := s.queue(ctx, st.sql, st.vals, st.kind, true, r); err != nil {
					return err
				}
			}
			return nil
		}
		sql, vals, ok, err := r.updateSQL(&m.UpdateMessage)
		if err != nil {
			return err
		}
		s.groupRows++
		if ok {
			if err := s.queue(ctx, sql, vals, stmtRow, true, r); err != nil {
				return err
			}
		}
	case *pglogrepl.DeleteMessageV2:
		r, err := s.rel(m.RelationID)
		if err != nil {
			return err
		}
		if err := s.flushRunBefore(ctx, r); err != nil {
			return err
		}
		sql, vals, err := r.deleteSQL(&m.DeleteMessage)
		if err != nil {
			return err
		}
		s.groupRows++
		// A filtered table's row that did not pass is not there.
		kind := stmtRow
		if r.filter != "" {
			kind = stmtOther
		}
		if err := s.queue(ctx, sql, vals, kind, true, r); err != nil {
			return err
		}
	case *pglogrepl.TruncateMessageV2:
		if err := s.flushRun(ctx); err != nil {
			return err
		}
		var names []string
		for _, id := range m.RelationIDs {
			r, err := s.rel(id)
			if err != nil {
				return err
			}
			if !s.beforeStart(r) {
				names = append(names, r.from())
			}
		}
		if len(names) == 0 {
			return nil
		}
		sql := "TRUNCATE " + strings.Join(names, ", ")
		if m.Option&pglogrepl.TruncateOptionRestartIdentity != 0 {
			sql += " RESTART IDENTITY"
		}
		if err := s.queue(ctx, sql, nil, stmtOther, false, nil); err != nil {
			return err
		}
	default:
		return fmt.Errorf("source: unexpected %s message", msg.Type())
	}
	return nil
}

// openGroup begins the target transaction when none is open.
func (s *session) openGroup(ctx context.Context) {
	if s.inGroup {
		return
	}
	s.inGroup = true
	s.a.update(func(st *Stats) { st.Idle = false })
	s.groupStart = time.Now()
	s.groupChanges, s.groupRows, s.groupTxns = 0, 0, 0
	s.pipeline(ctx).SendQueryParams("BEGIN", nil, nil, nil, nil)
	s.batchKinds = append(s.batchKinds, stmtOther)
}

// pipeline is the open pipeline on the target, started when none is.
func (s *session) pipeline(ctx context.Context) *pgconn.Pipeline {
	if s.pipe == nil {
		s.pipe = s.dst.PgConn().StartPipeline(ctx)
	}
	return s.pipe
}

// flushPipeline sends what the pipeline holds without waiting for the
// results: the target executes a group's statements while more of it is
// received, and the group's commit waits only for the last of them.
func (s *session) flushPipeline() error {
	if s.pipe == nil {
		return nil
	}
	if err := s.pipe.Flush(); err != nil {
		return fmt.Errorf("target: apply: %w", err)
	}
	return nil
}

// flushRunBefore queues the pending multi-row INSERT before an update or
// delete of r, unless both tables are standalone and different: then the
// INSERT stays pending and takes more rows (pgbench -N's history inserts,
// each between two updates of accounts, become one statement). Per table
// the order of changes is kept, and all of them stay in the same target
// transaction as before.
func (s *session) flushRunBefore(ctx context.Context, r *relation) error {
	if p := s.run.rel; p != nil && p.standalone && r.standalone && p.target != r.target {
		return nil
	}
	return s.flushRun(ctx)
}

// flushRun queues the pending multi-row INSERT.
func (s *session) flushRun(ctx context.Context) error {
	if s.run.rows == 0 {
		s.run = insertRun{}
		return nil
	}
	run := s.run
	s.run = insertRun{}
	sql := run.rel.insertSQL(run.cols, run.rows)
	// Prepared only for one row and full runs: the other sizes vary.
	return s.queue(ctx, sql, run.vals, stmtInsert, run.rows == 1 || run.rows == maxInsertRows, run.rel)
}

// queue adds a statement to the open pipeline, ending the pipeline when it
// holds many. A prepared statement is recorded as its table's (rel's; nil
// for none), so that a new shape of the table drops it.
func (s *session) queue(ctx context.Context, sql string, vals [][]byte, kind stmtKind, prepare bool, rel *relation) error {
	pipe := s.pipeline(ctx)
	owner := ""
	if rel != nil {
		owner = rel.target
	}
	name, ok := s.stmts[sql]
	if !ok && prepare && len(s.stmts) < maxPrepared {
		s.prepared++
		name = "dr_stream_" + strconv.Itoa(s.prepared)
		pipe.SendPrepare(name, sql, nil)
		s.batchKinds = append(s.batchKinds, stmtPrepare)
		s.stmts[sql] = name
		if owner != "" {
			s.stmtsOf[owner] = append(s.stmtsOf[owner], sql)
		}
		ok = true
	}
	if ok {
		pipe.SendQueryPrepared(name, vals, nil, nil)
	} else {
		pipe.SendQueryParams(sql, vals, nil, nil, nil)
	}
	if kind == stmtNoRows {
		s.noRows[len(s.batchKinds)] = rel
	}
	s.batchKinds = append(s.batchKinds, kind)
	for _, v := range vals {
		s.batchBytes += len(v)
	}
	if len(s.batchKinds) >= maxBatchStatements || s.batchBytes >= maxBatchBytes {
		return s.sendBatch(ctx)
	}
	return nil
}

// sendBatch ends the statements queued with a Sync, sends them and reads
// every result sent so far: afterwards no pipeline is open.
func (s *session) sendBatch(ctx context.Context) error {
	if err := s.endSegment(nil); err != nil {
		return err
	}
	return s.settle()
}

// endSegment ends the statements queued since the last Sync with one and
// sends them without reading their results (settle reads them); g is the
// group their COMMIT ends, nil when they are part of a group.
func (s *session) endSegment(g *groupEnd) error {
	if s.pipe == nil || len(s.batchKinds) == 0 {
		return nil
	}
	seg := segment{kinds: s.batchKinds, noRows: s.noRows, group: g}
	s.batchKinds = nil
	s.batchBytes = 0
	if len(s.noRows) > 0 {
		s.noRows = map[int]*relation{}
	}
	s.a.update(func(st *Stats) { st.Statements += int64(len(seg.kinds)); st.Batches++ })
	if err := s.pipe.Sync(); err != nil {
		s.abandon()
		return fmt.Errorf("target: apply: %w", err)
	}
	s.flight = append(s.flight, seg)
	return nil
}

// settle reads the results of every segment sent, oldest first, and counts
// the groups they committed. The pipeline is closed when nothing else is
// queued on it. On an error the target connection is closed: nothing sent
// after the failed statement commits (no COMMIT is sent while an earlier
// group's result is unread, see commitGroup).
func (s *session) settle() error {
	for len(s.flight) > 0 {
		seg := s.flight[0]
		s.flight = s.flight[1:]
		if err := s.readSegment(seg); err != nil {
			s.abandon()
			return fmt.Errorf("target: apply: %w", err)
		}
		if seg.group != nil {
			s.groupCommitted(seg.group)
		}
	}
	if s.pipe != nil && len(s.batchKinds) == 0 {
		pipe := s.pipe
		s.pipe = nil
		if err := pipe.Close(); err != nil {
			return fmt.Errorf("target: apply: %w", err)
		}
	}
	return nil
}

// readSegment reads and checks the results of one segment, up to its Sync.
func (s *session) readSegment(seg segment) error {
	for i, kind := range seg.kinds {
		res, err := s.pipe.GetResults()
		if err == nil && res == nil {
			err = fmt.Errorf("result %d of %d missing", i+1, len(seg.kinds))
		}
		if err != nil {
			return err
		}
		rr, ok := res.(*pgconn.ResultReader)
		if !ok {
			if kind != stmtPrepare {
				return fmt.Errorf("unexpected result %T for statement %d", res, i+1)
			}
			continue
		}
		tag, err := rr.Close()
		if err != nil {
			return err
		}
		switch {
		case kind == stmtRow && tag.RowsAffected() == 0:
			s.missing++
		case kind == stmtNoRows && tag.RowsAffected() > 0:
			return movedInError(seg.noRows[i])
		}
	}
	res, err := s.pipe.GetResults()
	if err != nil {
		return err
	}
	if _, ok := res.(*pgconn.PipelineSync); !ok {
		return fmt.Errorf("unexpected result %T at the end of the pipeline", res)
	}
	return nil
}

// abandon closes the target connection after an error: the open target
// transaction rolls back, and the session ends (the next one resumes from
// the progress table).
func (s *session) abandon() {
	s.flight = nil
	s.batchKinds = nil
	s.batchBytes = 0
	s.missing = 0
	_ = s.dst.PgConn().Conn().Close()
	if s.pipe != nil {
		_ = s.pipe.Close()
		s.pipe = nil
	}
}

// commitGroup records the group's last source commit in the progress
// table and sends the target's COMMIT without waiting for it: the next
// group is received and sent meanwhile. The previous group's results are
// read first, so a group's COMMIT is sent only once every earlier group
// committed (an error there closes the connection, and this group rolls
// back with it).
func (s *session) commitGroup(ctx context.Context) error {
	if !s.inGroup {
		return nil
	}
	if err := s.flushRun(ctx); err != nil {
		return err
	}
	if err := s.settle(); err != nil {
		return err
	}
	var commitTime []byte
	if !s.groupCommitTime.IsZero() {
		commitTime = []byte(s.groupCommitTime.UTC().Format(time.RFC3339Nano))
	}
	if err := s.queue(ctx, progressUpsert, [][]byte{
		[]byte(s.a.cfg.Replication), lsnText(s.applied), commitTime, int64Text(s.groupRows),
	}, stmtOther, true, nil); err != nil {
		return err
	}
	s.pipeline(ctx).SendQueryParams("COMMIT", nil, nil, nil, nil)
	s.batchKinds = append(s.batchKinds, stmtOther)
	g := &groupEnd{applied: s.applied, rows: s.groupRows, txns: s.groupTxns, at: s.groupCommitTime}
	if err := s.endSegment(g); err != nil {
		return err
	}
	s.inGroup = false
	return nil
}

// groupCommitted counts a group whose COMMIT succeeded.
func (s *session) groupCommitted(g *groupEnd) {
	s.committed = max(s.committed, g.applied)
	if !s.inGroup {
		// Transactions that wrote nothing since the group are done too.
		s.committed = max(s.committed, s.applied)
	}
	missing := s.missing
	s.missing = 0
	idle := s.idle()
	s.a.update(func(st *Stats) {
		st.AppliedLSN = s.committed
		st.ReceivedLSN = max(st.ReceivedLSN, s.received)
		st.Idle = idle
		st.Rows += g.rows
		st.Transactions += g.txns
		st.MissingRows += missing
		if !g.at.IsZero() {
			st.LastCommitTime = g.at
		}
	})
}

// idle reports whether everything received has been committed on the
// target: no source transaction or group open, no COMMIT unread.
func (s *session) idle() bool {
	return !s.inTx && !s.inGroup && len(s.flight) == 0
}

// sameInts reports whether a and b hold the same values.
func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// firstWords shortens a statement for an error message.
func firstWords(sql string) string {
	if len(sql) > 80 {
		return sql[:80] + "…"
	}
	return sql
}
