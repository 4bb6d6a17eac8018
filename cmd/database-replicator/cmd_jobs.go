package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/database-replicator/database-replicator/agent/client"
)

// jobsCmd reads and cancels the jobs of an agent.
type jobsCmd struct {
	List   jobsListCmd   `cmd:"" help:"List the agent's newest jobs."`
	Show   jobsShowCmd   `cmd:"" help:"Show one job: command, status, exit code, agent, times."`
	Logs   jobsLogsCmd   `cmd:"" help:"Print a job's output (--follow: until it ends, exiting with its exit code)."`
	Cancel jobsCancelCmd `cmd:"" help:"Cancel a job: a queued one never starts, a running one is interrupted (its state stays resumable)."`
}

// agentClient is the client of the agent of --remote / REPLICATOR_REMOTE.
func (a *app) agentClient() (*client.Client, error) {
	url := a.global.Remote
	if url == "" {
		url, _ = a.io.lookupEnv("REPLICATOR_REMOTE")
	}
	if url == "" {
		return nil, errors.New("jobs commands talk to an agent: pass --remote URL or set REPLICATOR_REMOTE (and REPLICATOR_API_KEY)")
	}
	return a.remoteClient(url)
}

type jobsListCmd struct {
	Limit int  `help:"How many jobs." default:"50"`
	JSON  bool `name:"json" help:"Print the jobs as JSON."`
}

// Run implements the command.
func (c *jobsListCmd) Run(a *app) error {
	cl, err := a.agentClient()
	if err != nil {
		return err
	}
	js, err := cl.Jobs(a.ctx, c.Limit)
	if err != nil {
		return err
	}
	if c.JSON {
		return json.NewEncoder(a.io.stdout).Encode(js)
	}
	tw := tabwriter.NewWriter(a.io.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tCOMMAND\tREPLICATION\tSTATUS\tEXIT\tAGENT\tCREATED")
	for _, j := range js {
		code := "-"
		if j.ExitCode != nil {
			code = fmt.Sprint(*j.ExitCode)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Command, cmp.Or(j.Label, "-"), j.Status, code, j.Agent, j.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

type jobsShowCmd struct {
	ID   string `arg:"" help:"Job ID."`
	JSON bool   `name:"json" help:"Print the job as JSON."`
}

// Run implements the command.
func (c *jobsShowCmd) Run(a *app) error {
	cl, err := a.agentClient()
	if err != nil {
		return err
	}
	j, err := cl.Job(a.ctx, c.ID)
	if err != nil {
		return err
	}
	if c.JSON {
		return json.NewEncoder(a.io.stdout).Encode(j)
	}
	tw := tabwriter.NewWriter(a.io.stdout, 0, 4, 1, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("job", j.ID)
	row("trace ID", j.TraceID)
	row("command", j.Command)
	if j.Label != "" {
		row("replication", j.Label)
	}
	row("status", j.Status)
	if j.ExitCode != nil {
		row("exit", fmt.Sprint(*j.ExitCode))
	}
	if j.Error != "" {
		row("error", j.Error)
	}
	if j.Agent != "" {
		row("agent", fmt.Sprintf("%s (attempt %d)", j.Agent, j.Attempt))
	}
	row("created", j.CreatedAt.UTC().Format(time.RFC3339))
	if j.FinishedAt != nil {
		row("finished", j.FinishedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

type jobsLogsCmd struct {
	ID     string `arg:"" help:"Job ID."`
	Follow bool   `short:"f" help:"Follow the output until the job ends; exit with its exit code."`
}

// Run implements the command.
func (c *jobsLogsCmd) Run(a *app) error {
	cl, err := a.agentClient()
	if err != nil {
		return err
	}
	if c.Follow {
		return a.followJob(cl, c.ID)
	}
	_, err = cl.Follow(a.ctx, c.ID, a.io.stdout, a.io.stderr, false)
	return err
}

type jobsCancelCmd struct {
	ID string `arg:"" help:"Job ID."`
}

// Run implements the command.
func (c *jobsCancelCmd) Run(a *app) error {
	cl, err := a.agentClient()
	if err != nil {
		return err
	}
	j, err := cl.Cancel(a.ctx, c.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.io.stdout, "Job %s: %s (cancel requested).\n", j.ID, j.Status)
	return nil
}
