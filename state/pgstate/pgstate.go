// Package pgstate is the state backend that keeps the state in a
// PostgreSQL database (state { backend = "postgres" }). It lives apart from
// package state so that the state model, and the executor that records
// into it, do not link the PostgreSQL driver.
package pgstate

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"

	"github.com/database-replicator/database-replicator/state"
	"github.com/jackc/pgx/v5"
)

// pgStateName is the row of <schema>.state (and <schema>.state_lock) this
// backend uses; the name column leaves room for several states per schema.
const pgStateName = "default"

// Backend stores the state as a row of <schema>.state in a PostgreSQL
// database and locks it with a session-level advisory lock, recording the
// holder in <schema>.state_lock. Checkpoints between whole writes are rows
// of <schema>.state_journal, folded in by every read and removed by the
// next whole write. The schema and tables are created on the first Lock
// or Write.
type Backend struct {
	connString string
	schema     string
	key        int64 // advisory lock key, derived from the schema name

	mu    sync.Mutex
	ready bool    // schema and tables exist
	held  *pgLock // the lock this instance holds, or nil
}

// pgLock is a held advisory lock: the session that holds it stays open
// until unlock.
type pgLock struct {
	conn       *pgx.Conn
	id         string
	backendPID uint32
}

var _ state.Checkpointer = (*Backend)(nil)

// New returns a backend storing the state in schema of the
// database connString points to. Nothing is contacted until first use.
func New(connString, schema string) *Backend {
	h := fnv.New64a()
	_, _ = h.Write([]byte("database-replicator state lock\x00" + schema))
	return &Backend{connString: connString, schema: schema, key: int64(h.Sum64())}
}

// Describe implements Backend: database, host and table, never the
// password.
func (p *Backend) Describe() string {
	table := pgx.Identifier{p.schema, "state"}.Sanitize()
	cfg, err := pgx.ParseConfig(p.connString)
	if err != nil {
		return "postgres table " + table + " (unparseable connection string)"
	}
	return fmt.Sprintf("postgres table %s in database %s on %s:%d", table, cfg.Database, cfg.Host, cfg.Port)
}

// table returns the quoted name of a table of the backend's schema.
func (p *Backend) table(name string) string { return pgx.Identifier{p.schema, name}.Sanitize() }

// connect opens a new session to the state database.
func (p *Backend) connect(ctx context.Context) (*pgx.Conn, error) {
	if p.schema == "" {
		return nil, errors.New("postgres state backend: empty schema name")
	}
	cfg, err := pgx.ParseConfig(p.connString)
	if err != nil {
		return nil, fmt.Errorf("parse the state backend connection string: %w", err)
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "database-replicator state"
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the state backend: %w", err)
	}
	return conn, nil
}

// tablesExist reports whether the state, state_lock and state_journal
// tables exist.
func (p *Backend) tablesExist(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var ok bool
	err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AND to_regclass($3) IS NOT NULL",
		p.table("state"), p.table("state_lock"), p.table("state_journal")).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look for the state tables: %w", err)
	}
	return ok, nil
}

// ensureTables creates the schema and tables when absent. Concurrent
// creators serialise on a transaction-level advisory lock keyed by two
// int4 values, a key space that never conflicts with the bigint state lock.
func (p *Backend) ensureTables(ctx context.Context, conn *pgx.Conn) error {
	p.mu.Lock()
	ready := p.ready
	p.mu.Unlock()
	if ready {
		return nil
	}
	ok, err := p.tablesExist(ctx, conn)
	if err != nil {
		return err
	}
	if !ok {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			hi, lo := splitKey(p.key)
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1::int4, $2::int4)", int32(hi), int32(lo)); err != nil {
				return err
			}
			for _, stmt := range []string{
				"CREATE SCHEMA IF NOT EXISTS " + pgx.Identifier{p.schema}.Sanitize(),
				"CREATE TABLE IF NOT EXISTS " + p.table("state") + ` (
	name       text PRIMARY KEY,
	lineage    text NOT NULL,
	serial     bigint NOT NULL,
	data       jsonb NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
)`,
				"CREATE TABLE IF NOT EXISTS " + p.table("state_lock") + ` (
	name        text PRIMARY KEY,
	id          text NOT NULL,
	info        jsonb NOT NULL,
	backend_pid integer NOT NULL,
	locked_at   timestamptz NOT NULL DEFAULT now()
)`,
				"CREATE TABLE IF NOT EXISTS " + p.table("state_journal") + ` (
	name   text NOT NULL,
	serial bigint NOT NULL,
	record jsonb NOT NULL,
	PRIMARY KEY (name, serial)
)`,
			} {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("create the state tables in schema %s: %w", pgx.Identifier{p.schema}.Sanitize(), err)
		}
	}
	p.mu.Lock()
	p.ready = true
	p.mu.Unlock()
	return nil
}

