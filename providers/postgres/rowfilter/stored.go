package rowfilter

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// OfPublication returns the row filter a publication stores for a
// table, as PostgreSQL deparsed it ("" when the table is published
// without one); published is false when the publication does not carry
// the table.
func OfPublication(ctx context.Context, conn *pgx.Conn, publication, schema, table string) (filter string, published bool, err error) {
	err = conn.QueryRow(ctx, `SELECT coalesce(rowfilter, '') FROM pg_catalog.pg_publication_tables
		WHERE pubname = $1 AND schemaname = $2 AND tablename = $3`, publication, schema, table).Scan(&filter)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("read the row filter of %s in publication %s: %w", pgx.Identifier{schema, table}.Sanitize(), publication, err)
	}
	return filter, true, nil
}
