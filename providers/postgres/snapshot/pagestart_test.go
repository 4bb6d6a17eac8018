package snapshot

import (
	"testing"

	"github.com/jackc/pglogrepl"
)

func TestPageStart(t *testing.T) {
	const block, segment = 8192, 16 << 20
	for _, tc := range []struct{ in, want pglogrepl.LSN }{
		{0x1000028, 0x1000000}, // a segment's first page: long header (40)
		{0x1002018, 0x1002000}, // any other page: short header (24)
		{0x1002019, 0x1002019}, // inside a page
		{0x1002000, 0x1002000}, // a boundary itself
		{0x1001ff8, 0x1001ff8}, // the end of a page
	} {
		if got := pageStart(tc.in, block, segment); got != tc.want {
			t.Errorf("pageStart(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
