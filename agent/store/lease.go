package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Lease is who runs the continuous sync of one replication.
type Lease struct {
	Key         string    `json:"lease_key"`
	JobID       string    `json:"job_id"`
	Holder      string    `json:"holder"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
	AcquiredAt  time.Time `json:"acquired_at"`
}

// AcquireLease makes agent the holder of key for job: when nobody holds it,
// when the holder's heartbeat is older than ttl (it died), or when the
// lease already names job (a takeover handed it to this job). It returns
// the current lease and whether agent holds it now.
func (s *Store) AcquireLease(ctx context.Context, key, job, agent string, ttl time.Duration) (*Lease, bool, error) {
	var l Lease
	err := s.Pool.QueryRow(ctx, "INSERT INTO "+s.T("leases")+" AS l (lease_key, job_id, holder, heartbeat_at) VALUES ($1, $2, $3, now())"+
		" ON CONFLICT (lease_key) DO UPDATE SET job_id = excluded.job_id, holder = excluded.holder, heartbeat_at = now(), acquired_at = now()"+
		" WHERE l.job_id = excluded.job_id OR l.heartbeat_at < now() - $4 * interval '1 millisecond'"+
		" RETURNING lease_key, job_id, holder, heartbeat_at, acquired_at", key, job, agent, ttl.Milliseconds()).
		Scan(&l.Key, &l.JobID, &l.Holder, &l.HeartbeatAt, &l.AcquiredAt)
	if err == nil {
		return &l, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, false, fmt.Errorf("acquire the sync lease %s: %w", key, err)
	}
	cur, err := s.GetLease(ctx, key)
	return cur, false, err
}

// GetLease reads the lease of key.
func (s *Store) GetLease(ctx context.Context, key string) (*Lease, error) {
	var l Lease
	err := s.Pool.QueryRow(ctx, "SELECT lease_key, job_id, holder, heartbeat_at, acquired_at FROM "+s.T("leases")+" WHERE lease_key = $1", key).
		Scan(&l.Key, &l.JobID, &l.Holder, &l.HeartbeatAt, &l.AcquiredAt)
	if err != nil {
		return nil, fmt.Errorf("read the sync lease %s: %w", key, err)
	}
	return &l, nil
}

// Heartbeat renews the lease of key held by agent for job; false means the
// lease was lost (taken over) and the sync must stop.
func (s *Store) Heartbeat(ctx context.Context, key, job, agent string) (bool, error) {
	tag, err := s.Pool.Exec(ctx, "UPDATE "+s.T("leases")+" SET heartbeat_at = now() WHERE lease_key = $1 AND job_id = $2 AND holder = $3", key, job, agent)
	if err != nil {
		return false, fmt.Errorf("renew the sync lease %s: %w", key, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseLease removes the lease of key when agent still holds it for job.
func (s *Store) ReleaseLease(ctx context.Context, key, job, agent string) error {
	_, err := s.Pool.Exec(ctx, "DELETE FROM "+s.T("leases")+" WHERE lease_key = $1 AND job_id = $2 AND holder = $3", key, job, agent)
	if err != nil {
		return fmt.Errorf("release the sync lease %s: %w", key, err)
	}
	return nil
}

// TakeOverExpired finds one lease whose holder stopped renewing it for
// longer than ttl while its job still counts as running, makes agent its
// holder (so no other agent takes it too), and puts the job back in the
// queued state and the queue (enqueue, in the same transaction). It returns the job ID, or "" when there is none.
func (s *Store) TakeOverExpired(ctx context.Context, agent string, ttl time.Duration, enqueue func(context.Context, pgx.Tx, string) error) (job, previous string, err error) {
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		var key string
		err := tx.QueryRow(ctx, "SELECT l.lease_key, l.job_id, l.holder FROM "+s.T("leases")+" l JOIN "+s.T("jobs")+" j ON j.id = l.job_id"+
			" WHERE l.heartbeat_at < now() - $1 * interval '1 millisecond' AND j.status = 'running' AND NOT j.cancel_requested"+
			" ORDER BY l.heartbeat_at LIMIT 1 FOR UPDATE OF l SKIP LOCKED", ttl.Milliseconds()).Scan(&key, &job, &previous)
		if errors.Is(err, pgx.ErrNoRows) {
			job = ""
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE "+s.T("leases")+" SET holder = $2, heartbeat_at = now() WHERE lease_key = $1", key, agent); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE "+s.T("jobs")+" SET status = 'queued', agent = '' WHERE id = $1", job); err != nil {
			return err
		}
		return enqueue(ctx, tx, job)
	})
	if err != nil {
		return "", "", fmt.Errorf("take over expired sync leases: %w", err)
	}
	return job, previous, nil
}

// ListLeases returns every lease.
func (s *Store) ListLeases(ctx context.Context) ([]*Lease, error) {
	rows, err := s.Pool.Query(ctx, "SELECT lease_key, job_id, holder, heartbeat_at, acquired_at FROM "+s.T("leases")+" ORDER BY lease_key")
	if err != nil {
		return nil, fmt.Errorf("list sync leases: %w", err)
	}
	defer rows.Close()
	var out []*Lease
	for rows.Next() {
		var l Lease
		if err := rows.Scan(&l.Key, &l.JobID, &l.Holder, &l.HeartbeatAt, &l.AcquiredAt); err != nil {
			return nil, fmt.Errorf("list sync leases: %w", err)
		}
		out = append(out, &l)
	}
	return out, rows.Err()
}

// LagPoint is one lag sample of a replication.
type LagPoint struct {
	At         time.Time `json:"at"`
	LagBytes   *int64    `json:"lag_bytes,omitempty"`
	LagSeconds *float64  `json:"lag_seconds,omitempty"`
}

// AddLag records a lag sample for key.
func (s *Store) AddLag(ctx context.Context, key string, bytes *int64, seconds *float64) error {
	_, err := s.Pool.Exec(ctx, "INSERT INTO "+s.T("lag")+" (lease_key, lag_bytes, lag_seconds) VALUES ($1, $2, $3)", key, bytes, seconds)
	if err != nil {
		return fmt.Errorf("record lag of %s: %w", key, err)
	}
	return nil
}

// Lag returns the newest samples of key, oldest first, at most limit.
func (s *Store) Lag(ctx context.Context, key string, limit int) ([]LagPoint, error) {
	rows, err := s.Pool.Query(ctx, "SELECT at, lag_bytes, lag_seconds FROM (SELECT at, lag_bytes, lag_seconds FROM "+s.T("lag")+
		" WHERE lease_key = $1 ORDER BY at DESC LIMIT $2) x ORDER BY at", key, limit)
	if err != nil {
		return nil, fmt.Errorf("read lag of %s: %w", key, err)
	}
	defer rows.Close()
	out := []LagPoint{}
	for rows.Next() {
		var p LagPoint
		if err := rows.Scan(&p.At, &p.LagBytes, &p.LagSeconds); err != nil {
			return nil, fmt.Errorf("read lag of %s: %w", key, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
