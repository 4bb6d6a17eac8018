package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/hashicorp/go-hclog"
)

// version, commit and buildDate are set at build time with -ldflags
// "-X main.version=... -X main.commit=... -X main.buildDate=..." (make
// build, make release); a plain `go build` falls back to the module's VCS
// stamp.
var (
	version   = "dev"
	commit    = ""
	buildDate = ""
)

// versionLine is what --version prints: the version, the commit and the
// build date, each "unknown" when neither ldflags nor the VCS stamp says.
func versionLine() string {
	c, d := commit, buildDate
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && c == "":
				c = s.Value
			case s.Key == "vcs.time" && d == "":
				d = s.Value
			}
		}
	}
	if len(c) > 12 {
		c = c[:12]
	}
	if c == "" {
		c = "unknown"
	}
	if d == "" {
		d = "unknown"
	}
	return fmt.Sprintf("database-replicator %s (commit %s, built %s)", version, c, d)
}

// ioEnv is everything a command may touch of the outside world, so that
// tests can run commands in-process.
type ioEnv struct {
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	lookupEnv func(string) (string, bool)
	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool
}

// cli is the command tree. Only commands that work are registered.
type cli struct {
	Globals

	Validate validateCmd `cmd:"" help:"Check the configuration, then check every source and target server (--offline: configuration only)."`
	Fmt      fmtCmd      `cmd:"" help:"Rewrite HCL configuration files in canonical format."`
	Config   configCmd   `cmd:"" help:"Work with configuration files."`
	Plan     planCmd     `cmd:"" help:"Introspect source and target, diff against the configuration and state, and print the plan."`
	Apply    applyCmd    `cmd:"" help:"Make the target match the plan: snapshot copy, then replication objects. Resumable."`
	Init     initCmd     `cmd:"" help:"Copy the snapshot (everything but the subscription), with a size estimate first. Resumable."`
	Sync     syncCmd     `cmd:"" help:"Create or repair the subscriptions, then keep the target in sync: xmin cycles, sequences, lag. --daemon runs it in the background."`
	Status   statusCmd   `cmd:"" help:"Replication state per database: subscription, table sync states, slot, lag in bytes and seconds, retained WAL."`
	Verify   verifyCmd   `cmd:"" help:"Compare source and target: the schema object by object, the rows table by table with bucketed checksums; list what differs. Exit 2 on differences."`
	Cutover  cutoverCmd  `cmd:"" help:"Switch to the target: preflight, fence writes on the source, drain exactly, sync sequences, a final check, detach. Resumable; rolls back on failure."`
	Pause    pauseCmd    `cmd:"" help:"Pause continuous sync (--source/--target): disable the subscription, its slot keeping the source's changes, or stop xmin cycles. With a configuration file: sync { enabled = false }."`
	Resume   resumeCmd   `cmd:"" help:"Resume continuous sync paused by pause, or a subscription disabled by hand (--source/--target). With a configuration file: sync { enabled = true }."`
	Destroy  destroyCmd  `cmd:"" help:"Remove the subscriptions, slots and publications the state records (target data stays unless --drop-data)."`
	Import   importCmd   `cmd:"" help:"Bring an existing publication, slot or subscription (e.g. the predecessor's) under management: check it against the configuration, then record it in the state."`
	Show     showCmd     `cmd:"" help:"Render a plan saved with 'plan --out'."`
	StateCmd stateCmd    `cmd:"" name:"state" help:"Inspect or edit the state."`
	Agent    agentCmd    `cmd:"" help:"Run the remote-execution agent (jobs queued in PostgreSQL, HTTP API, dashboard); manage its API keys."`
	Jobs     jobsCmd     `cmd:"" help:"List, show, follow and cancel the jobs of an agent (--remote / REPLICATOR_REMOTE)."`

	Version kong.VersionFlag `help:"Print the version and exit."`
}

// Globals are the flags every command accepts.
type Globals struct {
	Config    string   `short:"c" help:"Configuration file or directory of *.hcl files (a .toml file is read as the predecessor's format)." default:"replication.hcl" placeholder:"PATH"`
	Var       []string `help:"Set a variable, NAME=VALUE (repeatable). Overrides REPLICATOR_VAR_NAME and the default." sep:"none" placeholder:"NAME=VALUE"`
	LogLevel  string   `help:"Log level: trace, debug, info, warn, error, off." enum:"trace,debug,info,warn,error,off" default:"info"`
	LogFormat string   `help:"Log format: text or json." enum:"text,json" default:"text"`
	NoColor   bool     `help:"Disable colour in output (also when NO_COLOR is set)."`
	// NoInteractive is the predecessor's flag: never prompt.
	NoInteractive bool   `help:"Never prompt: a command that would ask for confirmation fails instead, naming the flag that skips the question (-y/--yes)."`
	State         string `help:"Local state file to use instead of the configuration's state block." placeholder:"PATH"`
	// Accessible makes the interactive setup ask plain numbered questions.
	Accessible bool `help:"Interactive setup for screen readers: plain numbered questions, one per line (also REPLICATOR_ACCESSIBLE=1)."`
	remoteFlags
}

