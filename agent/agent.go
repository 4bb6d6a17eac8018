// Package agent is the long-running service behind `database-replicator
// agent`: it migrates the queue (river's tables and the agent's own), runs
// queued jobs with river, takes over the continuous syncs of agents that
// stopped renewing their lease, and serves the HTTP API and dashboard.
package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/database-replicator/database-replicator/agent/api"
	"github.com/database-replicator/database-replicator/agent/dashboard"
	"github.com/database-replicator/database-replicator/agent/jobs"
	"github.com/database-replicator/database-replicator/agent/keys"
	"github.com/database-replicator/database-replicator/agent/seal"
	"github.com/database-replicator/database-replicator/agent/store"
	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Config is how one agent runs.
type Config struct {
	// Listen is the HTTP address (host:port; port 0 picks one).
	Listen string
	// StateURL is the PostgreSQL database of the queue.
	StateURL string
	// Schema holds river's and the agent's tables.
	Schema string
	// KeyFile is the AES key sealing job payloads (shared by all agents).
	KeyFile string
	// WorkDir holds a directory per replication.
	WorkDir string
	// TLSCert and TLSKey serve HTTPS when both are set.
	TLSCert, TLSKey string
	// MaxJobs is how many jobs this agent runs at once.
	MaxJobs int
	// LeaseTTL is how long a sync lease lives without heartbeat.
	LeaseTTL time.Duration
	// ID names this agent (default host-pid-random).
	ID string
	// Exe is the binary jobs run with.
	Exe string
	// Env is the environment jobs inherit.
	Env []string
	Log hclog.Logger
	// OnListen is called with the base URL once the server listens.
	OnListen func(url string)
}

// Open connects to the queue database and migrates its schema: the agent's
// tables and river's. It is also what `agent keys` uses.
func Open(ctx context.Context, stateURL, schema string) (*store.Store, error) {
	pcfg, err := pgxpool.ParseConfig(stateURL)
	if err != nil {
		return nil, errors.New("--state-url: not a valid PostgreSQL URL (postgres://user@host/db)")
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the agent database: %w", err)
	}
	st := store.New(pool, schema)
	err = st.WithMigrationLock(ctx, func(ctx context.Context) error {
		if err := st.Migrate(ctx); err != nil {
			return err
		}
		m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: st.Schema, Logger: quietSlog()})
		if err != nil {
			return fmt.Errorf("river migrations: %w", err)
		}
		if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			return fmt.Errorf("river migrations in schema %s: %w", st.Schema, err)
		}
		return nil
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	return st, nil
}

