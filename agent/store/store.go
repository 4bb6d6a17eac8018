// Package store is the agent's bookkeeping in PostgreSQL, next to river's
// queue tables: jobs (status, exit code, sealed payload), their log lines,
// the leases of continuous syncs and the API keys. Every agent of a queue
// reads and writes the same rows.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultSchema is the schema of the agent's and river's tables.
const DefaultSchema = "replicator_agent"

// Job statuses.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusTimedOut  = "timed_out"
)

// Final reports whether a job in status s is over.
func Final(s string) bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCancelled || s == StatusTimedOut
}

// Store reads and writes the agent's tables in one schema.
type Store struct {
	Pool   *pgxpool.Pool
	Schema string
}

// New returns a Store over pool in schema.
func New(pool *pgxpool.Pool, schema string) *Store {
	if schema == "" {
		schema = DefaultSchema
	}
	return &Store{Pool: pool, Schema: schema}
}

// T is the qualified name of the agent table name.
func (s *Store) T(name string) string { return pgx.Identifier{s.Schema, name}.Sanitize() }

// migrateLockKey serialises schema changes of agents starting together.
const migrateLockKey = 0x7265706c6167 // "replag"

// WithMigrationLock runs fn holding a session advisory lock, so that agents
// starting at the same time migrate one after the other.
func (s *Store) WithMigrationLock(ctx context.Context, fn func(ctx context.Context) error) error {
	conn, err := s.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect to the agent database: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrateLockKey)); err != nil {
		return fmt.Errorf("lock the agent schema for migration: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrateLockKey))
	}()
	return fn(ctx)
}

// Migrate creates the schema and the agent's tables when missing.
func (s *Store) Migrate(ctx context.Context) error {
	stmts := []string{
		"CREATE SCHEMA IF NOT EXISTS " + pgx.Identifier{s.Schema}.Sanitize(),
		`CREATE TABLE IF NOT EXISTS ` + s.T("jobs") + ` (
			id text PRIMARY KEY,
			trace_id text NOT NULL,
			command text NOT NULL,
			lease_key text NOT NULL DEFAULT '',
			label text NOT NULL DEFAULT '',
			payload bytea NOT NULL,
			status text NOT NULL DEFAULT 'queued',
			exit_code int,
			error text NOT NULL DEFAULT '',
			agent text NOT NULL DEFAULT '',
			attempt int NOT NULL DEFAULT 0,
			cancel_requested boolean NOT NULL DEFAULT false,
			timeout_ms bigint NOT NULL DEFAULT 0,
			created_at timestamptz NOT NULL DEFAULT now(),
			started_at timestamptz,
			finished_at timestamptz)`,
		`CREATE TABLE IF NOT EXISTS ` + s.T("job_logs") + ` (
			seq bigserial PRIMARY KEY,
			job_id text NOT NULL REFERENCES ` + s.T("jobs") + ` ON DELETE CASCADE,
			stream text NOT NULL,
			line text NOT NULL,
			at timestamptz NOT NULL DEFAULT now())`,
		`CREATE INDEX IF NOT EXISTS job_logs_job_seq ON ` + s.T("job_logs") + ` (job_id, seq)`,
		`CREATE TABLE IF NOT EXISTS ` + s.T("leases") + ` (
			lease_key text PRIMARY KEY,
			job_id text NOT NULL,
			holder text NOT NULL,
			heartbeat_at timestamptz NOT NULL,
			acquired_at timestamptz NOT NULL DEFAULT now())`,
		`CREATE TABLE IF NOT EXISTS ` + s.T("api_keys") + ` (
			id text PRIMARY KEY,
			name text NOT NULL,
			scope text NOT NULL,
			hash bytea NOT NULL,
			created_at timestamptz NOT NULL DEFAULT now(),
			revoked_at timestamptz)`,
		`CREATE TABLE IF NOT EXISTS ` + s.T("lag") + ` (
			lease_key text NOT NULL,
			at timestamptz NOT NULL DEFAULT now(),
			lag_bytes bigint,
			lag_seconds double precision)`,
		`CREATE INDEX IF NOT EXISTS lag_key_at ON ` + s.T("lag") + ` (lease_key, at)`,
		`CREATE TABLE IF NOT EXISTS ` + s.T("agents") + ` (
			id text PRIMARY KEY,
			started_at timestamptz NOT NULL DEFAULT now(),
			heartbeat_at timestamptz NOT NULL DEFAULT now())`,
	}
	for _, q := range stmts {
		if _, err := s.Pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("create the agent tables in schema %s: %w", s.Schema, err)
		}
	}
	return nil
}

