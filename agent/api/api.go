// Package api is the agent's HTTP JSON API: submit a job, read its status
// and log, cancel it, list jobs and replications with their lag, health
// and Prometheus metrics. Every request carries a trace ID (X-Trace-Id,
// generated when absent) that the agent logs and gives to the jobs it
// creates; every /v1 request needs an API key of the right scope.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/database-replicator/database-replicator/agent/jobs"
	"github.com/database-replicator/database-replicator/agent/keys"
	"github.com/database-replicator/database-replicator/agent/seal"
	"github.com/database-replicator/database-replicator/agent/store"
	"github.com/database-replicator/database-replicator/providers/postgres/connstr"
	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server serves the API of one agent.
type Server struct {
	Store  *store.Store
	Keys   *keys.Keys
	Sealer *seal.Sealer
	// Enqueue puts job id in the queue within tx.
	Enqueue func(ctx context.Context, tx pgx.Tx, id string) error
	AgentID string
	// Env is the environment the agent's jobs inherit: the configuration
	// of a sync is decoded with it to find the replication's lease key.
	Env []string
	Log hclog.Logger
	// Registry holds the agent's metrics; /metrics serves it.
	Registry *prometheus.Registry
	// Dashboard, when set, is served at /.
	Dashboard http.Handler

	requests  *prometheus.CounterVec
	submitted *prometheus.CounterVec
}

// TraceHeader carries the trace ID of a request.
const TraceHeader = "X-Trace-Id"

// SubmitRequest is the body of POST /v1/jobs.
type SubmitRequest struct {
	Command string `json:"command"`
	// Args follow the command (no -c, --config, --var, --state).
	Args []string `json:"args,omitempty"`
	// Files are the configuration files by base name.
	Files map[string]string `json:"files,omitempty"`
	// Vars are variable values; treated as secrets: sealed at rest and
	// redacted from the job's log.
	Vars map[string]string `json:"vars,omitempty"`
	// TimeoutSeconds interrupts the job after this long (0: none).
	TimeoutSeconds float64 `json:"timeout_seconds,omitempty"`
}

// JobResponse is a job as the API returns it.
type JobResponse struct {
	Job *store.Job `json:"job"`
}

// LogsResponse is a page of a job's log.
type LogsResponse struct {
	Job   *store.Job      `json:"job"`
	Lines []store.LogLine `json:"lines"`
}

// Replication is one continuous sync as GET /v1/replications lists it.
type Replication struct {
	Lease *store.Lease     `json:"lease"`
	Job   *store.Job       `json:"job,omitempty"`
	Lag   *store.LagPoint  `json:"lag,omitempty"`
	Hist  []store.LagPoint `json:"lag_history,omitempty"`
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "replicator_agent_http_requests_total", Help: "HTTP requests by route and status code."}, []string{"route", "code"})
	s.submitted = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "replicator_agent_jobs_submitted_total", Help: "Jobs submitted to this agent by command."}, []string{"command"})
	s.Registry.MustRegister(s.requests, s.submitted)
	mux := http.NewServeMux()
	handle := func(pattern, scope string, h func(w http.ResponseWriter, r *http.Request) (int, any)) {
		mux.Handle(pattern, s.wrap(pattern, scope, h))
	}
	handle("GET /healthz", "", s.health)
	metrics := promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{})
	mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(TraceHeader, traceID(r.Header.Get(TraceHeader)))
		metrics.ServeHTTP(w, r)
	}))
	handle("POST /v1/jobs", keys.ScopeRun, s.submit)
	handle("GET /v1/jobs", keys.ScopeRead, s.list)
	handle("GET /v1/jobs/{id}", keys.ScopeRead, s.show)
	handle("GET /v1/jobs/{id}/logs", keys.ScopeRead, s.logs)
	mux.Handle("GET /v1/jobs/{id}/stream", s.streamHandler())
	handle("POST /v1/jobs/{id}/cancel", keys.ScopeRun, s.cancel)
	handle("GET /v1/replications", keys.ScopeRead, s.replications)
	if s.Dashboard != nil {
		mux.Handle("GET /", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(TraceHeader, traceID(r.Header.Get(TraceHeader)))
			s.Dashboard.ServeHTTP(w, r)
		}))
	}
	return mux
}

// errorBody is every error response.
type errorBody struct {
	Error   string `json:"error"`
	TraceID string `json:"trace_id"`
}

type ctxKey struct{}

