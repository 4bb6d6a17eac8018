package xminsync

import "fmt"

// xidColumn is a row's 32-bit xmin as a number.
const xidColumn = "xmin::text::bigint"

// firstNormalXid is the first transaction ID a transaction can get: 0–2
// are reserved (invalid, bootstrap, frozen) and mark rows that never change.
const firstNormalXid = 3

// wrapHorizon is how far apart two 64-bit transaction IDs can be while a
// 32-bit xmin still says unambiguously which is older.
const wrapHorizon = uint64(1) << 31

// xidWindow renders the SQL condition "the row's xmin is in [from, to)",
// where from and to are 64-bit transaction IDs (epoch << 32 | xid) and the
// row carries only the low 32 bits. Across an epoch boundary the window is
// two ranges of 32-bit values. full is true when the window is too wide for
// 32-bit values to be told apart (more than 2^31 transactions): every row
// must be read, and cond is "".
func xidWindow(from, to uint64) (cond string, full bool) {
	if to <= from {
		return "false", false
	}
	if to-from >= wrapHorizon {
		return "", true
	}
	lo, hi := from&0xffffffff, to&0xffffffff
	if from>>32 == to>>32 {
		lo = max(lo, firstNormalXid)
		if lo >= hi {
			return "false", false
		}
		return fmt.Sprintf("(%s >= %d AND %s < %d)", xidColumn, lo, xidColumn, hi), false
	}
	// The window crosses the wrap: [lo, 2^32) and [3, hi).
	return fmt.Sprintf("(%s >= %d OR (%s >= %d AND %s < %d))", xidColumn, max(lo, firstNormalXid), xidColumn, firstNormalXid, xidColumn, hi), false
}
