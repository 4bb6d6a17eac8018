// Package rowfilter checks publication row filters against the source
// server: whether a configured filter is valid and leaves UPDATE/DELETE
// possible (Check), and what filter a publication stores (OfPublication).
package rowfilter
