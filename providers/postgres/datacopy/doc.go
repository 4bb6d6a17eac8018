// Package datacopy moves rows: the streamed COPY of one table from source
// to target (CopyTable, optionally split by CTID ranges), large objects,
// and sequence values (read, apply, sync).
package datacopy
