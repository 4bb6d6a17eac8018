package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres"
)

// checkStatus is the outcome of one live check.
type checkStatus int

const (
	checkOK checkStatus = iota
	checkWarn
	checkFail
)

func (s checkStatus) mark() string {
	switch s {
	case checkOK:
		return "✓"
	case checkWarn:
		return "!"
	}
	return "✗"
}

// checkResult is one row of the validate table.
type checkResult struct {
	subject string
	check   string
	status  checkStatus
	detail  string
	fix     string
}

// serverFacts is what validate learns about one server.
type serverFacts struct {
	versionNum int
	version    string
	walLevel   string
}

// validateLive connects to every source and target used by a replication
// and checks what the snapshot and sync need.
func (a *app) validateLive(cfg *lang.Config) error {
	var results []checkResult
	facts := map[string]*serverFacts{}
	endpoints := usedEndpoints(cfg)
	for _, ep := range endpoints {
		f, rs := a.checkServer(ep)
		results = append(results, rs...)
		if f != nil {
			facts[ep.Address()] = f
		}
	}
	pgDumpMajor, pgDumpErr := localPgDumpMajor(a.ctx)
	for _, r := range cfg.Replications {
		src, dst := facts["source."+r.Source], facts["target."+r.Target]
		subject := "replication." + r.Name
		if src != nil && dst != nil {
			sm, tm := src.versionNum/10000, dst.versionNum/10000
			if tm >= sm {
				results = append(results, checkResult{subject, "target major >= source major", checkOK, fmt.Sprintf("%d >= %d", tm, sm), ""})
			} else {
				results = append(results, checkResult{subject, "target major >= source major", checkFail, fmt.Sprintf("target %d < source %d", tm, sm),
					"use a target server whose major version is at least the source's; logical replication and pg_dump output do not go backwards"})
			}
		}
		if src != nil {
			sm := src.versionNum / 10000
			switch {
			case pgDumpErr != nil:
				results = append(results, checkResult{subject, "pg_dump available", checkFail, pgDumpErr.Error(),
					"install the PostgreSQL client tools (apt-get install postgresql-client) or put pg_dump on PATH"})
			case pgDumpMajor < sm:
				results = append(results, checkResult{subject, "pg_dump major >= source major", checkFail, fmt.Sprintf("pg_dump %d < source %d", pgDumpMajor, sm),
					fmt.Sprintf("install postgresql-client-%d or newer and put its bin directory first on PATH", sm)})
			default:
				results = append(results, checkResult{subject, "pg_dump major >= source major", checkOK, fmt.Sprintf("%d >= %d", pgDumpMajor, sm), ""})
			}
			results = append(results, syncMethodCheck(subject, r, src))
		}
	}
	w := tabwriter.NewWriter(a.io.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\n\tSUBJECT\tCHECK\tRESULT")
	failed := 0
	for _, r := range results {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.status.mark(), r.subject, r.check, r.detail)
		if r.status == checkFail {
			failed++
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.fix != "" && r.status != checkOK {
			fmt.Fprintf(a.io.stdout, "\n%s %s — %s:\n    %s\n", r.status.mark(), r.subject, r.check, r.fix)
		}
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("validate: %d blocking check(s) failed", failed)}
	}
	fmt.Fprintln(a.io.stdout, "\nAll blocking checks passed.")
	return nil
}

// usedEndpoints lists the endpoints replications refer to, sources first.
func usedEndpoints(cfg *lang.Config) []*lang.Endpoint {
	var out []*lang.Endpoint
	seen := map[string]bool{}
	add := func(e *lang.Endpoint) {
		if e != nil && !seen[e.Address()] {
			seen[e.Address()] = true
			out = append(out, e)
		}
	}
	for _, r := range cfg.Replications {
		add(cfg.Sources[r.Source])
	}
	for _, r := range cfg.Replications {
		add(cfg.Targets[r.Target])
	}
	return out
}

// checkServer connects to one endpoint and reads its version and wal_level.
func (a *app) checkServer(ep *lang.Endpoint) (*serverFacts, []checkResult) {
	subject := ep.Address()
	info, err := postgres.ParseURL(ep.URL)
	if err != nil {
		return nil, []checkResult{{subject, "connection string", checkFail, err.Error(), "write a libpq URL (postgres://user@host:5432/db) or key=value string"}}
	}
	ctx, cancel := context.WithTimeout(a.ctx, 15*time.Second)
	defer cancel()
	conn, err := postgres.Connect(ctx, info)
	if err != nil {
		return nil, []checkResult{{subject, "reachable", checkFail, err.Error(), "check host, port, credentials and pg_hba.conf for " + info.Redacted()}}
	}
	defer conn.Close(context.Background())
	f := &serverFacts{}
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, current_setting('server_version'), current_setting('wal_level')").
		Scan(&f.versionNum, &f.version, &f.walLevel); err != nil {
		return nil, []checkResult{{subject, "reachable", checkFail, fmt.Sprintf("read server settings: %v", err), ""}}
	}
	rs := []checkResult{{subject, "reachable", checkOK, "PostgreSQL " + f.version, ""}}
	if f.versionNum >= 120000 {
		rs = append(rs, checkResult{subject, "version >= 12", checkOK, strconv.Itoa(f.versionNum / 10000), ""})
	} else {
		rs = append(rs, checkResult{subject, "version >= 12", checkFail, f.version, "upgrade the server to PostgreSQL 12 or newer"})
	}
	return f, rs
}

// syncMethodCheck explains which sync method the source allows.
func syncMethodCheck(subject string, r *lang.Replication, src *serverFacts) checkResult {
	logical := src.walLevel == "logical"
	switch r.Sync.Method {
	case lang.SyncLogical, lang.SyncStream:
		if !logical {
			return checkResult{subject, "wal_level for " + string(r.Sync.Method) + " sync", checkFail, "source has wal_level=" + src.walLevel,
				"ALTER SYSTEM SET wal_level = logical; then restart the source (or set sync { method = \"xmin\" }, which needs no source change)"}
		}
		return checkResult{subject, "wal_level for " + string(r.Sync.Method) + " sync", checkOK, "logical", ""}
	case lang.SyncAuto:
		if !logical {
			return checkResult{subject, "sync method", checkWarn, "source has wal_level=" + src.walLevel + ": using xmin-based sync (no source changes required)",
				"for sub-second logical replication: ALTER SYSTEM SET wal_level = logical; then restart the source"}
		}
		return checkResult{subject, "sync method", checkOK, "source has wal_level=logical: using logical replication", ""}
	}
	return checkResult{subject, "sync method", checkOK, string(r.Sync.Method), ""}
}

var pgDumpVersionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// localPgDumpMajor runs `pg_dump --version` and returns its major version.
func localPgDumpMajor(ctx context.Context) (int, error) {
	path, err := postgres.FindTool("pg_dump")
	if err != nil {
		return 0, err
	}
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("%s --version: %w", path, err)
	}
	m := pgDumpVersionRE.FindStringSubmatch(string(out))
	if m == nil {
		return 0, fmt.Errorf("%s --version printed %q: not a PostgreSQL version", path, strings.TrimSpace(string(out)))
	}
	return strconv.Atoi(m[1])
}
