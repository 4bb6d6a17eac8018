// Package state holds what database-replicator knows it has done: the
// replication objects it created (databases, tables copied, publications,
// slots, subscriptions, sync cursors), keyed by stable addresses such as
// replication.main.table["myapp.public.users"].
//
// A State carries a format Version, a Lineage (a random identifier set on
// the first write and never changed, so that two unrelated states are never
// confused) and a Serial (incremented by every successful write, so that a
// writer that read an older state cannot overwrite a newer one).
//
// Backends store a State and serialise the runs that use it:
//
//   - Local: a JSON file written atomically (temporary file, fsync, rename)
//     with a PATH.lock file holding the lock owner's details.
//   - Postgres: a row in <schema>.state guarded by a session-level advisory
//     lock, with the owner's details in <schema>.state_lock.
//
// No secret is ever stored: every write passes through Scrub, which redacts
// passwords in connection URLs and key=value connection strings and refuses
// attributes named like a credential (password, passwd, secret, token).
package state
