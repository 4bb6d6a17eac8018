package streamapply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

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
	// idleCheck is how long the loop waits for more changes before it
	// commits an open group: at the tip of the stream a transaction
	// commits about a round trip after it arrives, and what arrives
	// during one commit makes the next group (a burst, a catch-up).
	idleCheck = 200 * time.Microsecond
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

	// pipe is the pipeline the groups' statements are sent on as they
	// are queued (nil when none is open); batchKinds says what the result
	// of each statement sent since the last Sync means, and flight holds
	// the segments ended by a Sync whose results are not read yet (at
	// most one group's COMMIT among them).
	pipe       *pgconn.Pipeline
	batchKinds []stmtKind
	batchBytes int
	flight     []segment
	missing    int64 // rows not found, read since the last group committed
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
	stmtOther   stmtKind = iota
	stmtRow              // an UPDATE or DELETE of one row: 0 rows is a missing row
	stmtInsert           // rows inserted
	stmtNoRows           // must return no row (see movedInError)
	stmtPrepare          // a statement prepared in the pipeline
)

// segment is statements sent on the pipeline and ended by a Sync.
type segment struct {
	kinds  []stmtKind
	noRows map[int]*relation
	// group is the group whose COMMIT the segment ends (nil for a part
	// of a group).
	group *groupEnd
}

// groupEnd is a group whose COMMIT was sent: what it counts once the
// COMMIT's result is read.
type groupEnd struct {
	applied    pglogrepl.LSN
	rows, txns int64
	at         time.Time
}

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
	// Receives wait until the connection's read deadline, not a context
	// per message (a context with a deadline and its watch took a fifth
	// of the CPU in a catch-up): cancelling ctx moves the deadline to now.
	conn := s.repl.Conn()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer func() {
		if stop() {
			_ = conn.SetReadDeadline(time.Time{})
		}
	}()
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
		deadline := nextStatus
		if s.committed != s.reported {
			deadline = lastStatus.Add(feedbackEvery)
		}
		if !s.inTx && (s.inGroup || len(s.flight) > 0) {
			// A group is open: commit it as soon as nothing more is
			// waiting. The read still takes what the kernel holds
			// already (the deadline is checked only when the socket is
			// empty), and the group keeps taking changes while they
			// keep coming. A COMMIT sent is read the same way: while
			// changes keep coming, the next group's commit reads it.
			deadline = time.Now().Add(max(s.a.idleWait, idleCheck))
		}
		if err := conn.SetReadDeadline(deadline); err != nil {
			return fmt.Errorf("source: set read deadline: %w", err)
		}
		// Checked after setting the deadline: a cancel from here on
		// moves it to now.
		if ctx.Err() != nil {
			return ctx.Err()
		}
		raw, err := s.repl.ReceiveMessage(context.Background())
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) {
				if !s.inTx && s.inGroup {
					if err := s.commitGroup(ctx); err != nil {
						return err
					}
				} else if !s.inTx && len(s.flight) > 0 {
					if err := s.settle(); err != nil {
						return err
					}
				}
				continue
			}
			return fmt.Errorf("source: receive: %w", err)
		}
		switch msg := raw.(type) {
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("source: %w", pgconn.ErrorResponseToPgError(msg))
		case *pgproto3.CopyData:
			if len(msg.Data) == 0 {
				continue
			}
			switch msg.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("source: keepalive: %w", err)
				}
				s.serverEnd = max(s.serverEnd, ka.ServerWALEnd)
				idle := s.idle()
				s.a.update(func(st *Stats) { st.SourceLSN = max(st.SourceLSN, s.serverEnd); st.Idle = idle })
				if ka.ReplyRequested {
					lastStatus = time.Now()
					if err := s.sendStatus(ctx); err != nil {
						return err
					}
					nextStatus = time.Now().Add(s.a.cfg.StatusInterval)
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("source: %w", err)
				}
				s.received = max(s.received, xld.WALStart)
				// The message's buffer is reused by the next receive.
				if err := s.handle(ctx, append([]byte(nil), xld.WALData...)); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("source: unexpected message %T while streaming", raw)
		}
	}
}

// sendStatus reports the positions to the source: flushed and applied is
// what the target committed; when nothing is pending (no open source
// transaction or group, no COMMIT unread), the source's own position, so
// that the slot also moves past changes that were not for this
// replication.
func (s *session) sendStatus(ctx context.Context) error {
	flushed := s.committed
	idle := s.idle()
	if idle {
		flushed = max(flushed, s.serverEnd, s.received)
	}
	written := max(s.received, flushed)
	if s.a.holdFeedback {
		flushed, written = 0, 0
	}
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
