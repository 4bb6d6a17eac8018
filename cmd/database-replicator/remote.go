package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/database-replicator/database-replicator/agent/api"
	"github.com/database-replicator/database-replicator/agent/client"
	"github.com/database-replicator/database-replicator/agent/jobs"
	"github.com/database-replicator/database-replicator/agent/store"
)

// remoteFlags are the global flags of remote execution on an agent.
type remoteFlags struct {
	Remote     string       `help:"Run plan, apply, init, sync, verify, cutover or destroy as a job on the agent at URL (also REPLICATOR_REMOTE; the key comes from REPLICATOR_API_KEY)." placeholder:"URL"`
	Local      bool         `help:"Run here even when REPLICATOR_REMOTE is set (the predecessor's flag)."`
	JobTimeout intervalFlag `help:"With --remote: interrupt the job after this long, e.g. 12h or 43200 (seconds, as the predecessor wrote it); the state stays resumable." placeholder:"DURATION"`
	Detach     bool         `help:"With --remote: print the job ID and return without following the job."`
}

// remoteURL is the agent to run the command on, or "" to run here.
func (a *app) remoteURL() string {
	if a.global.Local {
		return ""
	}
	if a.global.Remote != "" {
		return a.global.Remote
	}
	u, _ := a.io.lookupEnv("REPLICATOR_REMOTE")
	return u
}

// checkLocalFlags refuses the remote-only flags on a command that runs
// here.
func (a *app) checkLocalFlags() error {
	switch {
	case a.global.JobTimeout.Set:
		return errors.New("--job-timeout applies to jobs on an agent (--remote URL or REPLICATOR_REMOTE): here nothing limits the run; Ctrl-C stops it and the state stays resumable")
	case a.global.Detach:
		return errors.New("--detach applies to jobs on an agent (--remote URL or REPLICATOR_REMOTE); sync --daemon runs a sync here in the background")
	}
	return nil
}

// remoteRefusal names what of the parsed command line cannot run on an
// agent: the files that would be read or written on the agent's machine.
func (c *cli) remoteRefusal() error {
	switch {
	case c.Plan.Out != "":
		return errors.New("plan --out writes the plan file on this machine: run it here (--local), then apply the file here too")
	case c.Apply.PlanFile != "":
		return errors.New("apply PLANFILE reads a plan file on this machine: run it here (--local), or apply without a plan file on the agent (it plans afresh)")
	}
	return nil
}

// remoteClient is the API client of the agent at url.
func (a *app) remoteClient(url string) (*client.Client, error) {
	key, _ := a.io.lookupEnv("REPLICATOR_API_KEY")
	return client.New(url, key)
}

// runRemote submits the command as a job to the agent at url, prints its
// job and trace IDs, follows its output and returns its exit code.
func (a *app) runRemote(url string, refusal error) error {
	if refusal != nil {
		return refusal
	}
	if !jobs.IsCommand(a.command) {
		return fmt.Errorf("%s runs here only: --remote (REPLICATOR_REMOTE) applies to %s; pass --local to silence this", a.command, strings.Join(jobs.Commands, ", "))
	}
	if a.global.State != "" {
		return errors.New("--state names a local file and the agent keeps its own state: drop --state, or run here with --local")
	}
	cl, err := a.remoteClient(url)
	if err != nil {
		return err
	}
	req, err := a.submitRequest()
	if err != nil {
		return err
	}
	job, err := cl.Submit(a.ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.io.stderr, "Job %s submitted to %s (trace ID %s).\n", job.ID, url, job.TraceID)
	if a.global.Detach {
		fmt.Fprintln(a.io.stdout, job.ID)
		return nil
	}
	return a.followJob(cl, job.ID)
}

// followJob prints a job's output until it ends and returns its exit code.
func (a *app) followJob(cl *client.Client, id string) error {
	job, err := cl.Follow(a.ctx, id, a.io.stdout, a.io.stderr, true)
	if err != nil {
		if a.ctx.Err() != nil {
			return &exitError{code: 1, err: fmt.Errorf("stopped following job %s, which goes on on the agent: 'jobs logs %s' follows it again, 'jobs cancel %s' stops it", id, id, id)}
		}
		return err
	}
	code := 1
	if job.ExitCode != nil {
		code = *job.ExitCode
	}
	switch job.Status {
	case store.StatusSucceeded:
		return nil
	case store.StatusTimedOut, store.StatusCancelled:
		return &exitError{code: max(code, 1), err: fmt.Errorf("job %s %s: %s", job.ID, strings.ReplaceAll(job.Status, "_", " "), job.Error)}
	}
	if code == 0 {
		code = 1
	}
	return exitCode(code)
}

// submitRequest is the command line as a job: the configuration files,
// the arguments without the flags that name local files or remote
// execution, the variables of --var.
func (a *app) submitRequest() (*api.SubmitRequest, error) {
	vars, err := parseVars(a.global.Var)
	if err != nil {
		return nil, err
	}
	req := &api.SubmitRequest{Command: a.command, Args: jobArgs(a.args, a.command), Vars: vars}
	if a.global.JobTimeout.Set {
		if a.global.JobTimeout.D <= 0 {
			return nil, fmt.Errorf("--job-timeout %s: want a positive duration", a.global.JobTimeout.D)
		}
		req.TimeoutSeconds = a.global.JobTimeout.D.Seconds()
	}
	files, err := configFiles(a.global.Config)
	if err != nil {
		return nil, err
	}
	req.Files = files
	return req, nil
}

// configFiles reads the configuration at path: one file, or the *.hcl
// files of a directory; nothing when the default path does not exist
// (--source/--target describe the replication).
func configFiles(path string) (map[string]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if path == defaultConfigPath && errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	names := []string{path}
	if fi.IsDir() {
		names, err = filepath.Glob(filepath.Join(path, "*.hcl"))
		if err != nil {
			return nil, fmt.Errorf("configuration %s: %w", path, err)
		}
	}
	files := map[string]string{}
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("configuration %s: %w", n, err)
		}
		files[filepath.Base(n)] = string(data)
	}
	return files, nil
}

// valueFlags are the global flags jobArgs drops together with their value.
var valueFlags = map[string]bool{"--remote": true, "--job-timeout": true, "-c": true, "--config": true, "--var": true}

// jobArgs is args without the command itself and the flags that the job
// gets in another form (configuration files, variables) or that concern
// this process only.
func jobArgs(args []string, command string) []string {
	out := []string{}
	seenCommand := false
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, _, hasValue := strings.Cut(arg, "=")
		switch {
		case !seenCommand && arg == command:
			seenCommand = true
		case arg == "--local" || arg == "--detach":
		case valueFlags[name]:
			if !hasValue {
				i++
			}
		case strings.HasPrefix(arg, "-c") && !strings.HasPrefix(arg, "--"):
			// -cPATH
		default:
			out = append(out, arg)
		}
	}
	return out
}
