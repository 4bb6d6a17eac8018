// Package ddl runs database-level DDL on the target: CREATE DATABASE
// with the source encoding and locale, DROP DATABASE, and the check
// whether a database already holds tables.
package ddl