// Read implements Backend. It creates nothing: a database without the
// state tables holds the empty state.
func (p *Backend) Read(ctx context.Context) (*state.State, error) {
	s, err := p.read(ctx)
	return s, p.redact(err)
}

func (p *Backend) read(ctx context.Context) (*state.State, error) {
	conn, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", p.table("state")).Scan(&ok); err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("look for the state tables: %w", err)
		}
		return state.New(), err
	}
	var s *state.State
	err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var data string
		err := tx.QueryRow(ctx, "SELECT data::text FROM "+p.table("state")+" WHERE name = $1", pgStateName).Scan(&data)
		if errors.Is(err, pgx.ErrNoRows) {
			s = state.New()
			return nil
		}
		if err != nil {
			return err
		}
		if s, err = state.Decode([]byte(data)); err != nil {
			return err
		}
		// The checkpoints since (a schema from before the journal has
		// none).
		var journal bool
		if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", p.table("state_journal")).Scan(&journal); err != nil || !journal {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT record::text FROM "+p.table("state_journal")+" WHERE name = $1 AND serial > $2 ORDER BY serial",
			pgStateName, int64(s.Serial))
		if err != nil {
			return err
		}
		records, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]byte, error) {
			var rec string
			err := r.Scan(&rec)
			return []byte(rec), err
		})
		if err != nil {
			return err
		}
		return state.ApplyCheckpoints(s, records)
	})
	if err != nil {
		return nil, fmt.Errorf("read state from %s: %w", p.Describe(), err)
	}
	return s, nil
}

// Write implements Backend: in one transaction it locks the state row
// (SELECT ... FOR UPDATE), checks lineage and serial, and stores the
// scrubbed state. It refuses to write while another session holds the
// state lock, or when this instance's lock was lost.
func (p *Backend) Write(ctx context.Context, s *state.State) error {
	return p.redact(p.write(ctx, s))
}

func (p *Backend) write(ctx context.Context, s *state.State) error {
	scrubbed, err := state.Scrub(s)
	if err != nil {
		return fmt.Errorf("write state to %s: %w", p.Describe(), err)
	}
	conn, err := p.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := p.ensureTables(ctx, conn); err != nil {
		return err
	}
	var lineage string
	var serial uint64
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := p.checkLockForWrite(ctx, tx); err != nil {
			return err
		}
		var storedLineage string
		var storedSerial int64
		err := tx.QueryRow(ctx, "SELECT lineage, serial FROM "+p.table("state")+" WHERE name = $1 FOR UPDATE",
			pgStateName).Scan(&storedLineage, &storedSerial)
		exists := !errors.Is(err, pgx.ErrNoRows)
		if err != nil && exists {
			return fmt.Errorf("read the stored serial: %w", err)
		}
		lineage, serial, err = state.CheckWrite(p.Describe(), s, exists, storedLineage, uint64(storedSerial))
		if err != nil {
			return err
		}
		data, err := state.EncodeWrite(scrubbed, lineage, serial)
		if err != nil {
			return err
		}
		if exists {
			if _, err = tx.Exec(ctx, "UPDATE "+p.table("state")+
				" SET lineage = $2, serial = $3, data = $4::jsonb, updated_at = now() WHERE name = $1",
				pgStateName, lineage, int64(serial), string(data)); err != nil {
				return err
			}
			// The state written holds every checkpoint.
			_, err = tx.Exec(ctx, "DELETE FROM "+p.table("state_journal")+" WHERE name = $1", pgStateName)
			return err
		}
		// Checkpoints of a state row deleted by hand are not this state's.
		if _, err := tx.Exec(ctx, "DELETE FROM "+p.table("state_journal")+" WHERE name = $1", pgStateName); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, "INSERT INTO "+p.table("state")+
			" (name, lineage, serial, data) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (name) DO NOTHING",
			pgStateName, lineage, int64(serial), string(data))
		if err == nil && tag.RowsAffected() == 0 {
			// Another run created the state between our read and insert.
			return &state.ConflictError{Kind: state.ErrStaleSerial, Where: p.Describe(), WritingLineage: s.Lineage, WritingSerial: s.Serial}
		}
		return err
	})
	if err != nil {
		var ce *state.ConflictError
		if errors.As(err, &ce) {
			return err
		}
		return fmt.Errorf("write state to %s: %w", p.Describe(), err)
	}
	s.Lineage, s.Serial = lineage, serial
	if s.Version == 0 {
		s.Version = state.FormatVersion
	}
	return nil
}