// wrap adds the trace ID, authentication, logging and the JSON encoding.
func (s *Server) wrap(route, scope string, h func(w http.ResponseWriter, r *http.Request) (int, any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trace := traceID(r.Header.Get(TraceHeader))
		w.Header().Set(TraceHeader, trace)
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, trace))
		log := s.Log.With("trace_id", trace)
		code, body := http.StatusOK, any(nil)
		var keyID string
		if scope != "" {
			k, c, err := s.authenticate(r, scope)
			if err != nil {
				code, body = c, errorBody{Error: err.Error(), TraceID: trace}
			} else {
				keyID = k.ID
			}
		}
		if body == nil {
			code, body = h(w, r)
			if err, ok := body.(error); ok {
				body = errorBody{Error: err.Error(), TraceID: trace}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
		s.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		// Reads (polled by followers and the dashboard) at debug level.
		level := hclog.Info
		if r.Method == http.MethodGet && code < 400 {
			level = hclog.Debug
		}
		log.Log(level, "request", "method", r.Method, "path", r.URL.Path, "status", code, "key_id", keyID)
	})
}

// authenticate checks the bearer key of r against scope.
func (s *Server) authenticate(r *http.Request, scope string) (*keys.Key, int, error) {
	auth := r.Header.Get("Authorization")
	presented, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || presented == "" {
		return nil, http.StatusUnauthorized, errors.New("missing API key: send Authorization: Bearer KEY (REPLICATOR_API_KEY for the CLI; 'agent keys create' issues one)")
	}
	k, err := s.Keys.Authenticate(r.Context(), presented)
	if errors.Is(err, keys.ErrInvalid) {
		return nil, http.StatusUnauthorized, errors.New("invalid or revoked API key")
	}
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	if !k.Allows(scope) {
		return nil, http.StatusForbidden, fmt.Errorf("API key %s has scope %s; this needs scope %s", k.ID, k.Scope, scope)
	}
	return k, 0, nil
}

var traceRE = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// traceID keeps a well-formed presented trace ID and makes one otherwise.
func traceID(presented string) string {
	if traceRE.MatchString(presented) {
		return presented
	}
	return randomID("tr_")
}

// randomID is prefix and 16 random hex digits.
func randomID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// traceOf is the trace ID of a request.
func traceOf(r *http.Request) string { s, _ := r.Context().Value(ctxKey{}).(string); return s }

func (s *Server) health(w http.ResponseWriter, r *http.Request) (int, any) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.Store.Pool.Ping(ctx); err != nil {
		return http.StatusServiceUnavailable, errors.New("the agent database is unreachable")
	}
	return http.StatusOK, map[string]string{"status": "ok", "agent": s.AgentID}
}

// refusedArgs point the command at the agent's own files or detach it.
var refusedArgs = []string{"-c", "--config", "--var", "--state", "--daemon"}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) (int, any) {
	var req SubmitRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return http.StatusBadRequest, fmt.Errorf("request body: %w", err)
	}
	if !jobs.IsCommand(req.Command) {
		return http.StatusBadRequest, fmt.Errorf("command %q: want one of %s", req.Command, strings.Join(jobs.Commands, ", "))
	}
	for _, a := range req.Args {
		name, _, _ := strings.Cut(a, "=")
		for _, bad := range refusedArgs {
			if name == bad {
				return http.StatusBadRequest, fmt.Errorf("argument %s is not accepted by the agent: send the configuration in files, variables in vars; the agent keeps the state", bad)
			}
		}
	}
	if err := checkNoPasswordArgs(req.Args); err != nil {
		return http.StatusBadRequest, err
	}
	p := &jobs.Payload{Files: req.Files, Args: req.Args, Vars: req.Vars}
	sealed, err := p.Seal(s.Sealer)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	j := &store.Job{ID: randomID("job_"), TraceID: traceOf(r), Command: req.Command, Label: p.Label(), TimeoutMS: int64(req.TimeoutSeconds * 1000)}
	if req.Command == "sync" && !containsFlag(req.Args, "--once") {
		j.LeaseKey = p.ReplicationKey(jobs.EnvLookup(s.Env))
	}
	err = pgx.BeginFunc(r.Context(), s.Store.Pool, func(tx pgx.Tx) error {
		if err := s.Store.InsertJob(r.Context(), tx, j, sealed); err != nil {
			return err
		}
		return s.Enqueue(r.Context(), tx, j.ID)
	})
	if err != nil {
		return http.StatusInternalServerError, err
	}
	s.submitted.WithLabelValues(req.Command).Inc()
	s.Log.Info("job submitted", "trace_id", j.TraceID, "job_id", j.ID, "command", j.Command)
	got, err := s.Store.GetJob(r.Context(), j.ID)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	return http.StatusCreated, JobResponse{Job: got}
}

