package snapshot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrSlotExists is wrapped by CreateSlotWithSnapshot's error when a
// replication slot of that name already exists on the source.
var ErrSlotExists = errors.New("replication slot already exists")

// ErrLost is wrapped by the error of operations that import an
// exported snapshot (CopyTable, Xmin) when the snapshot no longer
// exists: the connection or transaction that exported it has ended. The
// tables not yet copied inside it must be handled another way (re-copy the
// database with a new slot, or hand them to native table sync).
var ErrLost = errors.New("exported snapshot no longer exists")

// slotNameRE is what PostgreSQL accepts as a replication slot name.
var slotNameRE = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// ValidateSlotName reports whether name is a valid replication slot name
// (lower-case letters, digits and underscores, at most 63 characters).
func ValidateSlotName(name string) error {
	if !slotNameRE.MatchString(name) {
		return fmt.Errorf("invalid replication slot name %q: use only lower-case letters, digits and underscores, at most 63 characters", name)
	}
	return nil
}

// ExportedSlot is a logical replication slot created on a replication
// connection that stays open, so that its exported snapshot stays usable.
//
// The snapshot shows the database exactly as of the slot's consistent
// point: data copied inside it (CopyRequest.Snapshot = SnapshotName) plus
// the changes the slot streams from ConsistentPoint on contain every row
// once. The snapshot is valid until Close; the replication connection must
// run no other command meanwhile, so ExportedSlot exposes none.
type ExportedSlot struct {
	Name            string // slot name
	SnapshotName    string // for SET TRANSACTION SNAPSHOT
	ConsistentPoint string // LSN text, e.g. "0/1A2B3C8"
	OutputPlugin    string // "pgoutput"

	conn *pgconn.PgConn // the replication connection holding the snapshot
}

// replicationConnect opens a replication=database connection to info's
// database.
func replicationConnect(ctx context.Context, info conninfo.Info) (*pgconn.PgConn, error) {
	cfg, err := info.ConnConfig()
	if err != nil {
		return nil, err
	}
	pc := cfg.Config.Copy()
	if pc.RuntimeParams == nil {
		pc.RuntimeParams = map[string]string{}
	}
	pc.RuntimeParams["replication"] = "database"
	if pc.RuntimeParams["application_name"] == "" {
		// The source's pg_stat_replication and log name the tool.
		pc.RuntimeParams["application_name"] = "database-replicator"
	}
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && pgErr.Code == "42501":
			return nil, fmt.Errorf("open replication connection to %s: role %q may not start a replication connection (%s): grant it with ALTER ROLE %s REPLICATION (on managed services, the provider's replication role or setting)",
				info.Address(), info.User(), pgErr.Message, roleIdent(info.User()))
		case errors.As(err, &pgErr) && pgErr.Code == "53300" && strings.Contains(pgErr.Message, "max_wal_senders"):
			return nil, fmt.Errorf("open replication connection to %s: %s: raise max_wal_senders on the source (needs a restart) or end idle replication connections", info.Address(), pgErr.Message)
		}
		return nil, fmt.Errorf("open replication connection: %w", conninfo.ClassifyConnectError(info, err))
	}
	return conn, nil
}

// CreateSlotWithSnapshot opens a replication connection (replication=database)
// to info's database and creates the logical slot with the pgoutput plugin,
// exporting a snapshot (CREATE_REPLICATION_SLOT slot LOGICAL pgoutput
// EXPORT_SNAPSHOT, which is (SNAPSHOT 'export')). The slot is permanent;
// the snapshot is valid until Close.
//
// Creating the slot waits for transactions running on the source to end
// (that is how PostgreSQL finds a consistent point), so a long-running
// transaction on the source delays it.
//
// Errors name the fix: wal_level not logical, a role without the
// REPLICATION privilege, a slot of that name already existing (wraps
// ErrSlotExists), max_replication_slots or max_wal_senders exhausted.
func CreateSlotWithSnapshot(ctx context.Context, info conninfo.Info, slot string) (*ExportedSlot, error) {
	return createSlot(ctx, info, slot, false)
}

