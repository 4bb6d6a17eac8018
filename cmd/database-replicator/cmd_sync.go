package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/database-replicator/database-replicator/cmd/database-replicator/views"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/planning"
	"github.com/database-replicator/database-replicator/providers/postgres/syncloop"
)

// syncCmd applies the sync part of the plan (subscriptions) and runs the
// continuous-sync loop: xmin cycles, sequence syncs, lag reports.
type syncCmd struct {
	Once              bool         `help:"Run one full cycle (xmin: changed rows, reconciliation unless --no-reconcile, sequences; logical: sequences and a status line) and exit."`
	SyncInterval      intervalFlag `help:"Time between xmin cycles and sequence syncs, e.g. 30s, 5m or 300 (seconds; default: the configuration's sync.interval)." placeholder:"DURATION"`
	ReconcileInterval intervalFlag `help:"Time between reconciliations that find rows deleted on the source, e.g. 1h, 1d or 86400 (xmin; default: sync.reconcile_interval)." placeholder:"DURATION"`
	NoReconcile       bool         `help:"Never reconcile (xmin): deleted rows stay on the target."`
	Daemon            bool         `help:"Run in the background: log in ~/.database-replicator/sync.log, pid in ~/.database-replicator/sync.pid." xor:"daemon"`
	DaemonStatus      bool         `help:"Report whether a background sync runs (exit 1 when none)." xor:"daemon"`
	Stop              bool         `help:"Stop the background sync: it finishes the batch it is applying and exits." xor:"daemon"`
	MetricsAddr       string       `help:"Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9187)." placeholder:"ADDR"`
	connectionFlags
}

// Validate checks the interval flags against the bounds of the
// configuration's sync.interval and sync.reconcile_interval.
func (c *syncCmd) Validate() error {
	if c.SyncInterval.Set {
		if err := lang.CheckSyncInterval(c.SyncInterval.D); err != nil {
			return fmt.Errorf("--sync-interval: %w", err)
		}
	}
	if c.ReconcileInterval.Set {
		if err := lang.CheckSyncInterval(c.ReconcileInterval.D); err != nil {
			return fmt.Errorf("--reconcile-interval: %w; use --no-reconcile to turn reconciliation off", err)
		}
	}
	return nil
}

// Run implements the command.
func (c *syncCmd) Run(a *app) error {
	switch {
	case c.DaemonStatus:
		return a.daemonStatus()
	case c.Stop:
		return a.daemonStop()
	case c.Daemon:
		return a.daemonStart()
	}
	var cfg *lang.Config
	var err error
	if a.pickerWanted(&c.connectionFlags, false) {
		cfg, err = a.pickAndLoad(&c.connectionFlags, pickerNext{Then: "go on with sync",
			Detail: "sync then creates the subscriptions (after init, or apply, copied the snapshot) and keeps the target in sync."})
	} else {
		cfg, err = a.loadConfigOrFlags(&c.connectionFlags)
	}
	if err != nil {
		return err
	}
	eps, err := resolveEndpoints(cfg)
	if err != nil {
		return err
	}
	// One sync per replication: a second one (daemon, foreground or
	// --once) refuses here, naming the holder, before it changes anything.
	release, err := syncloop.Exclusive(a.ctx, cfg, eps, syncCommandName(c))
	if err != nil {
		return err
	}
	defer release()
	view := views.NewSyncView(a.io.stdout)
	jobs, held, err := a.prepareSync(cfg, eps, c, view)
	if err != nil {
		return err
	}
	m := syncloop.NewMetrics()
	if c.MetricsAddr != "" {
		addr, err := m.Serve(a.ctx, c.MetricsAddr)
		if err != nil {
			return err
		}
		a.log.Info("serving Prometheus metrics", "url", "http://"+addr+"/metrics")
	}
	opts := syncloop.Options{
		Once:        c.Once,
		StatusEvery: min(a.progressEvery, syncloop.DefaultStatusEvery),
		Log:         a.log,
		Report:      view,
		Metrics:     m,
	}
	// Partitions and schemas changed on the source while sync runs are
	// repaired as at start: plan, then apply what policy.on_schema_drift
	// allows.
	opts.RunJob = syncloop.RepairingRunJob(opts, syncloop.Repair{
		Held: held, OwnSchemas: planning.OwnSchemas(cfg), SchemaEvery: schemaCheckEvery,
		Run: func(context.Context) ([]syncloop.Held, error) {
			_, held, err := a.prepareSync(cfg, eps, c, view)
			return held, err
		},
	})
	return syncloop.Run(a.ctx, jobs, opts)
}

