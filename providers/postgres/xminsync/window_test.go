package xminsync

import "testing"

func TestXidWindow(t *testing.T) {
	for _, c := range []struct {
		from, to, now uint64
		cond          string
		full          bool
	}{
		{100, 100, 120, "false", false},
		{100, 110, 120, "age(xmin) BETWEEN 11 AND 20", false},
		{100, 110, 110, "age(xmin) BETWEEN 1 AND 10", false},
		// Across the wrap: one range of ages all the same.
		{1<<32 - 5, 1<<32 + 5, 1<<32 + 5, "age(xmin) BETWEEN 1 AND 10", false},
		{0, 100, 1 << 31, "", true},
		{5, 100, 99, "", true},
	} {
		cond, full := xidWindow(c.from, c.to, c.now)
		if cond != c.cond || full != c.full {
			t.Errorf("xidWindow(%d, %d, %d) = %q, %v; want %q, %v", c.from, c.to, c.now, cond, full, c.cond, c.full)
		}
	}
}

func TestStableNow(t *testing.T) {
	for _, c := range []struct {
		age  int32
		xmax uint64
		want uint64
	}{
		{997, 1000, 1000},
		{1000, 1000, 1003},
		// The reference point wrapped, xmax did not yet.
		{-4, 1<<32 - 2, 1<<32 - 1},
		{2, 1<<32 - 2, 1<<32 + 5},
	} {
		if got := stableNow(c.age, c.xmax); got != c.want {
			t.Errorf("stableNow(%d, %d) = %d, want %d", c.age, c.xmax, got, c.want)
		}
	}
}
