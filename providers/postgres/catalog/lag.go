package catalog

import "github.com/jackc/pglogrepl"

// LSNDiff returns a - b in bytes for two LSNs in text form ("0/1A2B3C"),
// or 0 when either does not parse or b is ahead.
func LSNDiff(a, b string) int64 {
	x, err1 := pglogrepl.ParseLSN(a)
	y, err2 := pglogrepl.ParseLSN(b)
	if err1 != nil || err2 != nil || y > x {
		return 0
	}
	return int64(x - y)
}