// CreateTemporarySlotWithSnapshot is CreateSlotWithSnapshot for a
// TEMPORARY slot: the server drops it when Close ends the connection. Its
// ConsistentPoint splits the source's transactions exactly: those whose
// commit record lies before it are visible in the exported snapshot, the
// others are not (the stream engine's resumed snapshot relies on this).
func CreateTemporarySlotWithSnapshot(ctx context.Context, info conninfo.Info, slot string) (*ExportedSlot, error) {
	return createSlot(ctx, info, slot, true)
}

// createSlot creates a permanent or temporary slot with an exported
// snapshot.
func createSlot(ctx context.Context, info conninfo.Info, slot string, temporary bool) (*ExportedSlot, error) {
	if err := ValidateSlotName(slot); err != nil {
		return nil, err
	}
	conn, err := replicationConnect(ctx, info)
	if err != nil {
		return nil, fmt.Errorf("create replication slot %q: %w", slot, err)
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, conn, slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{
		Mode:           pglogrepl.LogicalReplication,
		SnapshotAction: "EXPORT_SNAPSHOT",
		Temporary:      temporary,
	})
	if err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("create replication slot %q in database %q: %w", slot, info.Database(), explainSlotError(info, slot, err))
	}
	if res.SnapshotName == "" {
		conn.Close(context.Background())
		return nil, fmt.Errorf("create replication slot %q: the server exported no snapshot", slot)
	}
	return &ExportedSlot{
		Name:            res.SlotName,
		SnapshotName:    res.SnapshotName,
		ConsistentPoint: res.ConsistentPoint,
		OutputPlugin:    res.OutputPlugin,
		conn:            conn,
	}, nil
}

// slotError is an error whose message names the fix and that keeps the
// server's error (and a sentinel) reachable through errors.Is/As.
type slotError struct {
	msg      string
	sentinel error
	err      error
}

func (e *slotError) Error() string { return e.msg }

func (e *slotError) Unwrap() []error {
	if e.sentinel != nil {
		return []error{e.sentinel, e.err}
	}
	return []error{e.err}
}

// explainSlotError adds the fix to CREATE_REPLICATION_SLOT's errors.
func explainSlotError(info conninfo.Info, slot string, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch {
	case pgErr.Code == "42710":
		return &slotError{
			msg:      fmt.Sprintf("replication slot %q already exists on the source: drop it (SELECT pg_drop_replication_slot('%s')) if it is a leftover, or use another slot name", slot, slot),
			sentinel: ErrSlotExists, err: err,
		}
	case pgErr.Code == "53400" || strings.Contains(pgErr.Message, "replication slots are in use"):
		return &slotError{
			msg: "all replication slots are in use (max_replication_slots exhausted): drop unused slots (see pg_replication_slots) or raise max_replication_slots on the source and restart it",
			err: err,
		}
	case strings.Contains(pgErr.Message, "wal_level"):
		return &slotError{
			msg: fmt.Sprintf("the source's wal_level is not logical (%s): run ALTER SYSTEM SET wal_level = logical and restart the server (on managed services, enable logical replication in the provider's settings), or use the xmin sync method", pgErr.Message),
			err: err,
		}
	case pgErr.Code == "42501":
		return &slotError{
			msg: fmt.Sprintf("permission denied (%s): ALTER ROLE %s REPLICATION", pgErr.Message, roleIdent(info.User())),
			err: err,
		}
	}
	return err
}

// Close closes the replication connection: the exported snapshot ends, the
// slot stays (drop it with DropSlot). The server ends the snapshot when its
// walsender process exits, which can be a moment after Close returns.
func (s *ExportedSlot) Close(ctx context.Context) error {
	if s == nil || s.conn == nil {
		return nil
	}
	conn := s.conn
	s.conn = nil
	if err := conn.Close(ctx); err != nil {
		return fmt.Errorf("close replication connection of slot %q: %w", s.Name, err)
	}
	return nil
}

// Alive reports whether the replication connection holding the snapshot is
// still open (a dead connection means the snapshot is lost).
func (s *ExportedSlot) Alive() bool {
	return s != nil && s.conn != nil && !s.conn.IsClosed()
}

