package main

import (
	"fmt"
	"time"

	"github.com/database-replicator/database-replicator/cmd/database-replicator/views"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/status"
)

// statusCmd reports replication state and lag.
type statusCmd struct {
	JSON   bool          `name:"json" help:"Print the status as JSON."`
	Watch  time.Duration `help:"Redraw every DURATION until interrupted (e.g. 5s)." placeholder:"DURATION"`
	MaxLag time.Duration `help:"Exit 2 when lag exceeds DURATION or replication is not streaming." placeholder:"DURATION"`
}

// Run implements the command.
func (c *statusCmd) Run(a *app) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	eps, err := endpoints.Resolve(cfg)
	if err != nil {
		return err
	}
	view := views.NewStatusView(a.io.stdout, c.JSON)
	for {
		rows, err := a.collectStatus(cfg, eps)
		if err != nil {
			return err
		}
		if c.Watch > 0 && a.io.stdoutTTY {
			fmt.Fprint(a.io.stdout, "\x1b[H\x1b[2J")
		}
		if err := view.Status(rows); err != nil {
			return err
		}
		bad := status.Unhealthy(rows, c.MaxLag)
		if c.Watch <= 0 {
			if c.MaxLag > 0 && bad != "" {
				return &exitError{code: 2, err: fmt.Errorf("status: %s", bad)}
			}
			return nil
		}
		select {
		case <-a.ctx.Done():
			return nil
		case <-time.After(c.Watch):
		}
	}
}

// collectStatus reads the state and collects the status of every database.
func (a *app) collectStatus(cfg *lang.Config, eps *endpoints.Set) ([]status.Row, error) {
	backend, err := a.stateBackend(cfg)
	if err != nil {
		return nil, err
	}
	st, err := backend.Read(a.ctx)
	if err != nil {
		return nil, err
	}
	return status.Collect(a.ctx, status.Input{Config: cfg, Endpoints: eps, State: st, Log: a.log})
}
