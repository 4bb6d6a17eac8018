package conninfo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ConnectFailure classifies why a connection could not be opened.
type ConnectFailure string

// The kinds of connection failure Connect tells apart.
const (
	FailureDNS        ConnectFailure = "dns"         // host name does not resolve
	FailureRefused    ConnectFailure = "refused"     // nothing listens there
	FailureTimeout    ConnectFailure = "timeout"     // no answer
	FailureAuth       ConnectFailure = "auth"        // wrong user/password, pg_hba.conf
	FailureTLS        ConnectFailure = "tls"         // TLS negotiation or certificate
	FailureNoDatabase ConnectFailure = "no-database" // database does not exist
	FailureServer     ConnectFailure = "server"      // the server answered with another error
	FailureOther      ConnectFailure = "other"
)

// ConnectError is a failed connection attempt. Its message names the
// problem and the fix and never contains the password.
type ConnectError struct {
	Kind    ConnectFailure
	Address string // host:port, or the unix socket path
	Problem string // what went wrong
	Fix     string // what to check
	err     error
}

// Error renders "connect to ADDRESS: PROBLEM: FIX".
func (e *ConnectError) Error() string {
	msg := "connect to " + e.Address + ": " + e.Problem
	if e.Fix != "" {
		msg += ": " + e.Fix
	}
	return msg
}

// Unwrap returns the driver's error (whose message may differ; use Error).
func (e *ConnectError) Unwrap() error { return e.err }

// Connect opens a connection with TCP keepalives. On failure it returns a
// *ConnectError that says what went wrong and how to fix it.
func Connect(ctx context.Context, info Info) (*pgx.Conn, error) {
	cfg, err := info.ConnConfig()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, ClassifyConnectError(info, err)
	}
	return conn, nil
}

// address renders where a connection went: host:port or the socket path.
func (c Info) Address() string {
	host, port := c.Host(), strconv.Itoa(int(c.Port()))
	if strings.HasPrefix(host, "/") {
		return host + "/.s.PGSQL." + port
	}
	return net.JoinHostPort(host, port)
}

// ClassifyConnectError turns a driver error into a *ConnectError.
func ClassifyConnectError(info Info, err error) *ConnectError {
	e := &ConnectError{Kind: FailureOther, Address: info.Address(), err: err}
	var pgErr *pgconn.PgError
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	text := err.Error()
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "3D000":
		e.Kind = FailureNoDatabase
		e.Problem = fmt.Sprintf("database %q does not exist", info.Database())
		e.Fix = "create it, or fix the database name in the connection string"
	case errors.As(err, &pgErr) && pgErr.Code == "28P01":
		e.Kind = FailureAuth
		e.Problem = fmt.Sprintf("password authentication failed for user %q", info.User())
		e.Fix = "check the user name and password (in the URL, PGPASSWORD or the password file)"
	case errors.As(err, &pgErr) && pgErr.Code == "28000":
		e.Kind = FailureAuth
		e.Problem = fmt.Sprintf("authentication failed for user %q (%s)", info.User(), pgErr.Message)
		e.Fix = "the server's pg_hba.conf does not let this user in from here, or the role does not exist; check the user name and pg_hba.conf"
	case errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "28"):
		e.Kind = FailureAuth
		e.Problem = "authentication failed: " + pgErr.Message
		e.Fix = "check the user name, password and pg_hba.conf"
	case errors.As(err, &pgErr):
		// The server answered: whatever TLS did first (sslmode=prefer
		// tries TLS, then plain text), its error is the cause.
		e.Kind = FailureServer
		e.Problem = "server error: " + pgErr.Severity + ": " + pgErr.Message + " (SQLSTATE " + pgErr.Code + ")"
		e.Fix = serverErrorFix(pgErr.Code)
	case errors.As(err, &dnsErr):
		e.Kind = FailureDNS
		e.Problem = fmt.Sprintf("cannot resolve host name %q", dnsErr.Name)
		e.Fix = "check the host in the connection string and DNS"
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Kind = FailureRefused
		e.Problem = "connection refused"
		e.Fix = "is PostgreSQL running and listening on that host and port?"
	case errors.Is(err, syscall.ENOENT) && strings.HasPrefix(info.Host(), "/"):
		e.Kind = FailureRefused
		e.Problem = "no server socket"
		e.Fix = "is PostgreSQL running, and is this its unix_socket_directories?"
	case errors.As(err, &certErr), errors.As(err, &recErr), errors.As(err, &unknownCA),
		errors.As(err, &hostErr), errors.As(err, &invalidCert),
		strings.Contains(text, "server refused TLS"), strings.Contains(text, "tls: "):
		e.Kind = FailureTLS
		e.Problem = "TLS failed (" + lastLine(text) + ")"
		e.Fix = "check sslmode (and sslrootcert for verify-ca/verify-full) against the server's ssl settings"
	case pgconn.Timeout(err), errors.Is(err, context.DeadlineExceeded), isNetTimeout(err):
		e.Kind = FailureTimeout
		e.Problem = "timed out"
		e.Fix = "the host does not answer; check host, port, firewalls and security groups"
	default:
		e.Problem = lastLine(text)
	}
	e.Problem = Scrub(e.Problem, info.Password())
	return e
}

// serverErrorFix says what to do about an error the server sent while a
// connection was being opened.
func serverErrorFix(code string) string {
	switch {
	case code == "57P03":
		return "the server is starting up or shutting down; retry once it accepts connections"
	case code == "53300":
		return "the server has no free connection slots; raise max_connections or close idle sessions"
	case code == "42704", strings.HasPrefix(code, "22"):
		return "a parameter of the connection string is not a libpq keyword, so it was sent to the server as a setting, which refused it: remove or fix it"
	default:
		return "see the server's message; check the connection string and the server's log"
	}
}

// isNetTimeout reports a network timeout anywhere in err's chain.
func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// lastLine keeps the innermost cause of a multi-line driver message.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	return s
}
