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

// ConfigKey identifies the replication a payload describes: a digest of its
// configuration files (or of its --source/--target arguments). Jobs with the
// same key share a working directory (a local state file) and one sync lease.
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
