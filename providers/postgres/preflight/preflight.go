// Package preflight checks, against the live servers, what the snapshot and
// the sync of each replication need: reachability and versions, the sync
// method the source allows, privileges, free slots and WAL senders, row
// filter support, and whether the target reaches the source. Results are
// data (Check, each with a stable code); Diagnostics turns the failed and
// warning ones into diagnostics; rendering them is the caller's business.
package preflight

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/pgbin"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtool"
)

// Status is the outcome of one check.
type Status int

// Check outcomes.
const (
	// OK: the check passed.
	OK Status = iota
	// Warn: worth knowing, not blocking.
	Warn
	// Fail: blocking; the snapshot or the sync would fail.
	Fail
)

// Check is one live check and its outcome.
type Check struct {
	// Subject is what was checked: an endpoint ("source.prod") or a
	// replication ("replication.main").
	Subject string
	// Name is the check, e.g. "free replication slots".
	Name string
	// Code identifies the check (the rule behind it) for scripts and
	// docs/diagnostics.md; several names may share one code ("database app
	// exists on source", "databases exist on source").
	Code diag.Code
	// Status is the outcome.
	Status Status
	// Detail is what was found.
	Detail string
	// Fix is how to make a failing or warning check pass, "" when none.
	Fix string
}

// Failures counts the blocking failures among checks.
func Failures(checks []Check) int {
	n := 0
	for _, c := range checks {
		if c.Status == Fail {
			n++
		}
	}
	return n
}

// Diagnostics turns the checks that did not pass into diagnostics, in
// order: a failed check is an error, a warning check a warning. The
// diagnostic's code is the check's, its summary the check's name, its
// detail what was found, its address the subject and its fix the check's
// fix. Passed checks are left out.
func Diagnostics(checks []Check) diag.Diagnostics {
	var ds diag.Diagnostics
	for _, c := range checks {
		var sev diag.Severity
		switch c.Status {
		case Fail:
			sev = diag.Error
		case Warn:
			sev = diag.Warning
		default:
			continue
		}
		ds.Append(diag.Diagnostic{Severity: sev, Code: c.Code, Summary: c.Name, Detail: c.Detail, Address: c.Subject, Fix: c.Fix})
	}
	return ds
}

// Run connects to every endpoint of cfg and checks each replication. An
// endpoint whose connection string does not parse, or that cannot be
// reached, is a failed check, and the checks that need it are skipped.
func Run(ctx context.Context, cfg *lang.Config, eps *endpoints.Set) []Check {
	var out []Check
	facts := map[string]*catalog.Server{}
	for _, ep := range eps.All() {
		f, cs := CheckServer(ctx, ep)
		out = append(out, cs...)
		if f != nil {
			facts[ep.Address()] = f
		}
	}
	pgDumpMajor, pgDumpErr := pgtool.DumpMajor(ctx)
	for _, r := range cfg.Replications {
		src, dst := facts["source."+r.Source], facts["target."+r.Target]
		subject := "replication." + r.Name
		if src != nil && dst != nil {
			out = append(out, Versions(subject, src, dst))
		}
		if src == nil {
			continue
		}
		out = append(out, PgDump(subject, src, pgDumpMajor, pgDumpErr))
		out = append(out, SyncMethod(subject, r, src))
		out = append(out, Replication(subject, r, src, dst)...)
		if dst != nil {
			out = append(out, Reach(ctx, cfg, r, eps, src, dst)...)
		}
	}
	return out
}

// serverTimeout bounds the connection and reads of one server check.
const serverTimeout = 30 * time.Second

// CheckServer connects to one endpoint and reads its server-level facts
// (no per-database detail). The facts are nil when it could not.
func CheckServer(ctx context.Context, ep endpoints.Endpoint) (*catalog.Server, []Check) {
	subject := ep.Address()
	if ep.Err != nil {
		return nil, []Check{{subject, "connection string", CodeConnectionString, Fail, ep.Err.Error(), "write a libpq URL (postgres://user@host:5432/db) or key=value string"}}
	}
	info := ep.Info
	ctx, cancel := context.WithTimeout(ctx, serverTimeout)
	defer cancel()
	conn, err := conninfo.Connect(ctx, info)
	if err != nil {
		return nil, []Check{{subject, "reachable", CodeReachable, Fail, err.Error(), "check host, port, credentials and pg_hba.conf for " + info.Redacted()}}
	}
	conn.Close(context.Background())
	f, err := catalog.Introspect(ctx, info, []string{})
	if err != nil {
		return nil, []Check{{subject, "reachable", CodeReachable, Fail, fmt.Sprintf("read server facts: %v", err), ""}}
	}
	cs := []Check{{subject, "reachable", CodeReachable, OK, "PostgreSQL " + f.Version, ""}}
	if f.VersionNum >= 120000 {
		cs = append(cs, Check{subject, "version >= 12", CodeServerVersion, OK, strconv.Itoa(f.VersionNum / 10000), ""})
	} else {
		cs = append(cs, Check{subject, "version >= 12", CodeServerVersion, Fail, f.Version, "upgrade the server to PostgreSQL 12 or newer"})
	}
	return f, cs
}

