// Package jobs runs the agent's queued jobs: the river job kind, the worker
// that runs one CLI command as a child process of the agent's own binary
// (the same code path as running it by hand), streams its redacted output
// into the job's log, honours cancel and timeout requests, and holds the
// lease of a continuous sync with a heartbeat.
package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/agent/seal"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/connstr"
)

// Commands are the commands a job may run.
var Commands = []string{"plan", "apply", "init", "sync", "verify", "cutover", "destroy"}

// IsCommand reports whether name is one of Commands.
func IsCommand(name string) bool { return slices.Contains(Commands, name) }

// Payload is what a job runs: sealed at rest, since the configuration,
// the arguments and above all Vars may hold credentials.
type Payload struct {
	// Files are the configuration files by base name (one file, or the
	// *.hcl files of a directory); empty when Args carry --source/--target.
	Files map[string]string `json:"files,omitempty"`
	// Args follow the command (flags and arguments, without -c or --var).
	Args []string `json:"args,omitempty"`
	// Vars are submitted variable values, given to the command as
	// REPLICATOR_VAR_NAME and redacted from every output.
	Vars map[string]string `json:"vars,omitempty"`
}

// Seal encodes and encrypts p.
func (p *Payload) Seal(s *seal.Sealer) ([]byte, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode job payload: %w", err)
	}
	return s.Seal(data)
}

// OpenPayload decrypts and decodes a sealed payload.
func OpenPayload(s *seal.Sealer, sealed []byte) (*Payload, error) {
	data, err := s.Open(sealed)
	if err != nil {
		return nil, err
	}
	var p Payload
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decode job payload: %w", err)
	}
	return &p, nil
}

// ConfigKey is a digest of a payload's configuration files (or of its
// --source/--target arguments): the replication's key when ReplicationKey
// cannot decode the configuration.
func (p *Payload) ConfigKey() string {
	h := sha256.New()
	names := make([]string, 0, len(p.Files))
	for n := range p.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%s\x00", n, p.Files[n])
	}
	if len(p.Files) == 0 {
		// Without files the URLs and filters in the arguments are the
		// replication.
		for i, a := range p.Args {
			if strings.HasPrefix(a, "--source") || strings.HasPrefix(a, "--target") || strings.HasPrefix(a, "--include") || strings.HasPrefix(a, "--exclude") {
				fmt.Fprintf(h, "%s\x00", a)
				if !strings.Contains(a, "=") && i+1 < len(p.Args) {
					fmt.Fprintf(h, "%s\x00", p.Args[i+1])
				}
			}
		}
	}
	return "r-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// ReplicationKey identifies the replications a payload describes by what
// they are, not how their files are written: for each replication its
// name (the state's addresses start with it), the host and port of its
// source and of its target, and its databases. Two differently written
// configurations of the same replication (formatting, comments, the order
// of blocks, variables instead of literals) have the same key, so they
// share one sync lease and one working directory. Variables and env()
// resolve from vars and lookupEnv (the agent's environment), as they do
// for the command. A configuration that does not decode here (a TOML file,
// a missing variable) and --source/--target arguments fall back to
// ConfigKey.
func (p *Payload) ReplicationKey(lookupEnv func(string) (string, bool)) string {
	if len(p.Files) == 0 {
		return p.ConfigKey()
	}
	files := make(map[string][]byte, len(p.Files))
	for n, c := range p.Files {
		if !strings.HasSuffix(n, ".hcl") {
			return p.ConfigKey()
		}
		files[n] = []byte(c)
	}
	cfg, diags := lang.LoadSources(files, lang.LoadOptions{Vars: p.Vars, LookupEnv: lookupEnv})
	if cfg == nil || diags.HasErrors() || len(cfg.Replications) == 0 {
		return p.ConfigKey()
	}
	var ids []string
	for _, r := range cfg.Replications {
		src, dst := cfg.Sources[r.Source], cfg.Targets[r.Target]
		if src == nil || dst == nil {
			return p.ConfigKey()
		}
		dbs := append([]string{}, r.Databases...)
		sort.Strings(dbs)
		excl := append([]string{}, r.ExcludeDatabases...)
		sort.Strings(excl)
		ids = append(ids, strings.Join([]string{r.Name, serverOf(src.URL), serverOf(dst.URL),
			strings.Join(dbs, ","), strings.Join(excl, ",")}, "\x00"))
	}
	sort.Strings(ids)
	h := sha256.New()
	for _, id := range ids {
		fmt.Fprintf(h, "replication\x00%s\x00", id)
	}
	return "r-" + hex.EncodeToString(h.Sum(nil))[:16]
}

// EnvLookup looks names up in env (NAME=VALUE entries, as os.Environ).
func EnvLookup(env []string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], name+"="); ok {
				return v, true
			}
		}
		return "", false
	}
}

// serverOf is the host and port a connection string names (its user,
// password, database and options do not change the server); the string
// itself when it does not parse.
func serverOf(url string) string {
	cs, err := connstr.Parse(url)
	if err != nil {
		return url
	}
	port := cs.Values["port"]
	if port == "" {
		port = "5432"
	}
	return cs.Values["host"] + ":" + port
}

// replicationBlock finds the name of an HCL replication block.
var replicationBlock = regexp.MustCompile(`(?m)^\s*replication\s+"([^"]+)"`)

// Label names the replications the configuration files declare, for
// people reading job lists (sorted, comma-separated; "" when none is
// found, e.g. with --source/--target).
func (p *Payload) Label() string {
	var names []string
	for _, content := range p.Files {
		for _, m := range replicationBlock.FindAllStringSubmatch(content, -1) {
			if !slices.Contains(names, m[1]) {
				names = append(names, m[1])
			}
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Args is the river job: only the agent job's ID, so that nothing secret
// sits in river's tables.
type Args struct {
	JobID string `json:"job_id"`
}

// Kind implements river.JobArgs.
func (Args) Kind() string { return "replicator_command" }
