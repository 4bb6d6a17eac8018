package jobs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/database-replicator/database-replicator/agent/seal"
	"github.com/database-replicator/database-replicator/agent/store"
	"github.com/hashicorp/go-hclog"
	"github.com/riverqueue/river"
)

// Runner runs jobs on this agent.
type Runner struct {
	Store  *store.Store
	Sealer *seal.Sealer
	// AgentID names this agent in jobs and leases.
	AgentID string
	// Exe is the database-replicator binary the commands run with.
	Exe string
	// WorkDir holds one directory per replication (named by
	// Payload.ReplicationKey): configuration files, a local state file.
	WorkDir string
	// Env is the environment commands inherit (the agent's own).
	Env []string
	// LeaseTTL is how long a sync lease lives without a heartbeat.
	LeaseTTL time.Duration
	// CancelGrace is how long a command has to stop after an interrupt.
	CancelGrace time.Duration
	Log         hclog.Logger
	// OnFinish is called with each finished job's command and status.
	OnFinish func(command, status string)
}

// Worker is the river worker of Args.
type Worker struct {
	river.WorkerDefaults[Args]
	R *Runner
}

// Timeout implements river.Worker: jobs have their own (--job-timeout),
// a sync none.
func (w *Worker) Timeout(*river.Job[Args]) time.Duration { return -1 }

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, job *river.Job[Args]) error {
	return w.R.Run(ctx, job.Args.JobID)
}

// Run runs job id when it is still queued.
func (r *Runner) Run(ctx context.Context, id string) error {
	started, err := r.Store.StartJob(ctx, id, r.AgentID)
	if err != nil || !started {
		return err
	}
	j, err := r.Store.GetJob(ctx, id)
	if err != nil {
		return err
	}
	log := r.Log.With("job_id", j.ID, "trace_id", j.TraceID, "command", j.Command)
	log.Info("job started", "attempt", j.Attempt)
	status, code, msg := r.run(ctx, j, log)
	fctx := context.WithoutCancel(ctx)
	if ctx.Err() != nil && j.LeaseKey != "" && status != store.StatusCancelled {
		// The agent is stopping: leave the sync running in the books; its
		// lease expires and another agent resumes it.
		log.Info("agent stopping: the sync lease will expire and another agent resumes the sync")
		return nil
	}
	if err := r.Store.FinishJob(fctx, j.ID, r.AgentID, status, code, msg); err != nil {
		log.Error("could not record the job's outcome", "error", err)
	}
	if j.LeaseKey != "" {
		if err := r.Store.ReleaseLease(fctx, j.LeaseKey, j.ID, r.AgentID); err != nil {
			log.Warn("could not release the sync lease", "error", err)
		}
	}
	log.Info("job finished", "status", status, "exit_code", code)
	if r.OnFinish != nil {
		r.OnFinish(j.Command, status)
	}
	return nil
}

