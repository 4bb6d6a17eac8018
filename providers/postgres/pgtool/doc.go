// Package pgtool finds and runs the PostgreSQL client programs (pg_dump,
// pg_dumpall, pg_restore, psql): Find locates them, Run runs one with the
// credentials in a temporary password file and its errors redacted, and
// DumpMajor / FindDumpTool read and check their versions.
package pgtool
