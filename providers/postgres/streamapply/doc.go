// Package streamapply is the stream sync engine's applier: it reads the
// pgoutput change stream of a logical replication slot on the source
// (github.com/jackc/pglogrepl, protocol version 1, or 2 with streaming of
// large in-progress transactions on sources of PostgreSQL 14 and later) and
// applies it on an ordinary connection to the target, exactly once.
//
// Exactly once: the end LSN of the last applied source commit is stored in
// database_replicator.stream_progress on the target in the same
// transaction as the changes. After a restart, source transactions that
// committed at or below it are skipped, and the standby status updates
// report as flushed only what the target has committed, so the slot keeps
// every change the target does not have yet.
//
// Changes are applied by replica identity (primary key, index or FULL) in
// the text format, matching columns by name: the target may have more
// columns; generated target columns are never written and identity columns
// are inserted with OVERRIDING SYSTEM VALUE, as the copy does. Unchanged
// TOASTed values (sent as "unchanged") are never overwritten: an UPDATE
// sets only the columns the source sent. Consecutive inserts into one table
// become multi-row INSERTs (also across updates and deletes of other tables
// when neither table's rows can be seen from the other on the target: see
// standaloneTable). Statements are sent in a pipeline as they are queued
// (flushed at every source commit; the results are read once, when the
// group commits), and several source transactions are committed in one
// target transaction (never part of one): the group commits when nothing
// more arrives at once, or when it is big or old enough. Large transactions streamed while still in progress (protocol
// version 2) are spooled to a temporary file, not memory, and applied when
// their commit arrives.
package streamapply
