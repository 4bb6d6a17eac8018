package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/providers/postgres"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
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

// word is the status in JSON: ok, warning or fail.
func (s checkStatus) word() string {
	switch s {
	case checkOK:
		return "ok"
	case checkWarn:
		return "warning"
	}
	return "fail"
}

// validateReport is the JSON form of validate's result.
type validateReport struct {
	ConfigValid      bool        `json:"config_valid"`
	BlockingFailures int         `json:"blocking_failures"`
	Checks           []checkJSON `json:"checks"`
}

// checkJSON is one live check in JSON.
type checkJSON struct {
	Subject string `json:"subject"`
	Check   string `json:"check"`
	Status  string `json:"status"`
	Detail  string `json:"detail"`
	Fix     string `json:"fix,omitempty"`
}

// checkResult is one row of the validate table.
type checkResult struct {
	subject string
	check   string
	status  checkStatus
	detail  string
	fix     string
}

// validateLive connects to every source and target used by a replication
// and checks what the snapshot and sync need.
func (a *app) validateLive(cfg *lang.Config, asJSON bool) error {
	var results []checkResult
	facts := map[string]*postgres.Server{}
	for _, ep := range endpoints.Used(cfg) {
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
			sm, tm := src.VersionNum/10000, dst.VersionNum/10000
			if tm >= sm {
				results = append(results, checkResult{subject, "target major >= source major", checkOK, fmt.Sprintf("%d >= %d", tm, sm), ""})
			} else {
				results = append(results, checkResult{subject, "target major >= source major", checkFail, fmt.Sprintf("target %d < source %d", tm, sm),
					"use a target server whose major version is at least the source's; logical replication and pg_dump output do not go backwards"})
			}
		}
		if src != nil {
			sm := src.VersionNum / 10000
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
			results = append(results, replicationChecks(subject, r, src, dst)...)
			if dst != nil {
				results = append(results, a.reachCheck(cfg, r, src, dst)...)
			}
		}
	}
	failed := 0
	for _, r := range results {
		if r.status == checkFail {
			failed++
		}
	}
	if asJSON {
		rep := validateReport{ConfigValid: true, BlockingFailures: failed, Checks: []checkJSON{}}
		for _, r := range results {
			rep.Checks = append(rep.Checks, checkJSON{Subject: r.subject, Check: r.check, Status: r.status.word(), Detail: r.detail, Fix: r.fix})
		}
		if err := writeJSON(a.io.stdout, rep); err != nil {
			return err
		}
		if failed > 0 {
			return exitCode(1)
		}
		return nil
	}
	w := tabwriter.NewWriter(a.io.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\n\tSUBJECT\tCHECK\tRESULT")
	for _, r := range results {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.status.mark(), r.subject, r.check, r.detail)
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

// checkServer connects to one endpoint and reads its server-level facts.
func (a *app) checkServer(ep *lang.Endpoint) (*postgres.Server, []checkResult) {
	subject := ep.Address()
	info, err := postgres.ParseURL(ep.URL)
	if err != nil {
		return nil, []checkResult{{subject, "connection string", checkFail, err.Error(), "write a libpq URL (postgres://user@host:5432/db) or key=value string"}}
	}
	ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
	defer cancel()
	conn, err := postgres.Connect(ctx, info)
	if err != nil {
		return nil, []checkResult{{subject, "reachable", checkFail, err.Error(), "check host, port, credentials and pg_hba.conf for " + info.Redacted()}}
	}
	conn.Close(context.Background())
	// Server-level facts only: no per-database detail is needed here.
	f, err := postgres.Introspect(ctx, info, []string{})
	if err != nil {
		return nil, []checkResult{{subject, "reachable", checkFail, fmt.Sprintf("read server facts: %v", err), ""}}
	}
	rs := []checkResult{{subject, "reachable", checkOK, "PostgreSQL " + f.Version, ""}}
	if f.VersionNum >= 120000 {
		rs = append(rs, checkResult{subject, "version >= 12", checkOK, strconv.Itoa(f.VersionNum / 10000), ""})
	} else {
		rs = append(rs, checkResult{subject, "version >= 12", checkFail, f.Version, "upgrade the server to PostgreSQL 12 or newer"})
	}
	return f, rs
}

// syncMethodCheck explains which sync method the source allows.
func syncMethodCheck(subject string, r *lang.Replication, src *postgres.Server) checkResult {
	logical := src.WalLevel == "logical"
	switch r.Sync.Method {
	case lang.SyncLogical, lang.SyncStream:
		if !logical {
			return checkResult{subject, "wal_level for " + string(r.Sync.Method) + " sync", checkFail, "source has wal_level=" + src.WalLevel,
				"ALTER SYSTEM SET wal_level = logical; then restart the source (or set sync { method = \"xmin\" }, which needs no source change)"}
		}
		return checkResult{subject, "wal_level for " + string(r.Sync.Method) + " sync", checkOK, "logical", ""}
	case lang.SyncAuto:
		if !logical {
			return checkResult{subject, "sync method", checkWarn, "source has wal_level=" + src.WalLevel + ": using xmin-based sync (no source changes required)",
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

// replicationChecks checks privileges, headroom, databases and filters
// for one replication, and prints the SQL that fixes each failure.
func replicationChecks(subject string, r *lang.Replication, src, dst *postgres.Server) []checkResult {
	var out []checkResult
	method, _ := planner.ResolveMethod(r, src)
	logical := method == lang.SyncLogical || method == lang.SyncStream

	// Databases in scope exist on the source.
	var dbs []string
	for _, n := range r.Databases {
		if src.Database(n) == nil {
			out = append(out, checkResult{subject, "database " + n + " exists on source", checkFail, "not found",
				fmt.Sprintf("remove %q from databases, or create it on the source", n)})
			continue
		}
		dbs = append(dbs, n)
	}
	if len(r.Databases) == 0 {
		for _, d := range src.Databases {
			if !d.IsTemplate && d.AllowConn && !slices.Contains(r.ExcludeDatabases, d.Name) {
				dbs = append(dbs, d.Name)
			}
		}
	}
	if len(r.Databases) > 0 && len(dbs) == len(r.Databases) {
		out = append(out, checkResult{subject, "databases exist on source", checkOK, strings.Join(dbs, ", "), ""})
	}

	// Source privileges.
	sp := src.Privileges
	if logical {
		if sp.Superuser || sp.Replication || sp.RDSReplication {
			out = append(out, checkResult{subject, "source may replicate", checkOK, privilegeWord(sp), ""})
		} else {
			out = append(out, checkResult{subject, "source may replicate", checkFail, src.CurrentUser + " has neither REPLICATION nor rds_replication",
				fmt.Sprintf("ALTER ROLE %s WITH REPLICATION;   -- on Amazon RDS: GRANT rds_replication TO %s;", pgx.Identifier{src.CurrentUser}.Sanitize(), pgx.Identifier{src.CurrentUser}.Sanitize())})
		}
		freeSlots := src.MaxReplicationSlots - src.UsedReplicationSlots
		if freeSlots >= len(dbs) {
			out = append(out, checkResult{subject, "free replication slots", checkOK, fmt.Sprintf("%d free, %d needed", freeSlots, len(dbs)), ""})
		} else {
			out = append(out, checkResult{subject, "free replication slots", checkFail, fmt.Sprintf("%d free, %d needed (one per database)", freeSlots, len(dbs)),
				fmt.Sprintf("ALTER SYSTEM SET max_replication_slots = %d; then restart the source", src.UsedReplicationSlots+len(dbs)+2)})
		}
		freeSenders := src.MaxWalSenders - src.UsedWalSenders
		if freeSenders >= len(dbs) {
			out = append(out, checkResult{subject, "free WAL senders", checkOK, fmt.Sprintf("%d free, %d needed", freeSenders, len(dbs)), ""})
		} else {
			out = append(out, checkResult{subject, "free WAL senders", checkFail, fmt.Sprintf("%d free, %d needed (one per database)", freeSenders, len(dbs)),
				fmt.Sprintf("ALTER SYSTEM SET max_wal_senders = %d; then restart the source", src.UsedWalSenders+len(dbs)+2)})
		}
		var filtered []string
		for _, t := range r.Tables {
			if t.Predicate() != "" {
				filtered = append(filtered, t.Ref.String())
			}
		}
		if len(filtered) > 0 {
			if src.VersionNum >= 150000 {
				out = append(out, checkResult{subject, "row filters in publications", checkOK, "PostgreSQL 15+", ""})
			} else {
				out = append(out, checkResult{subject, "row filters in publications", checkFail,
					fmt.Sprintf("source runs %s; row filters (%s) need 15+", src.Version, strings.Join(filtered, ", ")),
					"set sync { method = \"xmin\" }, upgrade the source to PostgreSQL 15+, or remove the filters"})
			}
		}
	}

	// Target privileges.
	if dst != nil {
		tp := dst.Privileges
		if tp.Superuser || tp.CreateDB {
			out = append(out, checkResult{subject, "target may create databases", checkOK, privilegeWord(tp), ""})
		} else {
			out = append(out, checkResult{subject, "target may create databases", checkFail, dst.CurrentUser + " has neither CREATEDB nor superuser",
				fmt.Sprintf("ALTER ROLE %s WITH CREATEDB;", pgx.Identifier{dst.CurrentUser}.Sanitize())})
		}
		if logical && !tp.Superuser {
			out = append(out, checkResult{subject, "target may create subscriptions", checkWarn, dst.CurrentUser + " is not a superuser",
				"CREATE SUBSCRIPTION needs superuser before PostgreSQL 16 (16+: GRANT pg_create_subscription); or use sync { method = \"stream\" }"})
		}
	}
	return out
}

// privilegeWord names the strongest privilege a user holds.
func privilegeWord(p postgres.Privileges) string {
	switch {
	case p.Superuser:
		return "superuser"
	case p.RDSReplication:
		return "rds_replication"
	case p.Replication:
		return "REPLICATION"
	case p.CreateDB:
		return "CREATEDB"
	}
	return "no special privileges"
}

// reachCheck asks the target to connect to the source the way its
// subscription will (logical replication only).
func (a *app) reachCheck(cfg *lang.Config, r *lang.Replication, src, dst *postgres.Server) []checkResult {
	subject := "replication." + r.Name
	if method, _ := planner.ResolveMethod(r, src); method != lang.SyncLogical {
		return nil
	}
	if !dst.Privileges.Superuser {
		return []checkResult{{subject, "target can reach source", checkWarn, "not checked: needs superuser on the target", ""}}
	}
	si, err1 := postgres.ParseURL(cfg.Sources[r.Source].URL)
	di, err2 := postgres.ParseURL(cfg.Targets[r.Target].URL)
	if err1 != nil || err2 != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(a.ctx, 30*time.Second)
	defer cancel()
	msg, err := postgres.TargetReachesSource(ctx, di, si)
	switch {
	case err != nil:
		return []checkResult{{subject, "target can reach source", checkWarn, "not checked: " + err.Error(), ""}}
	case msg != "":
		return []checkResult{{subject, "target can reach source", checkFail, msg,
			"the subscription connects from the target server to " + si.Redacted() + ": allow the target host in the source's pg_hba.conf and firewall, give the source URL a host name the target resolves, or use sync { method = \"stream\" }"}}
	}
	return []checkResult{{subject, "target can reach source", checkOK, "the target connected to " + si.Redacted(), ""}}
}
