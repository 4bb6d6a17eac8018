package main

import (
	"context"
	"fmt"

	"github.com/database-replicator/database-replicator/cmd/database-replicator/views"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/status"
)

// statusCmd reports replication state and lag.
type statusCmd struct {
	JSON        bool         `name:"json" help:"Print the status as JSON."`
	Watch       intervalFlag `help:"Redraw every DURATION until interrupted (e.g. 5s)." placeholder:"DURATION"`
	MaxLag      intervalFlag `help:"Also exit 2 when lag exceeds DURATION (status exits 2 whenever replication is not streaming)." placeholder:"DURATION"`
	MaxRetained sizeFlag     `help:"Also exit 2 when a replication slot retains more WAL on the source than SIZE (e.g. 10GB)." placeholder:"SIZE"`
	connectionFlags
}

// Run implements the command.
func (c *statusCmd) Run(a *app) error {
	cfg, err := a.loadConfigOrFlags(&c.connectionFlags)
	if err != nil {
		return err
	}
	eps, err := resolveEndpoints(cfg)
	if err != nil {
		return err
	}
	view := views.NewStatusView(a.io.stdout, c.JSON)
	if c.Watch.D > 0 {
		return status.Watch(a.ctx, c.Watch.D, func(ctx context.Context) error {
			rows, err := a.collectStatus(ctx, cfg, eps)
			if err != nil {
				return err
			}
			if a.io.stdoutTTY {
				views.ClearScreen(a.io.stdout)
			}
			return view.Status(rows)
		})
	}
	rows, err := a.collectStatus(a.ctx, cfg, eps)
	if err != nil {
		return err
	}
	if err := view.Status(rows); err != nil {
		return err
	}
	// Exit 2 when a slot retains more WAL than --max-retained (first: a
	// slot nobody consumes fills the source's disk), and whenever a
	// database is not streaming (every broken state is one); --max-lag
	// adds the lag check.
	if bad := status.RetainedOver(rows, c.MaxRetained.N); bad != "" {
		return &exitError{code: 2, err: fmt.Errorf("status: %s", bad)}
	}
	if bad := status.Unhealthy(rows, c.MaxLag.D); bad != "" {
		return &exitError{code: 2, err: fmt.Errorf("status: %s", bad)}
	}
	return nil
}

// collectStatus reads the state and collects the status of every database.
func (a *app) collectStatus(ctx context.Context, cfg *lang.Config, eps *endpoints.Set) ([]status.Row, error) {
	backend, err := a.stateBackend(cfg)
	if err != nil {
		return nil, err
	}
	st, err := backend.Read(ctx)
	if err != nil {
		return nil, err
	}
	return status.Collect(ctx, status.Input{Config: cfg, Endpoints: eps, State: st, Log: a.log})
}
