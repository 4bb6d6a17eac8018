package xminsync

import "fmt"

// wrapHorizon is how far apart two transaction IDs can be while a 32-bit
// xmin still says unambiguously which is older.
const wrapHorizon = uint64(1) << 31

// xidWindow renders the SQL condition "the row's xmin is in [from, to)",
// where from and to are 64-bit transaction IDs (epoch << 32 | xid) and the
// row carries only the low 32 bits.
//
// It uses age(xmin): within one transaction, age measures back from a
// fixed point, now (the next transaction ID when the transaction first
// asked, which is at or above to), in modulo-2^32 arithmetic — so the
// window is one range of ages, wraparound or not, and age is far cheaper
// than turning xmin into a number. Permanent transaction IDs (frozen,
// bootstrap) have age INT_MAX and never match. full is true when from is
// too old for 32-bit ages (2^31 transactions): every row must be read, and
// cond is "".
func xidWindow(from, to, now uint64) (cond string, full bool) {
	if to <= from {
		return "false", false
	}
	if now < to || now-from >= wrapHorizon {
		return "", true
	}
	return fmt.Sprintf("age(xmin) BETWEEN %d AND %d", now-to+1, now-from), false
}

// stableNow turns the age of transaction ID 3 (read in the transaction
// that will evaluate age(xmin)) into that transaction's 64-bit reference
// point, the first value at or above xmax with those low 32 bits.
func stableNow(ageOf3 int32, xmax uint64) uint64 {
	low := uint64(uint32(3) + uint32(ageOf3))
	now := xmax&^0xffffffff | low
	if now < xmax {
		now += 1 << 32
	}
	return now
}
