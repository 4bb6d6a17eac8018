// Package postgres holds nothing itself: everything database-replicator
// says to PostgreSQL lives in its subpackages, one job each:
//
//   - conninfo: connection strings, connections, redaction, credentials
//     for child tools.
//   - pgtool: finding and running pg_dump, pg_dumpall, pg_restore, psql.
//   - catalog: the catalog model and its introspection, lag helpers.
//   - rowfilter: publication row-filter checks.
//   - schemadump: pg_dump --schema-only, pre/post data, schema drift DDL.
//   - globals: roles, memberships and tablespaces.
//   - snapshot: slots with exported snapshots, held snapshots.
//   - datacopy: streamed COPY, CTID splits, large objects, sequences.
//   - ddl: CREATE/DROP DATABASE.
//   - compare: the bucketed table comparison behind verify and xmin
//     reconciliation.
//   - actions: the provider that applies a plan's changes.
//   - xminsync: the xmin sync engine.
//   - pgtest: throwaway PostgreSQL clusters for tests.
package postgres
