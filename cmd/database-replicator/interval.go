package main

import (
	"time"

	"github.com/database-replicator/database-replicator/lang"
)

// intervalFlag is a duration flag that reads what the configuration reads
// ("90s", "1h30m", "7d"), a bare number of seconds (the predecessor's
// --sync-interval 300) and Go's forms ("1.5h", "-1s", "1ns", so that the
// bounds check, not the parser, explains why those are refused). Set
// tells a given zero from an absent flag.
type intervalFlag struct {
	D   time.Duration
	Set bool
}

// UnmarshalText implements encoding.TextUnmarshaler for kong.
func (f *intervalFlag) UnmarshalText(b []byte) error {
	d, err := lang.ParseInterval(string(b))
	if err != nil {
		var goErr error
		if d, goErr = time.ParseDuration(string(b)); goErr != nil {
			return err
		}
	}
	f.D, f.Set = d, true
	return nil
}

// sizeFlag is a byte-size flag read as the configuration reads sizes
// ("512MB", "10GB", "1073741824"; powers of 1024).
type sizeFlag struct {
	N int64
}

// UnmarshalText implements encoding.TextUnmarshaler for kong.
func (f *sizeFlag) UnmarshalText(b []byte) error {
	n, err := lang.ParseSize(string(b))
	if err != nil {
		return err
	}
	f.N = n
	return nil
}
