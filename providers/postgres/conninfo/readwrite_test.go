package conninfo

import "testing"

// WithReadWrite adds the setting to options, keeping options already
// written and the rest of the connection string.
func TestWithReadWrite(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u@h/db", "-c default_transaction_read_only=off"},
		{"host=h dbname=db options='-c search_path=x'", "-c search_path=x -c default_transaction_read_only=off"},
	} {
		info, err := ParseURL(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		rw := info.WithReadWrite()
		if got, _ := rw.Setting("options"); got != tc.want {
			t.Errorf("%s: options %q, want %q", tc.in, got, tc.want)
		}
		if rw.Database() != "db" || rw.Host() != "h" {
			t.Errorf("%s: database %q host %q", tc.in, rw.Database(), rw.Host())
		}
		if got, _ := info.Setting("options"); got == tc.want {
			t.Errorf("%s: the original changed", tc.in)
		}
	}
}