// slotReleaseWait bounds how long DropSlot waits for a slot in use to be
// released: the session of a killed apply (its exported snapshot's
// replication connection) ends on its own once the server notices the
// closed socket, which can take a moment on a loaded server.
const slotReleaseWait = 15 * time.Second

// DropSlot drops replication slot slot on info's server
// (pg_drop_replication_slot); a slot that does not exist is not an error.
// A slot in use is waited for (slotReleaseWait); one still in use then is
// an error that says so.
func DropSlot(ctx context.Context, info conninfo.Info, slot string) error {
	conn, err := conninfo.Connect(ctx, info)
	if err != nil {
		return fmt.Errorf("drop replication slot %q: %w", slot, err)
	}
	defer conn.Close(context.Background())
	deadline := time.Now().Add(slotReleaseWait)
	for {
		var n int
		err = conn.QueryRow(ctx, `SELECT count(pg_drop_replication_slot(slot_name))::int
			FROM pg_catalog.pg_replication_slots WHERE slot_name = $1`, slot).Scan(&n)
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &pgErr) && pgErr.Code == "42704": // dropped concurrently
			return nil
		case errors.As(err, &pgErr) && pgErr.Code == "55006":
			if time.Now().After(deadline) {
				return fmt.Errorf("drop replication slot %q: it is in use (%s) after waiting %s: stop the subscription or connection using it first", slot, pgErr.Message, slotReleaseWait)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("drop replication slot %q: %w", slot, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		default:
			return fmt.Errorf("drop replication slot %q: %w", slot, err)
		}
	}
}

// Held is a snapshot exported by pg_export_snapshot() from a
// REPEATABLE READ transaction that is held open until Close (the xmin
// sync method's starting point; no slot).
type Held struct {
	Name string // for SET TRANSACTION SNAPSHOT
	// Xmin is the snapshot's xmin with epoch (64-bit, never wraps): every
	// transaction below it had ended when the snapshot was taken.
	Xmin uint64

	conn *pgx.Conn
	tx   pgx.Tx
}

// Export opens a connection to info's database, begins a
// REPEATABLE READ transaction, exports its snapshot and reports its name
// and xmin. The snapshot is held until Close.
func Export(ctx context.Context, info conninfo.Info) (*Held, error) {
	conn, err := conninfo.Connect(ctx, info)
	if err != nil {
		return nil, fmt.Errorf("export snapshot: %w", err)
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("export snapshot: begin: %w", err)
	}
	var name string
	if err := tx.QueryRow(ctx, "SELECT pg_catalog.pg_export_snapshot()").Scan(&name); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("export snapshot: %w", err)
	}
	xmin, err := currentSnapshotXmin(ctx, tx)
	if err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("export snapshot: %w", err)
	}
	return &Held{Name: name, Xmin: xmin, conn: conn, tx: tx}, nil
}

// Close ends the exporting transaction and its connection; the snapshot
// can no longer be imported.
func (h *Held) Close(ctx context.Context) error {
	if h == nil || h.conn == nil {
		return nil
	}
	conn := h.conn
	h.conn = nil
	_ = h.tx.Rollback(ctx)
	if err := conn.Close(ctx); err != nil {
		return fmt.Errorf("close snapshot %s: %w", h.Name, err)
	}
	return nil
}

