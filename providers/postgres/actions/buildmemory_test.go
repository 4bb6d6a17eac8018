package actions

import "testing"

func TestShareOfBuildMemory(t *testing.T) {
	const mb = int64(1) << 20
	for _, c := range []struct {
		name    string
		jobs    int
		running int
		granted int64
		want    int64
	}{
		{"alone: the whole budget", 2, 0, 0, 512 * mb},
		{"second of two: the rest", 2, 1, 512 * mb, 256 * mb},
		{"second of four jobs: half", 4, 1, 512 * mb, 512 * mb},
		{"third of four jobs: a third, no more than is left", 4, 2, 768 * mb, 256 * mb},
		{"budget spent: the setting", 2, 2, 1024 * mb, 256 * mb},
	} {
		if got := shareOf(256*mb, c.jobs, c.running, c.granted); got != c.want {
			t.Errorf("%s: shareOf = %d MB, want %d MB", c.name, got/mb, c.want/mb)
		}
	}
}
