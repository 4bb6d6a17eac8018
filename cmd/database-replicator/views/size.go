package views

import "fmt"

// Size renders bytes like pg_size_pretty: "512 bytes", "1.5 kB", "2.0 GB".
func Size(n int64) string {
	units := []string{"bytes", "kB", "MB", "GB", "TB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}
