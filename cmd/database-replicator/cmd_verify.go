package main

import (
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/cmd/database-replicator/views"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/verify"
)

// verifyCmd compares source and target: the schema object by object, the
// rows by checksums.
type verifyCmd struct {
	JSON       bool     `name:"json" help:"Print the result as JSON."`
	Table      []string `help:"Only this table (db.table or db.schema.table; repeatable)." placeholder:"TABLE" sep:"none"`
	MaxKeys    int      `help:"Differing keys listed per kind and table." default:"20"`
	DataOnly   bool     `name:"data-only" help:"Compare the rows only, not the schema." xor:"only"`
	SchemaOnly bool     `name:"schema-only" help:"Compare the schema only, not the rows." xor:"only"`
	connectionFlags
}

// Run implements the command.
func (c *verifyCmd) Run(a *app) error {
	cfg, err := a.loadConfigOrFlags(&c.connectionFlags)
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
	rep, err := verify.Run(a.ctx, verify.Input{Config: cfg, Endpoints: eps, Tables: want, MaxKeys: c.MaxKeys,
		SkipData: c.SchemaOnly, SkipSchema: c.DataOnly})
	if err != nil {
		return err
	}
	if err := views.NewVerifyView(a.io.stdout, c.JSON).Report(rep); err != nil {
		return err
	}
	var parts []string
	if rep.TablesDiffer > 0 {
		parts = append(parts, fmt.Sprintf("%d table(s)", rep.TablesDiffer))
	}
	if rep.ObjectsDiffer > 0 {
		parts = append(parts, fmt.Sprintf("%d schema object(s)", rep.ObjectsDiffer))
	}
	if len(parts) > 0 {
		return &exitError{code: 2, err: fmt.Errorf("verify: %s differ", strings.Join(parts, " and "))}
	}
	return nil
}
