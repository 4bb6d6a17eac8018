// Package catalog is the model of a PostgreSQL server as the planner sees
// it (Server, Database, Table, Column, Sequence, Publication,
// Subscription, Slot) and its introspection from the system catalogs
// (Introspect, Fingerprint), plus LSN arithmetic (LSNDiff).
package catalog
