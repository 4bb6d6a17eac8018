// Package rowfilter checks publication row filters against the source
// server, read-only: whether a configured filter is one valid boolean
// expression over its table, whether a publication would accept it and
// leave UPDATE/DELETE possible, and whether it means what a publication
// stores (Check); and what filter a publication stores (OfPublication).
package rowfilter
