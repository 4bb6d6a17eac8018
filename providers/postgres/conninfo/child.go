package conninfo

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/connstr"
)

// childKeywords are the libpq keywords handed on to child tools as
// written. password and passfile never are (the password goes through
// the password file), nor is sslpassword (a secret).
var childKeywords = map[string]bool{
	"hostaddr": true, "connect_timeout": true, "client_encoding": true, "options": true,
	"application_name": true, "fallback_application_name": true, "keepalives": true,
	"keepalives_idle": true, "keepalives_interval": true, "keepalives_count": true,
	"tcp_user_timeout": true, "sslmode": true, "sslnegotiation": true, "sslcompression": true,
	"sslcert": true, "sslkey": true, "sslcertmode": true, "sslrootcert": true, "sslcrl": true,
	"sslcrldir": true, "sslsni": true, "requirepeer": true, "ssl_min_protocol_version": true,
	"ssl_max_protocol_version": true, "gssencmode": true, "krbsrvname": true, "gsslib": true,
	"gssdelegation": true, "channel_binding": true, "require_auth": true,
	"target_session_attrs": true, "load_balance_hosts": true,
	"min_protocol_version": true, "max_protocol_version": true,
}

// pgxKeywords are pgx's own options, meaningless to libpq.
var pgxKeywords = map[string]bool{
	"statement_cache_capacity": true, "description_cache_capacity": true,
	"default_query_exec_mode": true, "prefer_simple_protocol": true,
}

// ChildConnString returns a key=value connection string for a child
// tool's -d/--dbname: hosts, ports, user, database, TLS and other libpq
// settings as written, server parameters folded into options (-c k=v), and
// TCP keepalives (keepalives=1 keepalives_idle=30 keepalives_interval=10
// keepalives_count=6 unless written otherwise). It never holds the
// password: the child reads it from the file ChildEnv points PGPASSFILE
// at. libpq has no environment variables for keepalives, hence the
// connection string.
func ChildConnString(info Info) string {
	if !info.Valid() {
		return ""
	}
	cs := info.s
	host, ok := cs.Get("host")
	if !ok {
		host = info.Host()
	}
	port, ok := cs.Get("port")
	if !ok {
		port = strconv.Itoa(int(info.Port()))
	}
	parts := []string{"host=" + connstr.QuoteKV(host), "port=" + connstr.QuoteKV(port),
		"user=" + connstr.QuoteKV(info.User()), "dbname=" + connstr.QuoteKV(info.Database())}
	var serverParams []string
	for _, k := range cs.Keys {
		v := cs.Values[k]
		switch {
		case k == "host" || k == "port" || k == "user" || k == "dbname":
		case childKeywords[k]:
			if k != "options" {
				parts = append(parts, k+"="+connstr.QuoteKV(v))
			}
		case k == "password" || k == "passfile" || k == "sslpassword" || k == "service" ||
			k == "servicefile" || pgxKeywords[k] || strings.HasPrefix(k, "pool_"):
		default:
			serverParams = append(serverParams, "-c "+escapeOption(k+"="+v))
		}
	}
	defaults := map[string]string{
		"keepalives": "1", "keepalives_idle": strconv.Itoa(int(keepaliveIdle.Seconds())),
		"keepalives_interval": strconv.Itoa(int(keepaliveInterval.Seconds())),
		"keepalives_count":    strconv.Itoa(keepaliveCount),
	}
	for _, k := range []string{"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"} {
		if _, ok := cs.Get(k); !ok {
			parts = append(parts, k+"="+defaults[k])
		}
	}
	options, _ := cs.Get("options")
	if len(serverParams) > 0 {
		options = strings.TrimSpace(options + " " + strings.Join(serverParams, " "))
	}
	if options != "" {
		parts = append(parts, "options="+connstr.QuoteKV(options))
	}
	return strings.Join(parts, " ")
}

// escapeOption escapes spaces and backslashes for libpq's options.
func escapeOption(s string) string {
	return strings.NewReplacer(`\`, `\\`, " ", `\ `).Replace(s)
}

// ChildEnv returns the environment for a child tool (pg_dump, psql, ...):
// this process's environment without any PG* variable (PGPASSWORD in
// particular, and others that could redirect the child) and without the
// configuration's REPLICATOR_VAR_* variables (which may hold passwords),
// plus PGHOST,
// PGPORT, PGUSER, PGDATABASE, PGSSLMODE (when set), PGCONNECT_TIMEOUT
// (30 unless the string says otherwise) from info, and PGPASSFILE=passFile
// when passFile is not "". Pass ChildConnString(info) with -d as well.
func ChildEnv(info Info, passFile string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(strings.ToUpper(kv), "REPLICATOR_VAR_") {
			continue
		}
		env = append(env, kv)
	}
	if !info.Valid() {
		return env
	}
	host, ok := info.s.Get("host")
	if !ok {
		host = info.Host()
	}
	port, ok := info.s.Get("port")
	if !ok {
		port = strconv.Itoa(int(info.Port()))
	}
	timeout := "30"
	if v, ok := info.s.Get("connect_timeout"); ok && v != "" {
		timeout = v
	}
	add := map[string]string{
		"PGHOST": host, "PGPORT": port, "PGUSER": info.User(),
		"PGDATABASE": info.Database(), "PGCONNECT_TIMEOUT": timeout,
	}
	if m := info.SSLMode(); m != "" {
		add["PGSSLMODE"] = m
	}
	if passFile != "" {
		add["PGPASSFILE"] = passFile
	}
	names := make([]string, 0, len(add))
	for k := range add {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		env = append(env, fmt.Sprintf("%s=%s", k, add[k]))
	}
	return env
}

// envLookup reads one environment variable.
func envLookup(name string) string { return os.Getenv(name) }