// Job is one submitted command, without its sealed payload.
type Job struct {
	ID       string `json:"id"`
	TraceID  string `json:"trace_id"`
	Command  string `json:"command"`
	LeaseKey string `json:"lease_key,omitempty"`
	// Label names the replications of the job's configuration.
	Label           string     `json:"label,omitempty"`
	Status          string     `json:"status"`
	ExitCode        *int       `json:"exit_code,omitempty"`
	Error           string     `json:"error,omitempty"`
	Agent           string     `json:"agent,omitempty"`
	Attempt         int        `json:"attempt"`
	CancelRequested bool       `json:"cancel_requested"`
	TimeoutMS       int64      `json:"timeout_ms,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	StartedAt       *time.Time `json:"started_at,omitempty"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
}

const jobColumns = "id, trace_id, command, lease_key, label, status, exit_code, error, agent, attempt, cancel_requested, timeout_ms, created_at, started_at, finished_at"

func scanJob(row pgx.Row) (*Job, error) {
	var j Job
	err := row.Scan(&j.ID, &j.TraceID, &j.Command, &j.LeaseKey, &j.Label, &j.Status, &j.ExitCode, &j.Error, &j.Agent,
		&j.Attempt, &j.CancelRequested, &j.TimeoutMS, &j.CreatedAt, &j.StartedAt, &j.FinishedAt)
	return &j, err
}

// ErrNotFound is returned for an unknown job ID.
var ErrNotFound = errors.New("no such job")

// InsertJob records a new queued job in tx.
func (s *Store) InsertJob(ctx context.Context, tx pgx.Tx, j *Job, payload []byte) error {
	_, err := tx.Exec(ctx, "INSERT INTO "+s.T("jobs")+
		" (id, trace_id, command, lease_key, label, payload, timeout_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
		j.ID, j.TraceID, j.Command, j.LeaseKey, j.Label, payload, j.TimeoutMS)
	if err != nil {
		return fmt.Errorf("record job %s: %w", j.ID, err)
	}
	return nil
}

