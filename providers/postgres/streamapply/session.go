package streamapply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
)

// Limits of one pending batch and one multi-row INSERT.
const (
	maxBatchStatements = 1000
	maxBatchBytes      = 8 << 20
	maxInsertRows      = 200
	maxInsertParams    = 30000
	maxPrepared        = 2000
	// feedbackEvery is the least time between two status updates sent
	// because the target committed more.
	feedbackEvery = 100 * time.Millisecond
)

// session is one pair of connections: a replication connection to the
// source and an ordinary one to the target.
type session struct {
	a    *Applier
	dst  *pgx.Conn
	repl *pgconn.PgConn
	v2   bool

	rels  map[uint32]*relation
	stmts map[string]string // SQL -> prepared statement name
	// stmtsOf lists the prepared statements of each quoted target table;
	// prepared counts the statements prepared (for their names).
	stmtsOf  map[string][]string
	prepared int

	// applied is the end LSN of the last source transaction applied
	// (committed or in the open group); committed the last the target
	// committed; received the last WAL position received; serverEnd the
	// source's position from its keepalives.
	applied, committed, received, serverEnd pglogrepl.LSN
	// reported is the committed position last reported to the source.
	reported pglogrepl.LSN

	// The open source transaction (between Begin and Commit).
	inTx     bool
	skipping bool
	// txDDL is set when the open transaction wrote Config.DDLLog.
	txDDL bool
	// txLSN is the open transaction's commit record LSN; starts are the
	// tables copied in a newer snapshot than the slot's, and the commit
	// LSN from which their changes are applied.
	txLSN  pglogrepl.LSN
	starts map[TableName]pglogrepl.LSN
	// filters are the row filters the applier applies, by source table
	// (sources before PostgreSQL 15).
	filters map[TableName]string

	// The open target transaction: a group of whole source transactions.
	inGroup         bool
	groupStart      time.Time
	groupChanges    int
	groupRows       int64
	groupTxns       int64
	groupCommitTime time.Time

	batch      *pgconn.Batch
	batchKinds []stmtKind
	batchBytes int
	missing    int64 // rows not found by the statements sent so far
	// noRows are the relations of the pending stmtNoRows statements, by
	// their index in the batch.
	noRows map[int]*relation

	run insertRun

	// Streamed in-progress transactions (protocol version 2).
	inStream  bool
	streamXid uint32
	spools    map[uint32]*spool
}

// stmtKind says what a queued statement's row count means.
type stmtKind uint8

const (
	stmtOther  stmtKind = iota
	stmtRow             // an UPDATE or DELETE of one row: 0 rows is a missing row
	stmtInsert          // rows inserted
	stmtNoRows          // must return no row (see movedInError)
)

// insertRun is a run of consecutive inserts into one relation with the
// same columns, sent as one multi-row INSERT.
type insertRun struct {
	rel  *relation
	cols []int
	rows int
	vals [][]byte
}

// session connects both sides, streams from the target's stored position
// and applies until an error or ctx ends.
func (a *Applier) session(ctx context.Context) error {
	dst, err := a.connectTarget(ctx)
	if err != nil {
		return err
	}
	defer dst.Close(context.Background())
	if err := EnsureProgressTable(ctx, dst); err != nil {
		return err
	}
	p, _, err := ReadProgress(ctx, dst, a.cfg.Replication)
	if err != nil {
		return err
	}
	starts, err := ReadTableStarts(ctx, dst, a.cfg.Replication)
	if err != nil {
		return err
	}
	filters, err := ReadTableFilters(ctx, dst, a.cfg.Replication)
	if err != nil {
		return err
	}
	repl, err := a.connectSource(ctx)
	if err != nil {
		return err
	}
	defer repl.Close(context.Background())
	num := serverVersionNum(repl.ParameterStatus("server_version"))
	s := &session{
		a: a, dst: dst, repl: repl, v2: num >= 140000,
		rels: map[uint32]*relation{}, stmts: map[string]string{}, stmtsOf: map[string][]string{}, spools: map[uint32]*spool{}, starts: starts,
		filters: filters, noRows: map[int]*relation{},
		applied: p.AppliedLSN, committed: p.AppliedLSN, received: p.AppliedLSN,
		batch: &pgconn.Batch{},
	}
	defer s.closeSpools()
	start := p.AppliedLSN
	if a.startAtSlot {
		start = 0
	}
	if err := pglogrepl.StartReplication(ctx, repl, a.cfg.Slot, start, pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication, PluginArgs: a.startOptions(num),
	}); err != nil {
		return fmt.Errorf("source: start streaming from slot %q at %s: %w", a.cfg.Slot, p.AppliedLSN, err)
	}
	a.update(func(st *Stats) {
		st.Connected = true
		st.AppliedLSN = p.AppliedLSN
		if p.SourceCommitTime != nil && st.LastCommitTime.IsZero() {
			st.LastCommitTime = *p.SourceCommitTime
		}
	})
	a.log.Info("stream apply: streaming", "replication", a.cfg.Replication, "slot", a.cfg.Slot, "from", p.AppliedLSN.String())
	return s.loop(ctx)
}

