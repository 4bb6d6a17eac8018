package lang

import (
	"strings"
	"testing"
	"time"
)

func TestParseTableRef(t *testing.T) {
	tests := []struct {
		in      string
		want    TableRef
		wantErr string
	}{
		{in: "myapp.users", want: TableRef{Database: "myapp", Schema: "public", Table: "users"}},
		{in: "myapp.sales.orders", want: TableRef{Database: "myapp", Schema: "sales", Table: "orders"}},
		{in: `myapp."Mixed Case"."Table.With.Dots"`, want: TableRef{Database: "myapp", Schema: "Mixed Case", Table: "Table.With.Dots"}},
		{in: `"my""db".t`, want: TableRef{Database: `my"db`, Schema: "public", Table: "t"}},
		{in: "données.clients", want: TableRef{Database: "données", Schema: "public", Table: "clients"}},
		{in: "users", wantErr: "names no database"},
		{in: "a.b.c.d", wantErr: "4 dotted parts"},
		{in: "a..b", wantErr: "empty part"},
		{in: "a.b.", wantErr: "empty part"},
		{in: `a."b`, wantErr: "unterminated quote"},
		{in: `a."b"c`, wantErr: "after a closing quote"},
		{in: `a.b"c"`, wantErr: "quote inside a part"},
		{in: "", wantErr: "empty name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTableRef(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTableRef(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTableRef(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseTableRef(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			back, err := ParseTableRef(got.String())
			if err != nil || back != got {
				t.Fatalf("round trip of %q via %q = %#v, %v", tt.in, got.String(), back, err)
			}
		})
	}
}

func TestSQLNameQuotes(t *testing.T) {
	r := TableRef{Database: "db", Schema: `we"ird`, Table: "Tab le"}
	if got, want := r.SQLName(), `"we""ird"."Tab le"`; got != want {
		t.Fatalf("SQLName = %s, want %s", got, want)
	}
}

func TestParseInterval(t *testing.T) {
	good := map[string]time.Duration{
		"90s": 90 * time.Second, "5m": 5 * time.Minute, "1h": time.Hour, "7d": 7 * 24 * time.Hour,
		"2w": 14 * 24 * time.Hour, "1h30m": 90 * time.Minute, "300": 300 * time.Second, "86400": 24 * time.Hour, "250ms": 250 * time.Millisecond, " 24h ": 24 * time.Hour,
	}
	for in, want := range good {
		got, err := ParseInterval(in)
		if err != nil || got != want {
			t.Errorf("ParseInterval(%q) = %v, %v; want %v", in, got, err, want)
		}
		if back, err := ParseInterval(FormatInterval(got)); err != nil || back != got {
			t.Errorf("FormatInterval(%v) = %q does not parse back: %v %v", got, FormatInterval(got), back, err)
		}
	}
	bad := map[string]string{
		"":                      "empty interval",
		"1h30":                  "has no unit",
		"1 hour":                "unknown unit",
		"h":                     "expected a number",
		"0s":                    "longer than zero",
		"-5m":                   "expected a number",
		"99999999999999999999s": "too large",
		"999999999999999w":      "too long",
		"1y":                    "unknown unit",
	}
	for in, want := range bad {
		if _, err := ParseInterval(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseInterval(%q) error = %v, want containing %q", in, err, want)
		}
	}
}

func TestParseWindow(t *testing.T) {
	good := map[string]Window{
		"6 months": {6, "months"}, "1 year": {1, "years"}, "90 days": {90, "days"}, "90d": {90, "days"},
		"2 weeks": {2, "weeks"}, "30 Minutes": {30, "minutes"}, "1 hour": {1, "hours"}, "45s": {45, "seconds"},
	}
	for in, want := range good {
		got, err := ParseWindow(in)
		if err != nil || got != want {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":             "must start with a number",
		"months":       "must start with a number",
		"6":            "has no unit",
		"6 fortnights": "unknown unit",
		"0 days":       "between 1 and",
	}
	for in, want := range bad {
		if _, err := ParseWindow(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseWindow(%q) error = %v, want containing %q", in, err, want)
		}
	}
	tw := TimeWindow{Column: "timestamp", Last: Window{6, "months"}}
	if got, want := tw.Predicate(), `"timestamp" > now() - interval '6 months'`; got != want {
		t.Errorf("Predicate = %s, want %s", got, want)
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]int64{"1GiB": 1 << 30, "1GB": 1 << 30, "512MB": 512 << 20, "1073741824": 1 << 30, "10 kB": 10 << 10, "2TiB": 2 << 40}
	for in, want := range good {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GB", "1 parsec", "0", "99999999999TB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded, want an error", in)
		}
	}
}
