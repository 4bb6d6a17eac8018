package conninfo

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// lostMessages are how a lost connection reads in the text of errors that
// lost their type: pg_dump's, psql's and pg_restore's, and driver errors
// formatted into strings.
var lostMessages = []string{
	"unexpected EOF",
	"server closed the connection unexpectedly",
	"terminating connection due to administrator command",
	"the database system is shutting down",
	"the database system is starting up",
	"the database system is in recovery mode",
	"connection reset by peer",
	"broken pipe",
	"conn closed",
	"connection refused",
	"no connection to the server",
	"could not receive data from server",
	"could not send data to server",
}

// ConnectionLost reports whether err (anywhere in its chain) is a server
// connection that went away: a restart or crash of the server (SQLSTATE
// 57P01-57P03, class 08), a reset or closed socket, an unexpected EOF, or
// a child tool's message saying so. A rerun may then succeed.
func ConnectionLost(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" {
			return true
		}
	}
	var opErr *net.OpError
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &opErr) {
		return true
	}
	text := err.Error()
	for _, m := range lostMessages {
		if strings.Contains(text, m) {
			return true
		}
	}
	return false
}
