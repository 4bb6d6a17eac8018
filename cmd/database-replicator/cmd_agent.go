package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/database-replicator/database-replicator/agent"
	"github.com/database-replicator/database-replicator/agent/keys"
	"github.com/database-replicator/database-replicator/agent/store"
)

// agentCmd runs the remote-execution agent and manages its API keys.
type agentCmd struct {
	Serve agentServeCmd `cmd:"" default:"withargs" help:"Run the agent (the default): serve the API and dashboard, run queued jobs."`
	Keys  agentKeysCmd  `cmd:"" help:"Create, list and revoke the agent's API keys."`
}

// agentDB names the queue database every agent of a fleet shares.
type agentDB struct {
	StateURL string `name:"state-url" help:"PostgreSQL URL of the queue (the postgres state backend's database); prefer REPLICATOR_AGENT_STATE_URL, which keeps a password out of the process list." placeholder:"URL"`
	Schema   string `help:"Schema of the queue tables (river's and the agent's)." default:"replicator_agent"`
}

// open connects to the queue database and migrates it.
func (d *agentDB) open(a *app) (*store.Store, error) {
	url, err := d.url(a)
	if err != nil {
		return nil, err
	}
	return agent.Open(a.ctx, url, d.Schema)
}

// url is --state-url or REPLICATOR_AGENT_STATE_URL.
func (d *agentDB) url(a *app) (string, error) {
	url := d.StateURL
	if url == "" {
		url, _ = a.io.lookupEnv("REPLICATOR_AGENT_STATE_URL")
	}
	if url == "" {
		return "", fmt.Errorf("the agent needs its queue database: set REPLICATOR_AGENT_STATE_URL (or --state-url) to a PostgreSQL URL")
	}
	return url, nil
}

// agentServeCmd runs the agent.
type agentServeCmd struct {
	agentDB
	Listen   string        `help:"Address of the HTTP API and dashboard." default:"127.0.0.1:8470" placeholder:"HOST:PORT"`
	WorkDir  string        `help:"Directory of the agent's files: one directory per replication (a local state file), the key file by default." default:"agent-data" placeholder:"DIR"`
	KeyFile  string        `help:"AES key sealing job payloads at rest (created when missing, 0600); every agent of a queue needs the same file. Default: WORK-DIR/agent.key." placeholder:"PATH"`
	TLSCert  string        `name:"tls-cert" help:"Serve HTTPS with this certificate (with --tls-key)." placeholder:"PATH"`
	TLSKey   string        `name:"tls-key" help:"Private key of --tls-cert." placeholder:"PATH"`
	MaxJobs  int           `help:"Jobs this agent runs at once (a continuous sync holds one for its lifetime)." default:"4"`
	LeaseTTL time.Duration `help:"A continuous sync whose agent has not renewed its lease for this long is taken over by another agent." default:"30s"`
	ID       string        `help:"Name of this agent in jobs and leases (default: host-pid-random)."`
}

// Run implements the command.
func (c *agentServeCmd) Run(a *app) error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together: give both, or neither for plain HTTP")
	}
	if c.MaxJobs < 1 {
		return fmt.Errorf("--max-jobs %d: want at least 1", c.MaxJobs)
	}
	if c.LeaseTTL < time.Second {
		return fmt.Errorf("--lease-ttl %s: want at least 1s", c.LeaseTTL)
	}
	url, err := c.url(a)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the agent's own binary: %w", err)
	}
	workDir, err := filepath.Abs(c.WorkDir)
	if err != nil {
		return fmt.Errorf("--work-dir: %w", err)
	}
	keyFile := c.KeyFile
	if keyFile == "" {
		keyFile = filepath.Join(workDir, "agent.key")
	}
	return agent.Run(a.ctx, agent.Config{
		Listen: c.Listen, StateURL: url, Schema: c.Schema, KeyFile: keyFile, WorkDir: workDir,
		TLSCert: c.TLSCert, TLSKey: c.TLSKey, MaxJobs: c.MaxJobs, LeaseTTL: c.LeaseTTL, ID: c.ID,
		Exe: exe, Env: os.Environ(), Log: a.log.Named("agent"),
		OnListen: func(url string) { fmt.Fprintf(a.io.stdout, "Agent listening on %s\n", url) },
	})
}

// agentKeysCmd manages API keys.
type agentKeysCmd struct {
	Create agentKeysCreateCmd `cmd:"" help:"Issue an API key; it is printed once, only its hash is stored."`
	List   agentKeysListCmd   `cmd:"" help:"List the API keys (never their secrets)."`
	Revoke agentKeysRevokeCmd `cmd:"" help:"Revoke an API key by ID: requests with it fail from now on."`
}

type agentKeysCreateCmd struct {
	agentDB
	Name  string `help:"What the key is for (e.g. the team or the CI job)." required:""`
	Scope string `help:"read (status, logs, lists, dashboard) or run (also submit and cancel)." enum:"read,run" default:"read"`
}

// Run implements the command.
func (c *agentKeysCreateCmd) Run(a *app) error {
	st, err := c.open(a)
	if err != nil {
		return err
	}
	defer st.Pool.Close()
	plain, k, err := keys.New(st).Create(a.ctx, c.Name, c.Scope)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.io.stderr, "Created API key %s (%s, scope %s). It is shown once: store it now (e.g. REPLICATOR_API_KEY).\n", k.ID, k.Name, k.Scope)
	fmt.Fprintln(a.io.stdout, plain)
	return nil
}

type agentKeysListCmd struct {
	agentDB
	JSON bool `name:"json" help:"Print the keys as JSON."`
}

// Run implements the command.
func (c *agentKeysListCmd) Run(a *app) error {
	st, err := c.open(a)
	if err != nil {
		return err
	}
	defer st.Pool.Close()
	ks, err := keys.New(st).List(a.ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		if ks == nil {
			ks = []*keys.Key{}
		}
		return json.NewEncoder(a.io.stdout).Encode(ks)
	}
	tw := tabwriter.NewWriter(a.io.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tCREATED\tREVOKED")
	for _, k := range ks {
		revoked := "-"
		if k.RevokedAt != nil {
			revoked = k.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Scope, k.CreatedAt.UTC().Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}

type agentKeysRevokeCmd struct {
	agentDB
	ID string `arg:"" help:"The key's ID (agent keys list)."`
}

// Run implements the command.
func (c *agentKeysRevokeCmd) Run(a *app) error {
	st, err := c.open(a)
	if err != nil {
		return err
	}
	defer st.Pool.Close()
	if err := keys.New(st).Revoke(a.ctx, c.ID); err != nil {
		return err
	}
	fmt.Fprintf(a.io.stdout, "Revoked API key %s.\n", c.ID)
	return nil
}
