package conninfo

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/connstr"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Default TCP keepalives, for our connections and child tools' alike, so
// that a dead peer is noticed within about a minute and a half instead of
// hours (long COPYs and replication connections sit idle on one side).
const (
	keepaliveIdle     = 30 * time.Second
	keepaliveInterval = 10 * time.Second
	keepaliveCount    = 6
)

// libpqOnlyKeys are libpq keywords pgx does not understand; pgx would send
// them to the server as run-time parameters, which the server rejects. They
// are applied by us (keepalives) or passed on to child tools only.
var libpqOnlyKeys = map[string]bool{
	"keepalives": true, "keepalives_idle": true, "keepalives_interval": true,
	"keepalives_count": true, "tcp_user_timeout": true,
}

// Info is a parsed connection string (libpq URL or key=value).
//
// The string is parsed once, here: a percent-encoded password is decoded
// exactly once, and every consumer (our pgx connections, the .pgpass file
// of child tools, Password) sees that same decoded value. Settings the
// string leaves out (host, port, user, database, password) resolve as libpq
// resolves them: environment (PGHOST, PGPASSWORD, ...), then defaults,
// then the password file.
//
// Its String and Redacted methods never show the password.
type Info struct {
	s   *connstr.Settings // what the string says
	res *pgconn.Config    // resolved by pgx (environment, defaults, passfile)
}

// ParseURL parses a libpq URL (postgres://user:pass@host:port/db?opts) or
// key=value string (host=... user=... password=...). Errors never contain
// the password.
func ParseURL(s string) (Info, error) {
	if strings.TrimSpace(s) == "" {
		return Info{}, errors.New("empty connection string: write a URL such as postgres://user@host:5432/db")
	}
	if err := checkOneAt(s); err != nil {
		return Info{}, err
	}
	cs, err := connstr.Parse(s)
	if err != nil {
		return Info{}, fmt.Errorf("parse connection string %s: %w", connstr.RedactURL(s), err)
	}
	return newConnInfo(cs)
}

// checkOneAt refuses a URL with more than one @ before its host. libpq
// ends the user and password at the first @, so the rest of a password
// holding an unencoded @ would become part of the host, and be shown in
// every message that names the host. The message shows neither the user
// nor the password.
func checkOneAt(s string) error {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "postgres" && scheme != "postgresql") {
		return nil
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority = rest[:i]
	}
	if strings.Count(authority, "@") < 2 {
		return nil
	}
	at := strings.LastIndex(authority, "@")
	shown := connstr.RedactURL(scheme + "://" + connstr.Mask + "@" + rest[at+1:])
	return fmt.Errorf("parse connection string %s: more than one @ before the host: percent-encode @ in the user name or password as %%40", shown)
}

// newConnInfo resolves parsed settings with pgx.
func newConnInfo(cs *connstr.Settings) (Info, error) {
	res, err := pgconn.ParseConfig(pgxString(cs))
	if err != nil {
		return Info{}, fmt.Errorf("connection string %s: %s", cs.RenderRedacted(), Scrub(parseErrorText(err), cs.Values["password"]))
	}
	return Info{s: cs, res: res}, nil
}

// pgxString renders the settings as key=value for pgx, without the keys
// pgx would misread as server parameters.
func pgxString(cs *connstr.Settings) string {
	return cs.RenderKV(cs.Values["password"], func(k string) bool { return libpqOnlyKeys[k] })
}

// parseErrorText is pgconn's reason without the connection string it
// quotes.
func parseErrorText(err error) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		if inner := errors.Unwrap(pe); inner != nil {
			return inner.Error()
		}
		msg := pe.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			return msg[i+2:]
		}
		return "invalid connection string"
	}
	return err.Error()
}

// scrub replaces a password in a message (long enough to be recognizable).
func Scrub(msg, password string) string {
	if len(password) >= 3 {
		msg = strings.ReplaceAll(msg, password, connstr.Mask)
	}
	return msg
}

// Valid reports whether the Info came from ParseURL.
func (c Info) Valid() bool { return c.s != nil && c.res != nil }

// Host returns the first host: as written, else as resolved (PGHOST,
// default socket directory). A unix socket directory starts with "/".
func (c Info) Host() string {
	if !c.Valid() {
		return ""
	}
	return c.res.Host
}

// Hosts returns every host of a multi-host string, with its port.
func (c Info) Hosts() []HostPort {
	if !c.Valid() {
		return nil
	}
	out := []HostPort{{c.res.Host, int(c.res.Port)}}
	for _, f := range c.res.Fallbacks {
		hp := HostPort{f.Host, int(f.Port)}
		if hp != out[len(out)-1] { // TLS fallbacks repeat the host
			out = append(out, hp)
		}
	}
	return out
}

// HostPort is one server address of a connection string.
type HostPort struct {
	Host string
	Port int
}

// Port returns the first port (5432 unless written or set by PGPORT).
func (c Info) Port() uint16 {
	if !c.Valid() {
		return 0
	}
	return c.res.Port
}