// quietSlog is river's logger: warnings and errors only, on stderr.
func quietSlog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// Run runs the agent until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.ID == "" {
		host, _ := os.Hostname()
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		cfg.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	log := cfg.Log.With("agent", cfg.ID)
	sealer, err := seal.LoadOrCreateKeyFile(cfg.KeyFile)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.WorkDir, 0o700); err != nil {
		return fmt.Errorf("work directory %s: %w", cfg.WorkDir, err)
	}
	st, err := Open(ctx, cfg.StateURL, cfg.Schema)
	if err != nil {
		return err
	}
	defer st.Pool.Close()

	reg := prometheus.NewRegistry()
	finished := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "replicator_agent_jobs_finished_total", Help: "Jobs this agent finished, by command and status."}, []string{"command", "status"})
	takeovers := prometheus.NewCounter(prometheus.CounterOpts{Name: "replicator_agent_sync_takeovers_total", Help: "Continuous syncs this agent took over from an agent that stopped renewing its lease."})
	reg.MustRegister(finished, takeovers, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	runner := &jobs.Runner{Store: st, Sealer: sealer, AgentID: cfg.ID, Exe: cfg.Exe, WorkDir: cfg.WorkDir, Env: cfg.Env,
		LeaseTTL: cfg.LeaseTTL, CancelGrace: 30 * time.Second, Log: log,
		OnFinish: func(command, status string) { finished.WithLabelValues(command, status).Inc() }}
	workers := river.NewWorkers()
	river.AddWorker(workers, &jobs.Worker{R: runner})
	client, err := river.NewClient(riverpgxv5.New(st.Pool), &river.Config{
		ID:                cfg.ID,
		Schema:            st.Schema,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.MaxJobs}},
		Workers:           workers,
		JobTimeout:        -1,
		FetchPollInterval: 500 * time.Millisecond,
		Logger:            quietSlog(),
	})
	if err != nil {
		return fmt.Errorf("river client: %w", err)
	}
	enqueue := func(ctx context.Context, tx pgx.Tx, id string) error {
		if _, err := client.InsertTx(ctx, tx, jobs.Args{JobID: id}, &river.InsertOpts{MaxAttempts: 1}); err != nil {
			return fmt.Errorf("queue job %s: %w", id, err)
		}
		return nil
	}

	srv := &api.Server{Store: st, Keys: keys.New(st), Sealer: sealer, Enqueue: enqueue, AgentID: cfg.ID, Env: cfg.Env,
		Log: log.Named("api"), Registry: reg, Dashboard: dashboard.Handler()}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", cfg.Listen, err)
	}
	httpSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}

	if err := st.AgentAlive(ctx, cfg.ID); err != nil {
		_ = ln.Close()
		return err
	}
	if err := client.Start(ctx); err != nil {
		_ = ln.Close()
		return fmt.Errorf("start the job queue: %w", err)
	}
	go supervise(ctx, st, cfg, log, enqueue, takeovers)
	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			errc <- httpSrv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- httpSrv.Serve(ln)
		}
	}()
	url := fmt.Sprintf("%s://%s", scheme, ln.Addr().String())
	log.Info("agent listening", "url", url, "max_jobs", cfg.MaxJobs, "lease_ttl", cfg.LeaseTTL.String())
	if cfg.OnListen != nil {
		cfg.OnListen(url)
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(shutdown)
	if err := client.StopAndCancel(shutdown); err != nil {
		log.Warn("stopping the job queue", "error", err)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", cfg.Listen, serveErr)
	}
	return nil
}

// supervise, every third of the lease time, records that this agent is
// alive, fails the jobs of agents that are not (they died running them),
// and takes over the continuous syncs whose agent stopped renewing the
// lease: the job goes back to the queue, which any agent (often this one)
// picks up and resumes from the state.
func supervise(ctx context.Context, st *store.Store, cfg Config, log hclog.Logger, enqueue func(context.Context, pgx.Tx, string) error, takeovers prometheus.Counter) {
	t := time.NewTicker(max(cfg.LeaseTTL/3, 500*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := st.AgentAlive(ctx, cfg.ID); err != nil && ctx.Err() == nil {
			log.Warn("agent heartbeat", "error", err)
		}
		orphans, err := st.FailOrphans(ctx, cfg.LeaseTTL)
		if err != nil && ctx.Err() == nil {
			log.Warn("jobs of stopped agents", "error", err)
		}
		for _, id := range orphans {
			log.Warn("failed a job whose agent stopped while running it", "job_id", id)
			_ = st.AppendLogs(ctx, id, []store.LogLine{{Stream: "stderr", Line: "Error: the agent running this job stopped; the state records what finished: run it again to resume"}})
		}
		for {
			job, prev, err := st.TakeOverExpired(ctx, cfg.ID, cfg.LeaseTTL, enqueue)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("sync lease supervision", "error", err)
				}
				break
			}
			if job == "" {
				break
			}
			takeovers.Inc()
			log.Warn("took over a continuous sync whose agent stopped renewing its lease", "job_id", job, "previous_agent", prev)
			_ = st.AppendLogs(ctx, job, []store.LogLine{{Stream: "stderr",
				Line: fmt.Sprintf("agent %s stopped renewing the sync lease for %s; agent %s queued the sync again", prev, cfg.LeaseTTL, cfg.ID)}})
		}
	}
}