// Versions checks that the target's major version is at least the source's.
func Versions(subject string, src, dst *catalog.Server) Check {
	sm, tm := src.VersionNum/10000, dst.VersionNum/10000
	if tm >= sm {
		return Check{subject, "target major >= source major", CodeTargetVersion, OK, fmt.Sprintf("%d >= %d", tm, sm), ""}
	}
	return Check{subject, "target major >= source major", CodeTargetVersion, Fail, fmt.Sprintf("target %d < source %d", tm, sm),
		"use a target server whose major version is at least the source's; logical replication and pg_dump output do not go backwards"}
}

// PgDump checks that the local pg_dump (major version pgDumpMajor, or the
// error finding it) can dump the source.
func PgDump(subject string, src *catalog.Server, pgDumpMajor int, pgDumpErr error) Check {
	sm := src.VersionNum / 10000
	switch {
	case pgDumpErr != nil:
		return Check{subject, "pg_dump available", CodePgDumpAvailable, Fail, pgDumpErr.Error(),
			"install the PostgreSQL client tools (apt-get install postgresql-client) or put pg_dump on PATH"}
	case pgDumpMajor < sm:
		return Check{subject, "pg_dump major >= source major", CodePgDumpVersion, Fail, fmt.Sprintf("pg_dump %d < source %d", pgDumpMajor, sm),
			pgbin.NewerToolsFix(sm)}
	}
	return Check{subject, "pg_dump major >= source major", CodePgDumpVersion, OK, fmt.Sprintf("%d >= %d", pgDumpMajor, sm), ""}
}

// SyncMethod explains which sync method the replication will use. For
// auto it reports planner.DecideMethod's choice, the one plan and sync
// make: a fallback to xmin is a warning with the change that would allow
// logical replication.
func SyncMethod(subject string, r *lang.Replication, src *catalog.Server) Check {
	logical := src.WalLevel == "logical"
	switch r.Sync.Method {
	case lang.SyncLogical, lang.SyncStream:
		name := "wal_level for " + string(r.Sync.Method) + " sync"
		if !logical {
			return Check{subject, name, CodeWalLevel, Fail, "source has wal_level=" + src.WalLevel,
				"ALTER SYSTEM SET wal_level = logical; then restart the source (or set sync { method = \"xmin\" }, which needs no source change)"}
		}
		return Check{subject, name, CodeWalLevel, OK, "logical", ""}
	case lang.SyncAuto:
		d := planner.DecideMethod(r, src)
		detail := lowerFirst(d.Why)
		switch d.Fallback {
		case planner.FallbackWalLevel:
			return Check{subject, "sync method", CodeSyncMethod, Warn, detail,
				"for sub-second logical replication: ALTER SYSTEM SET wal_level = logical; then restart the source"}
		case planner.FallbackPrivilege:
			return Check{subject, "sync method", CodeSyncMethod, Warn, detail,
				fmt.Sprintf("for sub-second logical replication: ALTER ROLE %s WITH REPLICATION;   -- on Amazon RDS: GRANT rds_replication TO %s;",
					pgx.Identifier{src.CurrentUser}.Sanitize(), pgx.Identifier{src.CurrentUser}.Sanitize())}
		}
		return Check{subject, "sync method", CodeSyncMethod, OK, detail, ""}
	}
	return Check{subject, "sync method", CodeSyncMethod, OK, string(r.Sync.Method), ""}
}