// User returns the user name: as written, else PGUSER or the OS user.
func (c Info) User() string {
	if !c.Valid() {
		return ""
	}
	return c.res.User
}

// Password returns the decoded password our connections use: as written,
// else PGPASSWORD, else from the password file; "" when there is none.
func (c Info) Password() string {
	if !c.Valid() {
		return ""
	}
	return c.res.Password
}

// WrittenPassword returns the password as written in the connection
// string (decoded), or "": never one from PGPASSWORD or a password file,
// which belong to this machine.
func (c Info) WrittenPassword() string {
	if !c.Valid() {
		return ""
	}
	return c.s.Values["password"]
}

// WithoutWrittenPassword returns the same connection string without the
// password written in it (the resolved settings keep theirs).
func (c Info) WithoutWrittenPassword() Info {
	if !c.Valid() {
		return c
	}
	cs := c.s.Clone()
	cs.Delete("password")
	return Info{s: cs, res: c.res}
}

// Database returns the database name: as written, else PGDATABASE, else
// the user name.
func (c Info) Database() string {
	if !c.Valid() {
		return ""
	}
	if c.res.Database == "" {
		return c.res.User
	}
	return c.res.Database
}

// SSLMode returns the sslmode as written (or set by PGSSLMODE), or "".
func (c Info) SSLMode() string {
	if !c.Valid() {
		return ""
	}
	if v, ok := c.s.Get("sslmode"); ok {
		return v
	}
	return envLookup("PGSSLMODE")
}

// Setting returns a keyword as written in the connection string (e.g.
// "application_name"); never the password.
func (c Info) Setting(key string) (string, bool) {
	key = connstr.CanonicalKey(key)
	if !c.Valid() || key == "password" {
		return "", false
	}
	return c.s.Get(key)
}

// WithDatabase returns the same server and credentials for another
// database.
func (c Info) WithDatabase(name string) Info {
	if !c.Valid() {
		return c
	}
	cs := c.s.Clone()
	cs.Set("dbname", name)
	res := c.res.Copy()
	res.Database = name
	return Info{s: cs, res: res}
}

// Redacted returns the connection string in the form it was written (URL
// or key=value) with the password replaced by xxxxx.
func (c Info) Redacted() string {
	if !c.Valid() {
		return ""
	}
	return c.s.RenderRedacted()
}

// String is Redacted, so that printing a Info never shows the password.
func (c Info) String() string { return c.Redacted() }

// keepalive returns the TCP keepalive configuration: our defaults, or what
// the keepalives* keywords of the string say.
func (c Info) keepalive() (net.KeepAliveConfig, error) {
	ka := net.KeepAliveConfig{Enable: true, Idle: keepaliveIdle, Interval: keepaliveInterval, Count: keepaliveCount}
	seconds := func(key string, dst *time.Duration) error {
		if v, ok := c.s.Get(key); ok && v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("invalid %s %q: want a number of seconds", key, v)
			}
			*dst = time.Duration(n) * time.Second
		}
		return nil
	}
	if v, ok := c.s.Get("keepalives"); ok && v == "0" {
		ka.Enable = false
	}
	if err := seconds("keepalives_idle", &ka.Idle); err != nil {
		return ka, err
	}
	if err := seconds("keepalives_interval", &ka.Interval); err != nil {
		return ka, err
	}
	if v, ok := c.s.Get("keepalives_count"); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return ka, fmt.Errorf("invalid keepalives_count %q: want a number", v)
		}
		ka.Count = n
	}
	if !ka.Enable {
		ka = net.KeepAliveConfig{Idle: -1, Interval: -1, Count: -1}
	}
	return ka, nil
}

// ConnConfig returns a pgx configuration with TCP keepalives on (idle 30s,
// interval 10s, 6 probes, unless the string's keepalives* say otherwise)
// and a 30s connect timeout unless connect_timeout says otherwise.
func (c Info) ConnConfig() (*pgx.ConnConfig, error) {
	if !c.Valid() {
		return nil, errors.New("no connection string")
	}
	cfg, err := pgx.ParseConfig(pgxString(c.s))
	if err != nil {
		return nil, fmt.Errorf("connection string %s: %s", c.Redacted(), Scrub(parseErrorText(err), c.s.Values["password"]))
	}
	// Resolve the password once: the same value Password reports.
	cfg.Password = c.res.Password
	ka, err := c.keepalive()
	if err != nil {
		return nil, fmt.Errorf("connection string %s: %w", c.Redacted(), err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAliveConfig: ka}
	cfg.DialFunc = dialer.DialContext
	return cfg, nil
}

// WithReadWrite returns the same connection string with
// default_transaction_read_only turned off for the session (added to
// options): a session of the tool's own that writes to a database whose
// default is read-only (a cutover's fence).
func (c Info) WithReadWrite() Info {
	if !c.Valid() {
		return c
	}
	cs := c.s.Clone()
	opts, _ := cs.Get("options")
	if opts != "" {
		opts += " "
	}
	cs.Set("options", opts+"-c default_transaction_read_only=off")
	return Info{s: cs, res: c.res.Copy()}
}
