// Package postgres is everything database-replicator says to PostgreSQL:
// connections, introspection, and the actions of a plan.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Keepalive settings used on every connection, ours and child tools'.
const (
	keepaliveIdle     = 30 * time.Second
	keepaliveInterval = 10 * time.Second
	keepaliveCount    = 6
)

// ConnInfo is a parsed connection string. The password is decoded once,
// here, and every consumer (our connections, child tools' pass files)
// uses this decoded value.
type ConnInfo struct {
	raw string
	cfg *pgconn.Config
}

// ParseURL parses a libpq URL or key=value connection string.
func ParseURL(s string) (ConnInfo, error) {
	if strings.TrimSpace(s) == "" {
		return ConnInfo{}, errors.New("empty connection string: write a URL such as postgres://user@host:5432/db")
	}
	cfg, err := pgconn.ParseConfig(s)
	if err != nil {
		return ConnInfo{}, fmt.Errorf("parse connection string %s: %s", RedactURL(s), RedactURL(unwrapParseError(err)))
	}
	return ConnInfo{raw: s, cfg: cfg}, nil
}

// unwrapParseError returns pgconn's message without the connection string
// it quotes (which may hold the password).
func unwrapParseError(err error) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		if inner := errors.Unwrap(pe); inner != nil {
			return inner.Error()
		}
		return "invalid connection string"
	}
	return err.Error()
}

// Host is the first host of the connection string.
func (c ConnInfo) Host() string { return c.cfg.Host }

// Port is the first port.
func (c ConnInfo) Port() uint16 { return c.cfg.Port }

// User is the user name.
func (c ConnInfo) User() string { return c.cfg.User }

// Password is the decoded password, or "" when the string has none.
func (c ConnInfo) Password() string { return c.cfg.Password }

// Database is the database name.
func (c ConnInfo) Database() string { return c.cfg.Database }

// SSLMode is the sslmode parameter as written, or "".
func (c ConnInfo) SSLMode() string {
	if u, err := url.Parse(c.raw); err == nil && u.Scheme != "" {
		return u.Query().Get("sslmode")
	}
	for _, f := range strings.Fields(c.raw) {
		if v, ok := strings.CutPrefix(f, "sslmode="); ok {
			return v
		}
	}
	return ""
}

// WithDatabase returns the same server and credentials for another database.
func (c ConnInfo) WithDatabase(name string) ConnInfo {
	cfg := c.cfg.Copy()
	cfg.Database = name
	var raw string
	if u, err := url.Parse(c.raw); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		u.RawPath = ""
		raw = u.String()
	} else {
		raw = setKeyword(c.raw, "dbname", name)
	}
	return ConnInfo{raw: raw, cfg: cfg}
}

// String is the redacted connection string: never the password.
func (c ConnInfo) String() string { return c.Redacted() }

// Redacted is the connection string with its password replaced by xxxxx.
func (c ConnInfo) Redacted() string { return RedactURL(c.raw) }

// pgxConfig returns a pgx configuration with TCP keepalives.
func (c ConnInfo) pgxConfig() (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(c.raw)
	if err != nil {
		return nil, fmt.Errorf("parse connection string %s: %s", c.Redacted(), RedactURL(unwrapParseError(err)))
	}
	cfg.Password = c.cfg.Password
	dialer := &net.Dialer{
		Timeout: 30 * time.Second,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: keepaliveIdle, Interval: keepaliveInterval, Count: keepaliveCount,
		},
	}
	cfg.DialFunc = dialer.DialContext
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	return cfg, nil
}

// Connect opens a connection with TCP keepalives. Errors name the problem
// and the fix, and never contain the password.
func Connect(ctx context.Context, info ConnInfo) (*pgx.Conn, error) {
	if info.cfg == nil {
		return nil, errors.New("connect: no connection string")
	}
	cfg, err := info.pgxConfig()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, classifyConnectError(info, err)
	}
	return conn, nil
}

// classifyConnectError turns a connection failure into a message that
// says what went wrong and how to fix it.
func classifyConnectError(info ConnInfo, err error) error {
	where := fmt.Sprintf("%s:%d", info.Host(), info.Port())
	if strings.HasPrefix(info.Host(), "/") {
		where = "socket " + info.Host()
	}
	msg := RedactURL(err.Error())
	if p := info.Password(); p != "" {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	var pgErr *pgconn.PgError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000"):
		return fmt.Errorf("connect to %s as %s: authentication failed (%s): check the user and password (URL, PGPASSWORD or ~/.pgpass) and pg_hba.conf", where, info.User(), pgErr.Message)
	case errors.As(err, &pgErr) && pgErr.Code == "3D000":
		return fmt.Errorf("connect to %s: database %q does not exist: create it or fix the database name in the URL", where, info.Database())
	case errors.As(err, &dnsErr):
		return fmt.Errorf("connect to %s: host name %q does not resolve: check the host in the URL (%s)", where, info.Host(), dnsErr.Err)
	case strings.Contains(msg, "connection refused"):
		return fmt.Errorf("connect to %s: connection refused: is PostgreSQL running and listening on that host and port (listen_addresses, firewall)?", where)
	case strings.Contains(msg, "tls") || strings.Contains(msg, "TLS") || strings.Contains(msg, "SSL") || strings.Contains(msg, "x509"):
		return fmt.Errorf("connect to %s: TLS failed (%s): check sslmode and sslrootcert, or the server's ssl settings", where, msg)
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "timeout"):
		return fmt.Errorf("connect to %s: timed out: the host does not answer; check host, port and firewalls", where)
	}
	return fmt.Errorf("connect to %s: %s", where, msg)
}

// setKeyword sets key=value in a key=value connection string.
func setKeyword(conn, key, value string) string {
	quoted := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(value) + "'"
	fields := splitKeywords(conn)
	found := false
	for i, f := range fields {
		if k, _, ok := strings.Cut(f, "="); ok && strings.TrimSpace(k) == key {
			fields[i] = key + "=" + quoted
			found = true
		}
	}
	if !found {
		fields = append(fields, key+"="+quoted)
	}
	return strings.Join(fields, " ")
}

// splitKeywords splits a key=value string into "key=value" fields,
// honouring single quotes and backslash escapes.
func splitKeywords(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && i+1 < len(s):
			cur.WriteByte(ch)
			cur.WriteByte(s[i+1])
			i++
		case ch == '\'':
			inQuote = !inQuote
			cur.WriteByte(ch)
		case (ch == ' ' || ch == '\t' || ch == '\n') && !inQuote:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(ch)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	// Join "key = value" forms written with spaces around "=".
	var joined []string
	for i := 0; i < len(out); i++ {
		f := out[i]
		if f == "=" && len(joined) > 0 && i+1 < len(out) {
			joined[len(joined)-1] += "=" + out[i+1]
			i++
			continue
		}
		if strings.HasSuffix(f, "=") && !strings.Contains(strings.TrimSuffix(f, "="), "=") && i+1 < len(out) && !strings.Contains(out[i+1], "=") {
			joined = append(joined, f+out[i+1])
			i++
			continue
		}
		joined = append(joined, f)
	}
	return joined
}
