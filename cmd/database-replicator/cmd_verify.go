package main

import (
	"fmt"

	"github.com/database-replicator/database-replicator/cmd/database-replicator/views"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/verify"
)

// verifyCmd compares source and target row by row, by checksums.
type verifyCmd struct {
	JSON    bool     `name:"json" help:"Print the result as JSON."`
	Table   []string `help:"Only this table (db.table or db.schema.table; repeatable)." placeholder:"TABLE" sep:"none"`
	MaxKeys int      `help:"Differing keys listed per kind and table." default:"20"`
}

// Run implements the command.
func (c *verifyCmd) Run(a *app) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	eps, err := endpoints.Resolve(cfg)
	if err != nil {
		return err
	}
	var want []lang.TableRef
	for _, t := range c.Table {
		ref, err := lang.ParseTableRef(t)
		if err != nil {
			return fmt.Errorf("--table: %w", err)
		}
		want = append(want, ref)
	}
	verdicts, differ, err := verify.Run(a.ctx, verify.Input{Config: cfg, Endpoints: eps, Tables: want, MaxKeys: c.MaxKeys})
	if err != nil {
		return err
	}
	if err := views.NewVerifyView(a.io.stdout, c.JSON).Verdicts(verdicts, differ); err != nil {
		return err
	}
	if differ > 0 {
		return &exitError{code: 2, err: fmt.Errorf("verify: %d table(s) differ", differ)}
	}
	return nil
}
