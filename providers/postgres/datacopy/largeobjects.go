package datacopy

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/snapshot"
	"github.com/jackc/pgx/v5"
)

// largeObjectChunk is how many bytes of a large object are read from the
// source (one loread) and written to the target (one lowrite) at a time: the
// most of one object the process holds, whatever the object's size.
const largeObjectChunk = 1 << 20

// CopyLargeObjects copies every large object of src's database to dst's,
// keeping OIDs, reading inside the exported snapshot when one is given.
// Objects that already exist on the target are replaced. PostgreSQL's
// logical replication does not carry large objects: they are copied at
// snapshot time only. Each object is streamed in chunks of
// largeObjectChunk bytes, so memory stays bounded for objects of any size.
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
	buf := make([]byte, largeObjectChunk)
	for _, oid := range oids {
		if err := copyLargeObject(ctx, stx, dtx, oid, buf); err != nil {
			return 0, fmt.Errorf("large object %d: %w", oid, err)
		}
	}
	if err := dtx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("large objects: commit: %w", err)
	}
	return len(oids), nil
}

// copyLargeObject replaces the target's object oid with the source's,
// moving it through buf one chunk at a time (lo_open, loread, lowrite).
func copyLargeObject(ctx context.Context, stx, dtx pgx.Tx, oid uint32, buf []byte) error {
	if _, err := dtx.Exec(ctx, "SELECT lo_unlink($1) FROM pg_catalog.pg_largeobject_metadata WHERE oid = $1", oid); err != nil {
		return fmt.Errorf("replace: %w", err)
	}
	slo, dlo := stx.LargeObjects(), dtx.LargeObjects()
	if _, err := dlo.Create(ctx, oid); err != nil {
		return fmt.Errorf("create on target: %w", err)
	}
	r, err := slo.Open(ctx, oid, pgx.LargeObjectModeRead)
	if err != nil {
		return fmt.Errorf("open on source: %w", err)
	}
	w, err := dlo.Open(ctx, oid, pgx.LargeObjectModeWrite)
	if err != nil {
		return fmt.Errorf("open on target: %w", err)
	}
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return fmt.Errorf("read: %w", rerr)
		}
	}
	if err := r.Close(); err != nil {
		return fmt.Errorf("close on source: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("close on target: %w", err)
	}
	return nil
}
