// Package globals copies roles, memberships and tablespaces
// (pg_dumpall --globals-only) to the target, skipping what the target
// cannot create (superusers, provider roles).
package globals
