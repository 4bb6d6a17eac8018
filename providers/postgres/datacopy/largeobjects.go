package datacopy

import (
	"context"
	"fmt"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
	"github.com/jackc/pgx/v5"
)

// CopyLargeObjects copies every large object of src's database to dst's,
// keeping OIDs, reading inside the exported snapshot when one is given.
// Objects that already exist on the target are replaced. PostgreSQL's
// logical replication does not carry large objects: they are copied at
// snapshot time only. Each object is read whole into memory.
func CopyLargeObjects(ctx context.Context, src, dst conninfo.Info, snapshotName string) (int, error) {
	s, err := conninfo.Connect(ctx, src)
	if err != nil {
		return 0, err
	}
	defer s.Close(context.Background())
	d, err := conninfo.Connect(ctx, dst)
	if err != nil {
		return 0, err
	}
	defer d.Close(context.Background())
	stx, err := s.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, fmt.Errorf("large objects: begin: %w", err)
	}
	defer stx.Rollback(context.Background())
	if snapshotName != "" {
		if err := snapshot.Import(ctx, stx, snapshotName); err != nil {
			return 0, fmt.Errorf("large objects: %w", err)
		}
	}
	rows, err := stx.Query(ctx, "SELECT oid FROM pg_catalog.pg_largeobject_metadata ORDER BY oid")
	if err != nil {
		return 0, fmt.Errorf("large objects: list: %w", err)
	}
	oids, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
	if err != nil {
		return 0, fmt.Errorf("large objects: list: %w", err)
	}
	dtx, err := d.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("large objects: begin on target: %w", err)
	}
	defer dtx.Rollback(context.Background())
	for _, oid := range oids {
		var data []byte
		if err := stx.QueryRow(ctx, "SELECT lo_get($1)", oid).Scan(&data); err != nil {
			return 0, fmt.Errorf("large object %d: read: %w", oid, err)
		}
		if _, err := dtx.Exec(ctx, "SELECT lo_unlink($1) FROM pg_catalog.pg_largeobject_metadata WHERE oid = $1", oid); err != nil {
			return 0, fmt.Errorf("large object %d: replace: %w", oid, err)
		}
		if _, err := dtx.Exec(ctx, "SELECT lo_from_bytea($1, $2)", oid, data); err != nil {
			return 0, fmt.Errorf("large object %d: write: %w", oid, err)
		}
	}
	if err := dtx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("large objects: commit: %w", err)
	}
	return len(oids), nil
}