// exitError carries a specific exit code. A nil err means the message was
// already printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode returns an error that makes the process exit with code without
// printing anything more.
func exitCode(code int) error { return &exitError{code: code} }

// kongExit is raised by kong's exit hook (after --help or --version) and
// caught in run, so that run never calls os.Exit itself.
type kongExit struct{ code int }

// app is what every command's Run receives: I/O, logger and options.
type app struct {
	ctx    context.Context
	io     *ioEnv
	log    hclog.Logger
	color  bool
	global *Globals
	// progressEvery is the interval of progress log lines without a terminal.
	progressEvery time.Duration
	// args are the command-line arguments (sync --daemon passes them on).
	args []string
	// command is the command that runs (apply, init, sync, ...): the one a
	// rerun resumes with.
	command string
}

func run(ctx context.Context, args []string, env *ioEnv) (code int) {
	var c cli
	if len(args) == 1 && args[0] == daemonChildArg {
		real, err := daemonArgs(env.stdin)
		if err != nil {
			fmt.Fprintf(env.stderr, "Error: %v\n", err)
			return 1
		}
		defer removeOwnPIDFile()
		args = real
	}
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(kongExit); ok {
				code = e.code
				return
			}
			panic(r)
		}
	}()
	parser, err := kong.New(&c,
		kong.Name("database-replicator"),
		kong.Description("Zero-downtime PostgreSQL replication, declared in HCL: plan, apply, keep in sync, verify."),
		kong.Writers(env.stdout, env.stderr),
		kong.Exit(func(code int) { panic(kongExit{code}) }),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Vars{"version": versionLine()},
	)
	if err != nil {
		fmt.Fprintf(env.stderr, "Error: internal CLI definition: %v\n", err)
		return 1
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(env.stderr, "Error: %v\n", err)
		var perr *kong.ParseError
		if errors.As(err, &perr) {
			fmt.Fprintln(env.stderr, "Run 'database-replicator --help' for usage.")
		}
		return 1
	}
	a := &app{ctx: ctx, io: env, global: &c.Globals, progressEvery: 10 * time.Second, args: args}
	a.command, _, _ = strings.Cut(kctx.Command(), " ")
	if v, ok := env.lookupEnv("REPLICATOR_PROGRESS_INTERVAL"); ok {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			a.progressEvery = d
		}
	}
	_, noColorEnv := env.lookupEnv("NO_COLOR")
	a.color = !c.NoColor && !noColorEnv && env.stdoutTTY
	a.log = newLogger(&c.Globals, env, !c.NoColor && !noColorEnv && env.stderrTTY)
	run := func() error {
		if err := a.checkLocalFlags(); err != nil {
			return err
		}
		return kctx.Run(a)
	}
	if url := a.remoteURL(); url != "" && a.command != "jobs" && a.command != "agent" {
		run = func() error { return a.runRemote(url, c.remoteRefusal()) }
	}
	if err := run(); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintf(env.stderr, "\nError: %v\n", ee.err)
			}
			return ee.code
		}
		fmt.Fprintf(env.stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}

// newLogger builds the hclog logger selected by the global flags.
func newLogger(g *Globals, env *ioEnv, color bool) hclog.Logger {
	return newLoggerTo(g, env.stderr, color)
}

// newLoggerTo builds the logger of the global flags writing to out.
func newLoggerTo(g *Globals, out io.Writer, color bool) hclog.Logger {
	opts := &hclog.LoggerOptions{
		Name:       "database-replicator",
		Level:      hclog.LevelFromString(g.LogLevel),
		Output:     out,
		JSONFormat: g.LogFormat == "json",
		Color:      hclog.ColorOff,
	}
	if g.LogLevel == "off" {
		opts.Level = hclog.Off
	}
	if color && !opts.JSONFormat {
		opts.Color = hclog.AutoColor
	}
	return hclog.New(opts)
}

// parseVars turns repeated --var NAME=VALUE flags into a map.
func parseVars(flags []string) (map[string]string, error) {
	vars := map[string]string{}
	for _, f := range flags {
		name, value, ok := strings.Cut(f, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("--var %q: expected NAME=VALUE, e.g. --var source_url=postgres://host/db", f)
		}
		vars[name] = value
	}
	return vars, nil
}
