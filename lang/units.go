package lang

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// intervalUnits are the suffixes ParseInterval accepts.
var intervalUnits = map[string]time.Duration{
	"ms": time.Millisecond,
	"s":  time.Second,
	"m":  time.Minute,
	"h":  time.Hour,
	"d":  24 * time.Hour,
	"w":  7 * 24 * time.Hour,
}

// ParseInterval parses a positive interval such as "90s", "5m", "1h", "7d",
// "2w" or a combination like "1h30m". A bare number is seconds ("300"),
// as the predecessor's --sync-interval and --reconcile-interval read it.
func ParseInterval(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty interval: write a number and a unit, e.g. \"90s\", \"5m\", \"1h\" or \"7d\"")
	}
	if strings.Trim(in, "0123456789") == "" {
		in += "s"
	}
	var total time.Duration
	for in != "" {
		i := 0
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("interval %q: expected a number at %q; write e.g. \"90s\", \"5m\", \"1h\" or \"7d\"", s, in)
		}
		n, err := strconv.ParseInt(in[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("interval %q: number %q is too large", s, in[:i])
		}
		in = strings.TrimLeft(in[i:], " ")
		j := 0
		for j < len(in) && unicode.IsLetter(rune(in[j])) {
			j++
		}
		unit, ok := intervalUnits[in[:j]]
		if !ok {
			if j == 0 {
				return 0, fmt.Errorf("interval %q has no unit: write e.g. \"%ds\" or \"%dm\" (units: ms, s, m, h, d, w)", s, n, n)
			}
			return 0, fmt.Errorf("interval %q: unknown unit %q (units: ms, s, m, h, d, w)", s, in[:j])
		}
		in = strings.TrimLeft(in[j:], " ")
		if n > int64((1<<63-1)/unit) || total > time.Duration(1<<63-1)-time.Duration(n)*unit {
			return 0, fmt.Errorf("interval %q is too long", s)
		}
		total += time.Duration(n) * unit
	}
	if total <= 0 {
		return 0, fmt.Errorf("interval %q must be longer than zero", s)
	}
	return total, nil
}

// MinSyncInterval is the shortest sync interval and reconciliation
// interval: every xmin cycle scans every table, so a shorter one would
// keep the servers busy with back-to-back scans.
const MinSyncInterval = time.Second

// CheckSyncInterval checks d against the bounds of sync.interval and
// sync.reconcile_interval; the configuration and the sync flags share it,
// and so its messages.
func CheckSyncInterval(d time.Duration) error {
	switch {
	case d <= 0:
		return fmt.Errorf("interval %s must be longer than zero", FormatInterval(d))
	case d < MinSyncInterval:
		return fmt.Errorf("interval %s is shorter than the minimum of %s (each xmin cycle scans every table)",
			FormatInterval(d), FormatInterval(MinSyncInterval))
	}
	return nil
}

// FormatInterval renders a duration in the form ParseInterval reads, using
// the largest units that divide it ("7d", "1h30m", "90s").
func FormatInterval(d time.Duration) string {
	if d < 0 {
		return "-" + FormatInterval(-d)
	}
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.d
		}
	}
	if b.Len() == 0 {
		return d.String()
	}
	return b.String()
}

// Window is a time window such as "6 months": a count and a unit.
type Window struct {
	Count int
	// Unit is one of seconds, minutes, hours, days, weeks, months, years.
	Unit string
}

// String renders the window in PostgreSQL interval syntax, e.g. "6 months".
func (w Window) String() string { return fmt.Sprintf("%d %s", w.Count, w.Unit) }

// windowUnits maps every accepted spelling to its canonical plural.
var windowUnits = map[string]string{
	"s": "seconds", "second": "seconds", "seconds": "seconds", "sec": "seconds", "secs": "seconds",
	"m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
	"h": "hours", "hour": "hours", "hours": "hours",
	"d": "days", "day": "days", "days": "days",
	"w": "weeks", "week": "weeks", "weeks": "weeks",
	"month": "months", "months": "months",
	"y": "years", "year": "years", "years": "years",
}

// ParseWindow parses a time window such as "90 days", "6 months", "1 year"
// or the short forms "90d", "2w".
func ParseWindow(s string) (Window, error) {
	in := strings.TrimSpace(s)
	i := 0
	for i < len(in) && in[i] >= '0' && in[i] <= '9' {
		i++
	}
	if i == 0 {
		return Window{}, fmt.Errorf("time window %q must start with a number: write e.g. \"90 days\" or \"6 months\"", s)
	}
	n, err := strconv.Atoi(in[:i])
	if err != nil || n <= 0 || n > 1_000_000 {
		return Window{}, fmt.Errorf("time window %q: the count must be between 1 and 1000000", s)
	}
	unit := strings.ToLower(strings.TrimSpace(in[i:]))
	canon, ok := windowUnits[unit]
	if !ok {
		if unit == "" {
			return Window{}, fmt.Errorf("time window %q has no unit: write e.g. \"%d days\" (units: seconds, minutes, hours, days, weeks, months, years)", s, n)
		}
		return Window{}, fmt.Errorf("time window %q: unknown unit %q (units: seconds, minutes, hours, days, weeks, months, years)", s, unit)
	}
	return Window{Count: n, Unit: canon}, nil
}

// sizeUnits follow PostgreSQL: kB, MB, GB and TB are powers of 1024.
var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kb": 1 << 10, "kib": 1 << 10,
	"mb": 1 << 20, "mib": 1 << 20,
	"gb": 1 << 30, "gib": 1 << 30,
	"tb": 1 << 40, "tib": 1 << 40,
}

// ParseSize parses a byte size such as "1GiB", "512MB" or "1073741824".
// Units are powers of 1024, as in PostgreSQL settings.
func ParseSize(s string) (int64, error) {
	in := strings.TrimSpace(s)
	i := 0
	for i < len(in) && in[i] >= '0' && in[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("size %q must start with a number: write e.g. \"1GiB\" or \"512MB\"", s)
	}
	n, err := strconv.ParseInt(in[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	mult, ok := sizeUnits[strings.ToLower(strings.TrimSpace(in[i:]))]
	if !ok {
		return 0, fmt.Errorf("size %q: unknown unit %q (units: B, kB, MB, GB, TB or KiB, MiB, GiB, TiB)", s, strings.TrimSpace(in[i:]))
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	if n <= 0 {
		return 0, fmt.Errorf("size %q must be larger than zero", s)
	}
	return n * mult, nil
}

// FormatBytes renders a size as PostgreSQL's pg_size_pretty does: whole
// bytes below 10 kB, then the largest unit that keeps the number at or
// above 10 ("8192 bytes", "48 kB", "1234 MB").
func FormatBytes(n int64) string {
	units := []string{"bytes", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 10*1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.0f %s", f, units[i])
}