// connectSource opens the replication connection to the source database.
func (a *Applier) connectSource(ctx context.Context) (*pgconn.PgConn, error) {
	cfg, err := a.cfg.Source.ConnConfig()
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	pc := cfg.Config.Copy()
	if pc.RuntimeParams == nil {
		pc.RuntimeParams = map[string]string{}
	}
	for k, v := range sessionSettings {
		pc.RuntimeParams[k] = v
	}
	pc.RuntimeParams["replication"] = "database"
	pc.RuntimeParams["application_name"] = "database-replicator stream " + a.cfg.Replication
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			return nil, fmt.Errorf("source: open replication connection to %s: role %q may not start a replication connection (%s): grant it with ALTER ROLE ... REPLICATION",
				a.cfg.Source.Address(), a.cfg.Source.User(), pgErr.Message)
		}
		return nil, fmt.Errorf("source: open replication connection: %w", conninfo.ClassifyConnectError(a.cfg.Source, err))
	}
	return conn, nil
}

// loop receives and applies messages.
func (s *session) loop(ctx context.Context) error {
	nextStatus := time.Now().Add(s.a.cfg.StatusInterval)
	var lastStatus time.Time
	rc := startReceiver(ctx, s.repl)
	defer rc.stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// The status goes out every StatusInterval, and soon after the
		// target committed more (as PostgreSQL's own apply does), so that
		// the slot's confirmed position, and status's lag, follow the
		// target closely.
		if time.Now().After(nextStatus) || s.committed != s.reported && time.Since(lastStatus) >= feedbackEvery {
			lastStatus = time.Now()
			if err := s.sendStatus(ctx); err != nil {
				return err
			}
			nextStatus = time.Now().Add(s.a.cfg.StatusInterval)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var it received
		select {
		case it = <-rc.msgs:
		default:
			// Nothing more is waiting: an open group commits now (or
			// after idleWait, when set), so that at the tip of the stream
			// a transaction is committed on the target about a round trip
			// after it arrives; while changes keep coming, the group
			// keeps taking them (what arrives during one commit makes the
			// next group).
			if s.inGroup && !s.inTx && s.a.idleWait == 0 {
				if err := s.commitGroup(ctx); err != nil {
					return err
				}
				continue
			}
			deadline := nextStatus
			if s.committed != s.reported {
				deadline = lastStatus.Add(feedbackEvery)
			}
			if s.inGroup && !s.inTx {
				deadline = time.Now().Add(s.a.idleWait)
			}
			timer.Reset(time.Until(deadline))
			select {
			case it = <-rc.msgs:
				timer.Stop() // (Go 1.23: no stale tick is received after Stop)
			case <-timer.C:
				if s.inGroup && !s.inTx {
					if err := s.commitGroup(ctx); err != nil {
						return err
					}
				}
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if it.err != nil {
			return it.err
		}
		if err := s.message(ctx, it.data, &lastStatus, &nextStatus); err != nil {
			return err
		}
	}
}

// message handles one CopyData payload of the replication stream: a
// keepalive or WAL data.
func (s *session) message(ctx context.Context, data []byte, lastStatus, nextStatus *time.Time) error {
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("source: keepalive: %w", err)
		}
		s.serverEnd = max(s.serverEnd, ka.ServerWALEnd)
		idle := !s.inTx && !s.inGroup
		s.a.update(func(st *Stats) { st.SourceLSN = max(st.SourceLSN, s.serverEnd); st.Idle = idle })
		if ka.ReplyRequested {
			*lastStatus = time.Now()
			if err := s.sendStatus(ctx); err != nil {
				return err
			}
			*nextStatus = time.Now().Add(s.a.cfg.StatusInterval)
		}
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		s.received = max(s.received, xld.WALStart)
		// The payload is the receiver's copy, not reused.
		if err := s.handle(ctx, xld.WALData); err != nil {
			return err
		}
	}
	return nil
}

// sendStatus reports the positions to the source: flushed and applied is
// what the target committed; when nothing is pending (no open source
// transaction or group), the source's own position, so that the slot also
// moves past changes that were not for this replication.
func (s *session) sendStatus(ctx context.Context) error {
	flushed := s.committed
	if !s.inTx && !s.inGroup {
		flushed = max(flushed, s.serverEnd, s.received)
	}
	written := max(s.received, flushed)
	if s.a.holdFeedback {
		flushed, written = 0, 0
	}
	idle := !s.inTx && !s.inGroup
	s.a.update(func(st *Stats) {
		st.ReceivedLSN = max(st.ReceivedLSN, s.received)
		st.SourceLSN = max(st.SourceLSN, s.serverEnd)
		st.Idle = idle
	})
	err := pglogrepl.SendStandbyStatusUpdate(ctx, s.repl, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: written, WALFlushPosition: flushed, WALApplyPosition: flushed,
	})
	if err != nil {
		return fmt.Errorf("source: send status: %w", err)
	}
	s.reported = s.committed
	return nil
}

// closeSpools removes the files of streamed transactions not finished.
func (s *session) closeSpools() {
	for xid, sp := range s.spools {
		sp.close()
		delete(s.spools, xid)
	}
}
