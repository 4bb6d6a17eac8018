package conninfo

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// ExecOne runs one SQL statement through the extended query protocol
// (Parse, Bind, Execute of an unnamed statement), which the server
// refuses when the text holds more than one statement: use it for every
// statement that carries text from a configuration (row filters). pgx's
// Exec without arguments, by contrast, uses the simple protocol, which
// runs every statement in the text. It returns the rows, each column as
// text.
func ExecOne(ctx context.Context, conn *pgx.Conn, sql string) ([][]string, error) {
	res := conn.PgConn().ExecParams(ctx, sql, nil, nil, nil, nil).Read()
	if res.Err != nil {
		return nil, res.Err
	}
	out := make([][]string, len(res.Rows))
	for i, row := range res.Rows {
		out[i] = make([]string, len(row))
		for j, v := range row {
			out[i][j] = string(v)
		}
	}
	return out, nil
}