// GetJob reads one job.
func (s *Store) GetJob(ctx context.Context, id string) (*Job, error) {
	j, err := scanJob(s.Pool.QueryRow(ctx, "SELECT "+jobColumns+" FROM "+s.T("jobs")+" WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("job %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read job %s: %w", id, err)
	}
	return j, nil
}

// Payload reads the sealed payload of a job.
func (s *Store) Payload(ctx context.Context, id string) ([]byte, error) {
	var p []byte
	if err := s.Pool.QueryRow(ctx, "SELECT payload FROM "+s.T("jobs")+" WHERE id = $1", id).Scan(&p); err != nil {
		return nil, fmt.Errorf("read the payload of job %s: %w", id, err)
	}
	return p, nil
}

// ListJobs returns the newest jobs first, at most limit.
func (s *Store) ListJobs(ctx context.Context, limit int) ([]*Job, error) {
	rows, err := s.Pool.Query(ctx, "SELECT "+jobColumns+" FROM "+s.T("jobs")+" ORDER BY created_at DESC, id LIMIT $1", limit)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var out []*Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// StartJob marks a queued job running on agent; it returns false when the
// job is no longer queued (cancelled before it started, or already taken).
func (s *Store) StartJob(ctx context.Context, id, agent string) (bool, error) {
	tag, err := s.Pool.Exec(ctx, "UPDATE "+s.T("jobs")+
		" SET status = 'running', agent = $2, attempt = attempt + 1, started_at = coalesce(started_at, now())"+
		" WHERE id = $1 AND status = 'queued' AND NOT cancel_requested", id, agent)
	if err != nil {
		return false, fmt.Errorf("start job %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// FinishJob records the outcome of a job that agent ran.
func (s *Store) FinishJob(ctx context.Context, id, agent, status string, exitCode int, msg string) error {
	_, err := s.Pool.Exec(ctx, "UPDATE "+s.T("jobs")+
		" SET status = $3, exit_code = $4, error = $5, finished_at = now() WHERE id = $1 AND agent = $2 AND status = 'running'",
		id, agent, status, exitCode, msg)
	if err != nil {
		return fmt.Errorf("finish job %s: %w", id, err)
	}
	return nil
}

// CancelQueued marks a queued job cancelled at once; a running one only
// gets cancel_requested, which its agent acts on. It returns the job.
func (s *Store) RequestCancel(ctx context.Context, id string) (*Job, error) {
	_, err := s.Pool.Exec(ctx, "UPDATE "+s.T("jobs")+
		" SET cancel_requested = true,"+
		" status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,"+
		" finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END"+
		" WHERE id = $1", id)
	if err != nil {
		return nil, fmt.Errorf("cancel job %s: %w", id, err)
	}
	return s.GetJob(ctx, id)
}

// Control reports whether someone asked to cancel job id, and whether
// agent still runs it (false once another agent failed or took it over).
func (s *Store) Control(ctx context.Context, id, agent string) (cancel, mine bool, err error) {
	err = s.Pool.QueryRow(ctx, "SELECT cancel_requested, status = 'running' AND agent = $2 FROM "+s.T("jobs")+" WHERE id = $1", id, agent).Scan(&cancel, &mine)
	if err != nil {
		return false, false, fmt.Errorf("read job %s: %w", id, err)
	}
	return cancel, mine, nil
}

// LogLine is one line of a job's output.
type LogLine struct {
	Seq    int64     `json:"seq"`
	Stream string    `json:"stream"`
	Line   string    `json:"line"`
	At     time.Time `json:"at"`
}

// AppendLogs stores lines of job id's output.
func (s *Store) AppendLogs(ctx context.Context, id string, lines []LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, l := range lines {
		b.Queue("INSERT INTO "+s.T("job_logs")+" (job_id, stream, line) VALUES ($1, $2, $3)", id, l.Stream, l.Line)
	}
	if err := s.Pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store the log of job %s: %w", id, err)
	}
	return nil
}

// Logs returns the lines of job id after seq, at most limit.
func (s *Store) Logs(ctx context.Context, id string, after int64, limit int) ([]LogLine, error) {
	rows, err := s.Pool.Query(ctx, "SELECT seq, stream, line, at FROM "+s.T("job_logs")+
		" WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3", id, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read the log of job %s: %w", id, err)
	}
	defer rows.Close()
	out := []LogLine{}
	for rows.Next() {
		var l LogLine
		if err := rows.Scan(&l.Seq, &l.Stream, &l.Line, &l.At); err != nil {
			return nil, fmt.Errorf("read the log of job %s: %w", id, err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// AgentAlive records that agent is alive now.
func (s *Store) AgentAlive(ctx context.Context, agent string) error {
	_, err := s.Pool.Exec(ctx, "INSERT INTO "+s.T("agents")+" (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()", agent)
	if err != nil {
		return fmt.Errorf("record agent heartbeat: %w", err)
	}
	return nil
}

// FailOrphans marks failed the running jobs without a sync lease whose
// agent has not been alive for three times ttl (it died while running
// them), and
// returns their IDs. Syncs are taken over instead (TakeOverExpired).
func (s *Store) FailOrphans(ctx context.Context, ttl time.Duration) ([]string, error) {
	// Three lease times: a loaded but live agent is not declared dead.
	ttl *= 3
	rows, err := s.Pool.Query(ctx, "UPDATE "+s.T("jobs")+" j SET status = 'failed', exit_code = 1, finished_at = now(),"+
		" error = 'agent ' || j.agent || ' stopped while running this job; the state records what finished: run it again to resume'"+
		" WHERE j.status = 'running' AND j.lease_key = '' AND NOT EXISTS (SELECT 1 FROM "+s.T("agents")+" a"+
		" WHERE a.id = j.agent AND a.heartbeat_at >= now() - $1 * interval '1 millisecond') RETURNING j.id", ttl.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("fail the jobs of stopped agents: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("fail the jobs of stopped agents: %w", err)
	}
	return ids, nil
}