// run runs the command of j and returns its status, exit code and error.
func (r *Runner) run(ctx context.Context, j *store.Job, log hclog.Logger) (string, int, string) {
	fail := func(msg string) (string, int, string) {
		_ = r.Store.AppendLogs(context.WithoutCancel(ctx), j.ID, []store.LogLine{{Stream: "stderr", Line: "Error: " + msg}})
		return store.StatusFailed, 1, msg
	}
	sealed, err := r.Store.Payload(ctx, j.ID)
	if err != nil {
		return fail(err.Error())
	}
	p, err := OpenPayload(r.Sealer, sealed)
	if err != nil {
		return fail(err.Error())
	}
	if j.LeaseKey != "" {
		l, held, err := r.Store.AcquireLease(ctx, j.LeaseKey, j.ID, r.AgentID, r.LeaseTTL)
		if err != nil {
			return fail(err.Error())
		}
		if !held {
			return fail(fmt.Sprintf("the continuous sync of this replication already runs on agent %s as job %s: cancel that job first (jobs cancel %s)", l.Holder, l.JobID, l.JobID))
		}
		log.Info("holding the sync lease", "lease", j.LeaseKey)
	}
	key := j.LeaseKey
	if key == "" {
		key = p.ReplicationKey(EnvLookup(r.Env))
	}
	dir := filepath.Join(r.WorkDir, key)
	cfgDir := filepath.Join(dir, "jobs", j.ID)
	args, err := prepare(cfgDir, j.Command, p)
	if err != nil {
		return fail(err.Error())
	}
	defer os.RemoveAll(cfgDir)
	red := newRedactor(p.Vars)
	out := &logSink{store: r.Store, job: j.ID, red: red, log: log}
	if j.LeaseKey != "" {
		out.lagKey = j.LeaseKey
	}
	if j.Attempt > 1 {
		out.add("stderr", fmt.Sprintf("agent %s resumes %s (attempt %d) from the state", r.AgentID, j.Command, j.Attempt))
	}

	cmd := exec.Command(r.Exe, args...)
	cmd.Dir = dir
	cmd.Env = r.childEnv(p.Vars)
	setChildAttrs(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fail(err.Error())
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fail(err.Error())
	}
	exited := make(chan struct{})
	defer close(exited)
	if err := startChild(cmd, exited); err != nil {
		return fail(fmt.Sprintf("start %s: %v", j.Command, err))
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); out.copy(ctx, "stdout", stdout) }()
	go func() { defer wg.Done(); out.copy(ctx, "stderr", stderr) }()
	done := make(chan error, 1)
	go func() { wg.Wait(); done <- cmd.Wait() }()

	var deadline <-chan time.Time
	if j.TimeoutMS > 0 {
		t := time.NewTimer(time.Duration(j.TimeoutMS) * time.Millisecond)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	beatEvery := max(r.LeaseTTL/3, time.Second)
	lastBeat := time.Now()
	status := ""
	var killAt <-chan time.Time
	interrupt := func(why string) {
		if status != "" {
			return
		}
		status = why
		_ = cmd.Process.Signal(os.Interrupt)
		killAt = time.After(r.CancelGrace)
	}
	flush := time.NewTicker(300 * time.Millisecond)
	defer flush.Stop()
	stopping := ctx.Done()
	for {
		select {
		case werr := <-done:
			out.flush(context.WithoutCancel(ctx))
			code := exitCode(werr)
			switch {
			case status == store.StatusTimedOut:
				// The command stopped cleanly (often exit 0), the job did not finish.
				return status, max(code, 1), fmt.Sprintf("%s exceeded its job timeout of %s and was interrupted; the state records what finished: run it again to resume", j.Command, time.Duration(j.TimeoutMS)*time.Millisecond)
			case status == store.StatusCancelled:
				return status, max(code, 1), "cancelled on request"
			case status == "agent-stopping":
				return store.StatusFailed, max(code, 1), "the agent stopped and interrupted the job; the state records what finished: run it again to resume"
			case status == "lost":
				return store.StatusFailed, code, "another agent failed or took over this job while it ran here"
			case code == 0:
				return store.StatusSucceeded, 0, ""
			default:
				return store.StatusFailed, code, fmt.Sprintf("%s exited with code %d", j.Command, code)
			}
		case <-flush.C:
			out.flush(ctx)
		case <-stopping:
			stopping = nil // closed for good: select it once
			interrupt("agent-stopping")
		case <-deadline:
			out.add("stderr", fmt.Sprintf("job timeout of %s reached: interrupting %s", time.Duration(j.TimeoutMS)*time.Millisecond, j.Command))
			interrupt(store.StatusTimedOut)
		case <-killAt:
			_ = cmd.Process.Kill()
		case <-tick.C:
			c, mine, err := r.Store.Control(context.WithoutCancel(ctx), j.ID, r.AgentID)
			switch {
			case err != nil:
				log.Warn("read the job's cancel flag", "error", err)
			case !mine && status == "":
				// Another agent declared this one dead and failed or took
				// over the job: stop at once, the outcome is recorded.
				log.Error("the job was failed or taken over by another agent: stopping it")
				status = "lost"
				_ = cmd.Process.Kill()
			case c:
				out.add("stderr", "cancel requested: interrupting "+j.Command)
				interrupt(store.StatusCancelled)
			}
			if j.LeaseKey != "" && time.Since(lastBeat) >= beatEvery {
				ok, err := r.Store.Heartbeat(context.WithoutCancel(ctx), j.LeaseKey, j.ID, r.AgentID)
				switch {
				case err != nil:
					log.Warn("sync lease heartbeat failed", "error", err)
				case !ok:
					log.Error("the sync lease was taken over by another agent: stopping this sync")
					status = "lost"
					_ = cmd.Process.Kill()
				default:
					lastBeat = time.Now()
				}
			}
		}
	}
}