// Xmin returns the xmin watermark, with epoch, of exported snapshot
// snapshot: conn begins a REPEATABLE READ READ ONLY transaction, sets it to
// the snapshot, reads the xmin and ends the transaction. It wraps
// ErrLost when the snapshot no longer exists.
func Xmin(ctx context.Context, conn *pgx.Conn, snapshot string) (uint64, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, fmt.Errorf("snapshot xmin: begin: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // read only
	if err := Import(ctx, tx, snapshot); err != nil {
		return 0, fmt.Errorf("snapshot xmin: %w", err)
	}
	xmin, err := currentSnapshotXmin(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("snapshot xmin: %w", err)
	}
	return xmin, nil
}

// currentSnapshotXmin reads the 64-bit xmin of the transaction's snapshot.
func currentSnapshotXmin(ctx context.Context, tx pgx.Tx) (uint64, error) {
	xmin, _, err := Bounds(ctx, tx)
	return xmin, err
}

// Bounds reads the 64-bit (epoch-qualified) xmin and xmax of the
// transaction's snapshot: every transaction below xmin had ended, none at
// or above xmax had started. pg_current_snapshot() on PostgreSQL 13+,
// txid_current_snapshot() before.
func Bounds(ctx context.Context, tx pgx.Tx) (xmin, xmax uint64, err error) {
	num, err := conninfo.ServerVersionNum(ctx, tx.Conn())
	if err != nil {
		return 0, 0, err
	}
	q := "SELECT pg_catalog.pg_snapshot_xmin(s)::text, pg_catalog.pg_snapshot_xmax(s)::text FROM pg_catalog.pg_current_snapshot() s"
	if num < 130000 {
		q = "SELECT pg_catalog.txid_snapshot_xmin(s)::text, pg_catalog.txid_snapshot_xmax(s)::text FROM pg_catalog.txid_current_snapshot() s"
	}
	var lo, hi string
	if err := tx.QueryRow(ctx, q).Scan(&lo, &hi); err != nil {
		return 0, 0, fmt.Errorf("snapshot bounds: %w", err)
	}
	if xmin, err = strconv.ParseUint(lo, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("snapshot xmin %q: %w", lo, err)
	}
	if xmax, err = strconv.ParseUint(hi, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("snapshot xmax %q: %w", hi, err)
	}
	return xmin, xmax, nil
}

// Import sets tx (REPEATABLE READ or SERIALIZABLE, no query run yet) to
// exported snapshot name; the error wraps ErrLost when the snapshot no
// longer exists.
func Import(ctx context.Context, tx pgx.Tx, name string) error {
	_, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT "+conninfo.QuoteLiteral(name))
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "22023" && strings.Contains(pgErr.Message, "snapshot") {
			return &slotError{
				msg:      fmt.Sprintf("set transaction snapshot %s: %s: the snapshot no longer exists (the slot's replication connection or the exporting transaction ended); re-copy with a new snapshot", name, pgErr.Message),
				sentinel: ErrLost, err: err,
			}
		}
		return fmt.Errorf("set transaction snapshot %s: %w", name, err)
	}
	return nil
}

// roleIdent quotes a role name for a hint, only when it needs quoting.
func roleIdent(name string) string {
	if plainIdentRE.MatchString(name) {
		return name
	}
	return pgx.Identifier{name}.Sanitize()
}

var plainIdentRE = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// WAL page header sizes (64-bit servers): a segment's first page has the
// long header, every other page the short one.
const (
	walShortPageHeader = 24
	walLongPageHeader  = 40
)

// CommittedLSN returns the server's WAL position just past the last
// record inserted: at or after the commit record of every transaction
// committed before the call, those committed with synchronous_commit off
// included. pg_current_wal_lsn() is the write position and can be behind
// such commits, so a drain to it could stop before them. When the last
// record ends exactly at a page boundary the insert position points past
// the next page's header, which no record will end at until more is
// written: the boundary is returned instead.
func CommittedLSN(ctx context.Context, conn *pgx.Conn) (pglogrepl.LSN, error) {
	var text string
	var block, segment int64
	if err := conn.QueryRow(ctx, `SELECT pg_catalog.pg_current_wal_insert_lsn()::text,
		pg_catalog.current_setting('wal_block_size')::int8,
		pg_catalog.pg_size_bytes(pg_catalog.current_setting('wal_segment_size'))`).Scan(&text, &block, &segment); err != nil {
		return 0, fmt.Errorf("read the WAL insert position: %w", err)
	}
	lsn, err := pglogrepl.ParseLSN(text)
	if err != nil {
		return 0, fmt.Errorf("read the WAL insert position: %w", err)
	}
	return pageStart(lsn, block, segment), nil
}

// pageStart moves an insert position that sits right after a page header
// back to the page boundary (the end of the record before it).
func pageStart(lsn pglogrepl.LSN, block, segment int64) pglogrepl.LSN {
	switch {
	case segment > 0 && uint64(lsn)%uint64(segment) == walLongPageHeader:
		return lsn - walLongPageHeader
	case block > 0 && uint64(lsn)%uint64(block) == walShortPageHeader:
		return lsn - walShortPageHeader
	}
	return lsn
}