// checkNoPasswordArgs refuses a --source or --target URL with a password:
// the agent runs the command with these arguments, where every user of
// its machine could read them in the process list.
func checkNoPasswordArgs(args []string) error {
	for i, a := range args {
		name, value, hasValue := strings.Cut(a, "=")
		if name != "--source" && name != "--target" {
			continue
		}
		if !hasValue && i+1 < len(args) {
			value = args[i+1]
		}
		if strings.Contains(connstr.RedactText(value), connstr.Mask) {
			return fmt.Errorf("%s holds a password, which the agent would put on its command line: with --remote, write the replication in a configuration file (config generate writes one) with the URLs in variables (--var, sealed and redacted) or in the agent's environment, or use URLs without a password and a .pgpass on the agent", name)
		}
	}
	return nil
}

func containsFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) (int, any) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	js, err := s.Store.ListJobs(r.Context(), limit)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	if js == nil {
		js = []*store.Job{}
	}
	return http.StatusOK, map[string]any{"jobs": js}
}

func (s *Server) job(r *http.Request) (*store.Job, int, error) {
	j, err := s.Store.GetJob(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, http.StatusNotFound, err
	}
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	return j, 0, nil
}

func (s *Server) show(w http.ResponseWriter, r *http.Request) (int, any) {
	j, code, err := s.job(r)
	if err != nil {
		return code, err
	}
	return http.StatusOK, JobResponse{Job: j}
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request) (int, any) {
	j, code, err := s.job(r)
	if err != nil {
		return code, err
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	lines, err := s.Store.Logs(r.Context(), j.ID, after, 1000)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	return http.StatusOK, LogsResponse{Job: j, Lines: lines}
}

// streamHandler streams a job's log as NDJSON: one store.LogLine per line
// as the job writes them, then one {"job": ...} line once it is over.
func (s *Server) streamHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trace := traceID(r.Header.Get(TraceHeader))
		w.Header().Set(TraceHeader, trace)
		fail := func(code int, err error) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(errorBody{Error: err.Error(), TraceID: trace})
			s.requests.WithLabelValues("GET /v1/jobs/{id}/stream", strconv.Itoa(code)).Inc()
		}
		k, code, err := s.authenticate(r, keys.ScopeRead)
		if err != nil {
			fail(code, err)
			return
		}
		j, code, err := s.job(r)
		if err != nil {
			fail(code, err)
			return
		}
		s.requests.WithLabelValues("GET /v1/jobs/{id}/stream", "200").Inc()
		s.Log.Debug("log stream", "trace_id", trace, "job_id", j.ID, "key_id", k.ID)
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		flusher, _ := w.(http.Flusher)
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		for {
			// The job is read before its lines: once it is over, every
			// line it wrote is already stored.
			j, err := s.Store.GetJob(r.Context(), j.ID)
			if err != nil {
				return
			}
			lines, err := s.Store.Logs(r.Context(), j.ID, after, 1000)
			if err != nil {
				return
			}
			for _, l := range lines {
				_ = enc.Encode(l)
				after = l.Seq
			}
			if flusher != nil {
				flusher.Flush()
			}
			if len(lines) == 0 && store.Final(j.Status) {
				_ = enc.Encode(JobResponse{Job: j})
				return
			}
			if len(lines) > 0 {
				continue
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
	})
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) (int, any) {
	j, code, err := s.job(r)
	if err != nil {
		return code, err
	}
	if store.Final(j.Status) {
		return http.StatusConflict, fmt.Errorf("job %s already %s", j.ID, j.Status)
	}
	j, err = s.Store.RequestCancel(r.Context(), j.ID)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	s.Log.Info("cancel requested", "trace_id", traceOf(r), "job_id", j.ID, "job_trace_id", j.TraceID)
	return http.StatusAccepted, JobResponse{Job: j}
}

func (s *Server) replications(w http.ResponseWriter, r *http.Request) (int, any) {
	leases, err := s.Store.ListLeases(r.Context())
	if err != nil {
		return http.StatusInternalServerError, err
	}
	out := []Replication{}
	for _, l := range leases {
		rep := Replication{Lease: l}
		if j, err := s.Store.GetJob(r.Context(), l.JobID); err == nil {
			rep.Job = j
		}
		hist, err := s.Store.Lag(r.Context(), l.Key, 120)
		if err != nil {
			return http.StatusInternalServerError, err
		}
		if len(hist) > 0 {
			rep.Lag = &hist[len(hist)-1]
		}
		if r.URL.Query().Get("history") != "" {
			rep.Hist = hist
		}
		out = append(out, rep)
	}
	return http.StatusOK, map[string]any{"replications": out}
}