// lowerFirst lower-cases the first letter of a sentence used as a detail.
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// Replication checks privileges, headroom, databases and filters for one
// replication, each failure with the SQL that fixes it. dst may be nil
// (target unreachable).
func Replication(subject string, r *lang.Replication, src, dst *catalog.Server) []Check {
	var out []Check
	method := planner.DecideMethod(r, src).Method
	logical := method == lang.SyncLogical || method == lang.SyncStream

	// Databases in scope exist on the source.
	var dbs []string
	for _, n := range r.Databases {
		if src.Database(n) == nil {
			out = append(out, Check{subject, "database " + n + " exists on source", CodeSourceDatabases, Fail, "not found",
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
		out = append(out, Check{subject, "databases exist on source", CodeSourceDatabases, OK, strings.Join(dbs, ", "), ""})
	}

	// Source privileges.
	sp := src.Privileges
	if logical {
		if sp.Superuser || sp.Replication || sp.RDSReplication {
			out = append(out, Check{subject, "source may replicate", CodeReplicationPrivilege, OK, privilegeWord(sp), ""})
		} else {
			out = append(out, Check{subject, "source may replicate", CodeReplicationPrivilege, Fail, src.CurrentUser + " has neither REPLICATION nor rds_replication",
				fmt.Sprintf("ALTER ROLE %s WITH REPLICATION;   -- on Amazon RDS: GRANT rds_replication TO %s;", pgx.Identifier{src.CurrentUser}.Sanitize(), pgx.Identifier{src.CurrentUser}.Sanitize())})
		}
		freeSlots := src.MaxReplicationSlots - src.UsedReplicationSlots
		if freeSlots >= len(dbs) {
			out = append(out, Check{subject, "free replication slots", CodeReplicationSlots, OK, fmt.Sprintf("%d free, %d needed", freeSlots, len(dbs)), ""})
		} else {
			out = append(out, Check{subject, "free replication slots", CodeReplicationSlots, Fail, fmt.Sprintf("%d free, %d needed (one per database)", freeSlots, len(dbs)),
				fmt.Sprintf("ALTER SYSTEM SET max_replication_slots = %d; then restart the source", src.UsedReplicationSlots+len(dbs)+2)})
		}
		out = append(out, slotRetention(subject, src))
		freeSenders := src.MaxWalSenders - src.UsedWalSenders
		if freeSenders >= len(dbs) {
			out = append(out, Check{subject, "free WAL senders", CodeWalSenders, OK, fmt.Sprintf("%d free, %d needed", freeSenders, len(dbs)), ""})
		} else {
			out = append(out, Check{subject, "free WAL senders", CodeWalSenders, Fail, fmt.Sprintf("%d free, %d needed (one per database)", freeSenders, len(dbs)),
				fmt.Sprintf("ALTER SYSTEM SET max_wal_senders = %d; then restart the source", src.UsedWalSenders+len(dbs)+2)})
		}
		var filtered []string
		for _, t := range r.Tables {
			if t.Predicate() != "" {
				filtered = append(filtered, t.Ref.String())
			}
		}
		if len(filtered) > 0 {
			switch {
			case src.VersionNum >= 150000:
				out = append(out, Check{subject, "row filters in publications", CodeRowFilters, OK, "PostgreSQL 15+", ""})
			case method == lang.SyncStream:
				out = append(out, Check{subject, "row filters in publications", CodeRowFilters, OK,
					fmt.Sprintf("source runs %s: the stream applier filters the rows", src.Version), ""})
			default:
				out = append(out, Check{subject, "row filters in publications", CodeRowFilters, Fail,
					fmt.Sprintf("source runs %s; row filters (%s) need 15+", src.Version, strings.Join(filtered, ", ")),
					"set sync { method = \"xmin\" }, upgrade the source to PostgreSQL 15+, or remove the filters"})
			}
		}
	}

	// Target privileges.
	if dst != nil {
		tp := dst.Privileges
		if tp.Superuser || tp.CreateDB {
			out = append(out, Check{subject, "target may create databases", CodeCreateDBPrivilege, OK, privilegeWord(tp), ""})
		} else {
			out = append(out, Check{subject, "target may create databases", CodeCreateDBPrivilege, Fail, dst.CurrentUser + " has neither CREATEDB nor superuser",
				fmt.Sprintf("ALTER ROLE %s WITH CREATEDB;", pgx.Identifier{dst.CurrentUser}.Sanitize())})
		}
		if method == lang.SyncLogical && !tp.Superuser { // stream creates no subscription
			out = append(out, Check{subject, "target may create subscriptions", CodeSubscriptionPrivilege, Warn, dst.CurrentUser + " is not a superuser",
				"CREATE SUBSCRIPTION needs superuser before PostgreSQL 16 (16+: GRANT pg_create_subscription); or use sync { method = \"stream\" }"})
		}
	}
	return out
}

// privilegeWord names the strongest privilege a user holds.
func privilegeWord(p catalog.Privileges) string {
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

// Reach asks the target to connect to the source the way its subscription
// will (logical replication only; needs superuser on the target).
func Reach(ctx context.Context, cfg *lang.Config, r *lang.Replication, eps *endpoints.Set, src, dst *catalog.Server) []Check {
	subject := "replication." + r.Name
	if planner.DecideMethod(r, src).Method != lang.SyncLogical {
		return nil
	}
	if !dst.Privileges.Superuser {
		return []Check{{subject, "target can reach source", CodeTargetReachesSource, Warn, "not checked: needs superuser on the target", ""}}
	}
	si, di, err := eps.Pair(r)
	if err != nil {
		return []Check{{subject, "target can reach source", CodeTargetReachesSource, Warn, "not checked: " + err.Error(), ""}}
	}
	ctx, cancel := context.WithTimeout(ctx, serverTimeout)
	defer cancel()
	withPassword := planner.StoresSubscriptionPassword(r, si)
	msg, authFailed, err := conninfo.TargetReachesSource(ctx, di, si, withPassword)
	switch {
	case err != nil:
		return []Check{{subject, "target can reach source", CodeTargetReachesSource, Warn, "not checked: " + err.Error(), ""}}
	case authFailed:
		return []Check{{subject, "target can log in to source", CodeTargetReachesSource, Fail, msg,
			fmt.Sprintf("the subscription stores no password (%s), so the PostgreSQL server on the target logs in to %s on its own: add a line for it to the ~/.pgpass of the operating-system user running the target server (or the file its PGPASSFILE names), mode 0600, e.g. %s; or %s (PostgreSQL then stores it in pg_subscription; see docs/security.md)",
				noPasswordWhy(cfg, r, si), si.Redacted(), pgpassLine(si), storeAdvice(cfg))}}
	case msg != "":
		return []Check{{subject, "target can reach source", CodeTargetReachesSource, Fail, msg,
			"the subscription connects from the target server to " + si.Redacted() + ": allow the target host in the source's pg_hba.conf and firewall, give the source URL a host name the target resolves, or use sync { method = \"stream\" }"}}
	}
	if withPassword {
		return []Check{{subject, "target can reach source", CodeTargetReachesSource, OK, "the target connected to " + si.Redacted() + " (the subscription will carry the source URL's password)", ""}}
	}
	return []Check{{subject, "target can reach source", CodeTargetReachesSource, OK, "the target connected to " + si.Redacted() + " and logged in without a stored password", ""}}
}

// storeAdvice says how to have the subscription store the URL's password,
// the way the configuration was given.
func storeAdvice(cfg *lang.Config) string {
	if cfg != nil && cfg.FlagMode {
		return "write the password in the --source URL and leave out --subscription-password none"
	}
	return `write the password in the source URL and keep sync { subscription_password = "url" }`
}

// noPasswordWhy says why the subscription of r stores no password.
func noPasswordWhy(cfg *lang.Config, r *lang.Replication, source conninfo.Info) string {
	switch {
	case r.Sync.SubscriptionPassword == lang.SubscriptionPasswordNone && cfg != nil && cfg.FlagMode:
		return "--subscription-password none"
	case r.Sync.SubscriptionPassword == lang.SubscriptionPasswordNone:
		return `sync.subscription_password = "none"`
	case source.Password() != "":
		return "the source URL has none; the password this machine uses comes from PGPASSWORD or a password file, which are never copied to the target"
	default:
		return "the source URL has none"
	}
}

// pgpassLine is the ~/.pgpass line the target server needs to log in to
// source, with the password left for the user to fill in.
func pgpassLine(source conninfo.Info) string {
	esc := func(s string) string { return strings.NewReplacer(`\`, `\\`, ":", `\:`).Replace(s) }
	return fmt.Sprintf("%s:%d:%s:%s:PASSWORD", esc(source.Host()), source.Port(), "*", esc(source.User()))
}

// slotRetention reports max_slot_wal_keep_size on the source: how much WAL
// a replication slot may hold back before PostgreSQL invalidates it (a
// waiting or stopped subscription then needs a re-copy), or that it is
// unlimited (the slot can hold WAL until the source's disk fills). It is
// informational either way; `status --max-retained` watches the slots.
func slotRetention(subject string, src *catalog.Server) Check {
	const name = "slot WAL retention (max_slot_wal_keep_size)"
	switch v := src.MaxSlotWALKeepSize; v {
	case "":
		return Check{subject, name, CodeSlotRetention, OK, "unlimited (no such setting before PostgreSQL 13): a slot nobody consumes holds WAL until the disk fills; watch it with status --max-retained", ""}
	case "-1":
		return Check{subject, name, CodeSlotRetention, OK, "unlimited: a slot nobody consumes (init waiting for sync, a stopped target) holds WAL until the disk fills; watch it with status --max-retained", ""}
	default:
		return Check{subject, name, CodeSlotRetention, OK, v + ": a slot that falls further behind is invalidated and its database copied again by the next apply", ""}
	}
}
