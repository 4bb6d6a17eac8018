package pgstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/database-replicator/database-replicator/state"
	"github.com/jackc/pgx/v5"
)

// queryer is what the lock queries need from a connection or transaction.
type queryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Lock implements Backend: pg_try_advisory_lock on a dedicated session
// held open until unlock, plus a row in <schema>.state_lock describing the
// holder, which a refused locker reports in its *LockedError. A crashed
// holder's session ends and frees the lock by itself.
func (p *Backend) Lock(ctx context.Context, info state.LockInfo) (func(context.Context) error, error) {
	unlock, err := p.lock(ctx, info)
	return unlock, p.redact(err)
}

func (p *Backend) lock(ctx context.Context, info state.LockInfo) (func(context.Context) error, error) {
	info.Fill()
	conn, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	release := func() { _ = conn.Close(context.WithoutCancel(ctx)) }
	if err := p.ensureTables(ctx, conn); err != nil {
		release()
		return nil, err
	}
	var got bool
	var backendPID uint32
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1), pg_backend_pid()", p.key).Scan(&got, &backendPID); err != nil {
		release()
		return nil, fmt.Errorf("lock state in %s: %w", p.Describe(), err)
	}
	if !got {
		defer release()
		return nil, p.lockedError(ctx, conn)
	}
	data, err := json.Marshal(info)
	if err == nil {
		_, err = conn.Exec(ctx, "INSERT INTO "+p.table("state_lock")+
			" (name, id, info, backend_pid, locked_at) VALUES ($1, $2, $3::jsonb, pg_backend_pid(), now())"+
			" ON CONFLICT (name) DO UPDATE SET id = excluded.id, info = excluded.info,"+
			" backend_pid = excluded.backend_pid, locked_at = excluded.locked_at",
			pgStateName, info.ID, string(data))
	}
	if err != nil {
		release() // ending the session frees the advisory lock
		return nil, fmt.Errorf("record the state lock in %s: %w", p.table("state_lock"), err)
	}
	p.mu.Lock()
	p.held = &pgLock{conn: conn, id: info.ID, backendPID: backendPID}
	p.mu.Unlock()
	var once sync.Once
	var uerr error
	return func(ctx context.Context) error {
		once.Do(func() { uerr = p.redact(p.unlock(ctx, info.ID)) })
		return uerr
	}, nil
}

// lockedError describes the current holder of the advisory lock.
func (p *Backend) lockedError(ctx context.Context, q queryer) error {
	holderPID, err := p.holderPID(ctx, q)
	if err != nil {
		return err
	}
	rec, found, err := p.lockRecord(ctx, q)
	if err != nil {
		return err
	}
	le := &state.LockedError{Path: p.table("state_lock")}
	if found && (holderPID == 0 || rec.backendPID == holderPID) {
		le.Info = rec.info
	} else {
		// The holder has not recorded itself yet (or the record is stale).
		le.Info = state.LockInfo{ID: "unknown", Operation: "another session", PID: int(holderPID), Host: "the state database", Who: "unknown"}
	}
	return le
}

// unlock releases the lock id held by this instance.
func (p *Backend) unlock(ctx context.Context, id string) error {
	p.mu.Lock()
	held := p.held
	if held != nil && held.id == id {
		p.held = nil
	}
	p.mu.Unlock()
	if held == nil || held.id != id {
		return fmt.Errorf("unlock state in %s: lock %s is not held by this run", p.Describe(), id)
	}
	defer held.conn.Close(context.WithoutCancel(ctx))
	_, err := held.conn.Exec(ctx, "DELETE FROM "+p.table("state_lock")+" WHERE name = $1 AND id = $2", pgStateName, id)
	if err == nil {
		_, err = held.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", p.key)
	}
	if err != nil {
		return fmt.Errorf("unlock state in %s: the lock session failed (was the lock force-unlocked?): %w", p.Describe(), err)
	}
	return nil
}

// checkLockForWrite refuses a write while another session holds the lock,
// or when this instance held the lock and lost it.
func (p *Backend) checkLockForWrite(ctx context.Context, q queryer) error {
	holderPID, err := p.holderPID(ctx, q)
	if err != nil {
		return err
	}
	p.mu.Lock()
	held := p.held
	p.mu.Unlock()
	switch {
	case held != nil && holderPID != held.backendPID:
		return fmt.Errorf("this run no longer holds the state lock %s (it was force-unlocked or its session ended); "+
			"refusing to write", held.id)
	case held == nil && holderPID != 0:
		return p.lockedError(ctx, q)
	}
	return nil
}

