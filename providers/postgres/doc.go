// Package postgres is everything database-replicator says to PostgreSQL:
// connections, introspection, and the actions of a plan.
//
// Connection strings are parsed once into a ConnInfo (ParseURL); our own
// connections come from Connect, child tools (pg_dump, psql) get a
// password-free connection string (ChildConnString), an environment
// (ChildEnv) and a 0600 password file (WritePassFile), so that passwords
// never appear in argv or logs.
package postgres
