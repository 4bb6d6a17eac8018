package streamapply

import (
	"context"
	"fmt"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
)

// Pending reports whether the slot, while no applier reads it, holds a
// source transaction with row changes for the publication that the
// target has not applied: one that ends after applied (the progress
// table's position). It peeks (decodes without consuming) from the
// slot's confirmed position to the source's end of WAL, on a connection
// to the slot's database; it fails when an applier is connected to the
// slot.
func Pending(ctx context.Context, src *pgx.Conn, slot, publication string, applied pglogrepl.LSN) (bool, error) {
	rows, err := src.Query(ctx, `SELECT data FROM pg_catalog.pg_logical_slot_peek_binary_changes($1, NULL, NULL,
		'proto_version', '1', 'publication_names', $2)`, slot, publication)
	if err != nil {
		return false, fmt.Errorf("read the pending changes of slot %q: %w", slot, err)
	}
	defer rows.Close()
	changes := false
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return false, fmt.Errorf("read the pending changes of slot %q: %w", slot, err)
		}
		msg, err := pglogrepl.Parse(data)
		if err != nil {
			return false, fmt.Errorf("decode a pending change of slot %q: %w", slot, err)
		}
		switch m := msg.(type) {
		case *pglogrepl.BeginMessage:
			changes = false
		case *pglogrepl.InsertMessage, *pglogrepl.UpdateMessage, *pglogrepl.DeleteMessage, *pglogrepl.TruncateMessage:
			changes = true
		case *pglogrepl.CommitMessage:
			if changes && m.TransactionEndLSN > applied {
				return true, nil
			}
		}
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("read the pending changes of slot %q: %w", slot, err)
	}
	return false, nil
}