// Checkpoint implements state.Checkpointer: in one transaction, with the
// checks of Write, it stores the resources of s at addrs as one row of
// <schema>.state_journal and moves the state row's serial, instead of
// storing the whole state again. A state never written yet is written
// whole.
func (p *Backend) Checkpoint(ctx context.Context, s *state.State, addrs []string) error {
	if s.Lineage == "" {
		return p.Write(ctx, s)
	}
	cp, err := state.NewCheckpoint(s, addrs)
	if err != nil {
		return p.redact(fmt.Errorf("write state to %s: %w", p.Describe(), err))
	}
	conn, err := p.connect(ctx)
	if err != nil {
		return p.redact(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := p.ensureTables(ctx, conn); err != nil {
		return p.redact(err)
	}
	var lineage string
	var serial uint64
	missing := false
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := p.checkLockForWrite(ctx, tx); err != nil {
			return err
		}
		var storedLineage string
		var storedSerial int64
		err := tx.QueryRow(ctx, "SELECT lineage, serial FROM "+p.table("state")+" WHERE name = $1 FOR UPDATE",
			pgStateName).Scan(&storedLineage, &storedSerial)
		if errors.Is(err, pgx.ErrNoRows) {
			missing = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the stored serial: %w", err)
		}
		lineage, serial, err = state.CheckWrite(p.Describe(), s, true, storedLineage, uint64(storedSerial))
		if err != nil {
			return err
		}
		record, err := cp.Encode(lineage, serial)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+p.table("state_journal")+" (name, serial, record) VALUES ($1, $2, $3::jsonb)",
			pgStateName, int64(serial), string(record)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE "+p.table("state")+" SET serial = $2, updated_at = now() WHERE name = $1", pgStateName, int64(serial))
		return err
	})
	if missing && err == nil {
		return p.Write(ctx, s)
	}
	if err != nil {
		var ce *state.ConflictError
		if errors.As(err, &ce) {
			return p.redact(err)
		}
		return p.redact(fmt.Errorf("write state to %s: %w", p.Describe(), err))
	}
	s.Lineage, s.Serial = lineage, serial
	if s.Version == 0 {
		s.Version = state.FormatVersion
	}
	return nil
}

// splitKey splits the bigint advisory lock key into the two 32-bit halves
// pg_locks shows as classid and objid.
func splitKey(key int64) (hi, lo uint32) { return uint32(uint64(key) >> 32), uint32(uint64(key)) }

// redact removes the connection password from err's message.
func (p *Backend) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := state.RedactString(err.Error())
	if cfg, perr := pgx.ParseConfig(p.connString); perr == nil && len(cfg.Password) >= 4 {
		msg = strings.ReplaceAll(msg, cfg.Password, state.Redacted)
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// redactedError is an error whose message had a password removed; errors.Is
// and errors.As still see the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
