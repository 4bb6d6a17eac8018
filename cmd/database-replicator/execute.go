package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/database-replicator/database-replicator/cmd/database-replicator/views"
	"github.com/database-replicator/database-replicator/executor"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/actions"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/state"
)

// execute applies a plan with the configuration's endpoints.
func (a *app) execute(cfg *lang.Config, eps *endpoints.Set, backend state.Backend, p *plans.Plan, parallelism int) error {
	prior, err := backend.Read(a.ctx)
	if err != nil {
		return err
	}
	return a.runPlan(cfg, eps, backend, prior, p, parallelism)
}

// runPlan runs the executor over p and prints the outcome.
func (a *app) runPlan(cfg *lang.Config, eps *endpoints.Set, backend state.Backend, prior *state.State, p *plans.Plan, parallelism int) error {
	servers, jobs, err := actions.EndpointsFor(cfg, eps)
	if err != nil {
		return err
	}
	if parallelism > 0 {
		jobs = parallelism
	}
	view, logOut := views.NewProgress(p, a.log, a.io.stderrTTY && !a.global.NoColor, a.io.stderr, a.progressEvery)
	log := a.log
	if logOut != nil {
		log = newLoggerTo(a.global, logOut, false)
	}
	prov := actions.New(p, servers, log)
	defer prov.Close(context.Background())
	start := time.Now()
	res, err := executor.Run(a.ctx, p, prov, backend, prior, executor.Options{
		Parallelism: jobs,
		Limits:      map[addrs.Kind]int{addrs.Table: jobs},
		Logger:      log,
		OnEvent:     view.Event,
	})
	view.Close()
	if res != nil {
		fmt.Fprintf(a.io.stdout, "\nApplied %d change(s), %d failed, %d skipped in %s.\n",
			len(res.Applied), len(res.Failed), len(res.Skipped), time.Since(start).Round(time.Millisecond))
	}
	if err != nil {
		return withResumeHint(a.command, err)
	}
	return nil
}

// withResumeHint adds to the error of an interrupted run, or of one that
// lost a server connection (a restart, a network reset), that the state
// records what finished and that running command again resumes; the
// addresses in err name the steps that failed.
func withResumeHint(command string, err error) error {
	resume := "run " + command + " again to resume"
	switch {
	case strings.Contains(err.Error(), resume):
		return err
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%w\nthe state records what finished: %s", err, resume)
	case conninfo.ConnectionLost(err):
		return fmt.Errorf("%w\na server connection was lost during the step(s) above (a restart or a network fault); the state records what finished: %s", err, resume)
	}
	return err
}

// resolveEndpoints parses the connection string of every endpoint of cfg,
// once per command.
func resolveEndpoints(cfg *lang.Config) (*endpoints.Set, error) {
	if cfg == nil {
		return nil, errors.New("no configuration: pass -c PATH or --source/--target")
	}
	return endpoints.Resolve(cfg)
}