// prepare writes the configuration files of p into cfgDir (the job's own:
// jobs of one replication run in its directory, which holds a local state
// file, and may run at the same time) and returns the command line.
func prepare(cfgDir, command string, p *Payload) ([]string, error) {
	if err := os.RemoveAll(cfgDir); err != nil {
		return nil, fmt.Errorf("clean %s: %w", cfgDir, err)
	}
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", cfgDir, err)
	}
	var only string
	for name, content := range p.Files {
		base := filepath.Base(name)
		if base != name || base == "." || base == ".." {
			return nil, fmt.Errorf("configuration file name %q: want a base name", name)
		}
		if err := os.WriteFile(filepath.Join(cfgDir, base), []byte(content), 0o600); err != nil {
			return nil, fmt.Errorf("write configuration %s: %w", base, err)
		}
		only = base
	}
	args := []string{command}
	args = append(args, p.Args...)
	args = append(args, "--no-color")
	switch len(p.Files) {
	case 0:
	case 1:
		args = append(args, "-c", filepath.Join(cfgDir, only))
	default:
		args = append(args, "-c", cfgDir)
	}
	return args, nil
}

// childEnv is the agent's environment without its own credentials, plus
// the submitted variables.
func (r *Runner) childEnv(vars map[string]string) []string {
	var env []string
	for _, kv := range r.Env {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "REPLICATOR_AGENT_") || name == "REPLICATOR_API_KEY" || name == "REPLICATOR_REMOTE" {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range vars {
		env = append(env, "REPLICATOR_VAR_"+k+"="+v)
	}
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "REPLICATOR_PROGRESS_INTERVAL=") }) {
		// Progress lines (per-table copy) often enough for the dashboard.
		env = append(env, "REPLICATOR_PROGRESS_INTERVAL=2s")
	}
	return env
}

// exitCode is the exit code of a finished child.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}

// lagLine matches the sync view's lag report, e.g.
// `logical replication.main "app": streaming, lag 1536 bytes / 0.4s`.
var lagLine = regexp.MustCompile(`, lag (\d+) (bytes|kB|MB|GB|TB) / ([0-9.]+)s$`)

// logSink stores a child's output lines, redacted, in batches.
type logSink struct {
	store  *store.Store
	job    string
	red    *redactor
	log    hclog.Logger
	lagKey string

	mu      sync.Mutex
	pending []store.LogLine
}

func (s *logSink) add(stream, line string) {
	s.mu.Lock()
	s.pending = append(s.pending, store.LogLine{Stream: stream, Line: s.red.line(line)})
	s.mu.Unlock()
}

func (s *logSink) copy(ctx context.Context, stream string, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		s.add(stream, line)
		if s.lagKey != "" {
			if m := lagLine.FindStringSubmatch(line); m != nil {
				n, _ := strconv.ParseInt(m[1], 10, 64)
				n *= map[string]int64{"bytes": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[m[2]]
				sec, _ := strconv.ParseFloat(m[3], 64)
				if err := s.store.AddLag(context.WithoutCancel(ctx), s.lagKey, &n, &sec); err != nil {
					s.log.Warn("could not record lag", "error", err)
				}
			}
		}
	}
}

func (s *logSink) flush(ctx context.Context) {
	s.mu.Lock()
	lines := s.pending
	s.pending = nil
	s.mu.Unlock()
	if err := s.store.AppendLogs(ctx, s.job, lines); err != nil {
		s.log.Warn("could not store job output", "error", err)
	}
}