// schemaCheckEvery is the least time between two schema comparisons of
// a running sync (each reads the catalogs of both sides).
const schemaCheckEvery = 10 * time.Second

// syncCommandName names this sync for the holder of the sync lock.
func syncCommandName(c *syncCmd) string {
	switch {
	case slices.Contains(os.Args, daemonChildArg):
		return "sync --daemon"
	case c.Once:
		return "sync --once"
	}
	return "sync"
}

// prepareSync plans under the state lock, refuses a plan with errors, and
// hands the rest to syncloop.Prepare: the subscriptions are created or
// repaired and each replication's loop described.
//
// Schema drift under policy.on_schema_drift = "plan" is held for review:
// its repair (and what depends on it) is left out, the databases are
// paused (syncloop.HoldForReview, PauseForReview) and returned as held.
// Under "fail" the error stops a running sync (*syncloop.StopError).
func (a *app) prepareSync(cfg *lang.Config, eps *endpoints.Set, c *syncCmd, view views.SyncView) ([]*syncloop.Job, []syncloop.Held, error) {
	backend, unlock, err := a.lockState(cfg, "sync")
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	plan, diags, err := a.makePlan(cfg, eps, backend, nil)
	if err != nil {
		return nil, nil, err
	}
	if diags.HasErrors() {
		if err := a.renderPlan(plan, false, false); err != nil {
			return nil, nil, err
		}
		err := &exitError{code: 1, err: fmt.Errorf("sync: %d error(s) above must be fixed first; nothing was changed", len(diags.Errors()))}
		for _, d := range diags.Errors() {
			if d.Code == planner.CodeSchemaDrift {
				return nil, nil, &syncloop.StopError{Err: &exitError{code: 1, err: fmt.Errorf("sync: schema drift on %s: %s", d.Address, d.Detail)}}
			}
		}
		return nil, nil, err
	}
	if subs := planner.DisabledByHand(diags); len(subs) > 0 {
		if err := a.renderPlan(plan, false, false); err != nil {
			return nil, nil, err
		}
		fix := "run apply to enable it, or set sync { enabled = false } to keep it paused"
		if cfg.FlagMode {
			fix = "run database-replicator resume to enable it, or database-replicator pause to keep it paused"
		}
		return nil, nil, &exitError{code: 1, err: fmt.Errorf("sync: %s was disabled outside database-replicator and sync does not enable it silently: %s; nothing was changed", strings.Join(subs, ", "), fix)}
	}
	held := syncloop.HoldForReview(plan, cfg)
	if len(held) > 0 {
		if err := syncloop.PauseForReview(a.ctx, cfg, eps, held); err != nil {
			return nil, nil, err
		}
		for _, h := range held {
			a.log.Warn("paused: schema drift awaits a reviewed plan (policy.on_schema_drift = \"plan\"): review it with plan, then run apply",
				"replication", h.Replication, "database", h.Database, "drift", h.Drift)
		}
	}
	jobs, choices, err := syncloop.Prepare(a.ctx, syncloop.PrepareInput{
		Jobs: syncloop.JobsInput{Config: cfg, Endpoints: eps, SyncInterval: c.SyncInterval.D,
			ReconcileInterval: c.ReconcileInterval.D, NoReconcile: c.NoReconcile, Log: a.log},
		Plan:  plan,
		State: backend,
		Show:  func(p *plans.Plan) error { return a.renderPlan(p, false, false) },
		Apply: func(_ context.Context, p *plans.Plan) error { return a.execute(cfg, eps, backend, p, 0) },
	})
	for _, ch := range choices {
		view.Method(ch)
	}
	var incomplete *syncloop.SnapshotIncompleteError
	if errors.As(err, &incomplete) {
		return nil, nil, &exitError{code: 1, err: err}
	}
	return jobs, held, err
}