// holderPID returns the backend pid holding the state advisory lock in
// the current database, or 0.
func (p *Backend) holderPID(ctx context.Context, q queryer) (uint32, error) {
	hi, lo := splitKey(p.key)
	var pid uint32
	err := q.QueryRow(ctx, `SELECT pid FROM pg_locks
WHERE locktype = 'advisory' AND granted AND objsubid = 1
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND classid::bigint = $1 AND objid::bigint = $2
LIMIT 1`, int64(hi), int64(lo)).Scan(&pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("look up the state lock holder: %w", err)
	}
	return pid, nil
}

// lockRecord is a row of <schema>.state_lock.
type lockRecord struct {
	info       state.LockInfo
	backendPID uint32
}

// lockRecord reads the state_lock row.
func (p *Backend) lockRecord(ctx context.Context, q queryer) (lockRecord, bool, error) {
	var rec lockRecord
	var data []byte
	err := q.QueryRow(ctx, "SELECT info::text, backend_pid FROM "+p.table("state_lock")+" WHERE name = $1",
		pgStateName).Scan(&data, &rec.backendPID)
	if errors.Is(err, pgx.ErrNoRows) {
		return rec, false, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &rec.info)
	}
	if err != nil {
		return rec, false, fmt.Errorf("read the state lock record: %w", err)
	}
	return rec, true, nil
}

// ForceUnlock implements Backend: when the recorded lock has the given ID,
// it terminates the session holding the advisory lock
// (pg_terminate_backend, which needs superuser, the same role, or
// pg_signal_backend) and removes the record.
func (p *Backend) ForceUnlock(ctx context.Context, id string) error {
	return p.redact(p.forceUnlock(ctx, id))
}

func (p *Backend) forceUnlock(ctx context.Context, id string) error {
	conn, err := p.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if ok, err := p.tablesExist(ctx, conn); err != nil || !ok {
		if err == nil {
			err = state.ErrNotLocked
		}
		return fmt.Errorf("force-unlock %s: %w", p.Describe(), err)
	}
	holderPID, err := p.holderPID(ctx, conn)
	if err != nil {
		return err
	}
	rec, found, err := p.lockRecord(ctx, conn)
	if err != nil {
		return err
	}
	switch {
	case !found && holderPID == 0:
		return fmt.Errorf("force-unlock %s: %w", p.Describe(), state.ErrNotLocked)
	case !found:
		return fmt.Errorf("force-unlock %s: the lock is held by session pid %d, which has not recorded a lock ID yet; try again",
			p.Describe(), holderPID)
	case rec.info.ID != id:
		return fmt.Errorf("force-unlock %s: lock ID %q does not match the current lock %q (held by %s, pid %d on host %s)",
			p.Describe(), id, rec.info.ID, rec.info.Operation, rec.info.PID, rec.info.Host)
	case holderPID != 0 && holderPID != rec.backendPID:
		return fmt.Errorf("force-unlock %s: lock %s is stale and the lock is now held by session pid %d; not terminating it",
			p.Describe(), id, holderPID)
	}
	if holderPID != 0 {
		if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend($1)", int32(holderPID)); err != nil {
			return fmt.Errorf("force-unlock %s: terminate the holder's session (pid %d): %w", p.Describe(), holderPID, err)
		}
		if err := p.waitReleased(ctx, conn); err != nil {
			return fmt.Errorf("force-unlock %s: %w", p.Describe(), err)
		}
	}
	if _, err := conn.Exec(ctx, "DELETE FROM "+p.table("state_lock")+" WHERE name = $1 AND id = $2", pgStateName, id); err != nil {
		return fmt.Errorf("force-unlock %s: remove the lock record: %w", p.Describe(), err)
	}
	return nil
}

// waitReleased waits until no session holds the advisory lock.
func (p *Backend) waitReleased(ctx context.Context, conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		pid, err := p.holderPID(ctx, conn)
		if err != nil || pid == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the holder's session (pid %d) did not end: %w", pid, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
