package schemadump

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// locksPerTable is what one table of a pre-data restore holds in the
// server's lock table until the transaction ends, with room to spare: the
// table, its TOAST table and index, an owned sequence.
const locksPerTable = 4

// LockBudget returns how many pre-data objects one transaction of a restore
// of tables tables on conn's server may create: 0 when the whole restore
// fits in one transaction. The server's lock table holds
// max_locks_per_transaction × (max_connections + max_prepared_transactions)
// locks shared by every session; a transaction that creates thousands of
// tables (about four locks each) runs out of it ("out of shared memory",
// hint max_locks_per_transaction). One transaction may take half of it.
func LockBudget(ctx context.Context, conn *pgx.Conn, tables int) (int, error) {
	var capacity int
	err := conn.QueryRow(ctx, `SELECT current_setting('max_locks_per_transaction')::int
		* (current_setting('max_connections')::int + current_setting('max_prepared_transactions')::int)`).Scan(&capacity)
	if err != nil {
		return 0, fmt.Errorf("size of the lock table: %w", err)
	}
	budget := capacity / 2
	if tables*locksPerTable <= budget {
		return 0, nil
	}
	return max(budget/locksPerTable, 1), nil
}
