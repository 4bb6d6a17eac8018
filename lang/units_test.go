package lang

import "testing"

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 bytes"},
		{8192, "8192 bytes"},
		{10*1024 - 1, "10239 bytes"},
		{10 * 1024, "10 kB"},
		{49152 * 1024, "48 MB"},
		{5 << 40, "5120 GB"},
		{5000 << 40, "5000 TB"},
	} {
		if got := FormatBytes(tc.n); got != tc.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
