package conninfo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// QuoteLiteral quotes a SQL string literal (E-prefixed when the value
// holds a backslash), so that the result is right whatever
// standard_conforming_strings says.
func QuoteLiteral(v string) string {
	v = strings.ReplaceAll(v, "'", "''")
	if strings.Contains(v, `\`) {
		return "E'" + strings.ReplaceAll(v, `\`, `\\`) + "'"
	}
	return "'" + v + "'"
}

// ErrCode returns the SQLSTATE of a server error in err's chain, or "".
func ErrCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// ServerVersionNum reads server_version_num.
func ServerVersionNum(ctx context.Context, conn *pgx.Conn) (int, error) {
	var v int
	if err := conn.QueryRow(ctx, "SELECT pg_catalog.current_setting('server_version_num')::int").Scan(&v); err != nil {
		return 0, fmt.Errorf("read server version: %w", err)
	}
	return v, nil
}

// ServerMessage returns the server's message (and hint) for an error.
func ServerMessage(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Hint != "" {
			return pgErr.Message + " (" + pgErr.Hint + ")"
		}
		return pgErr.Message
	}
	return err.Error()
}
