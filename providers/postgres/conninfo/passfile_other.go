//go:build !linux

package conninfo

import "os"

// openUnnamed returns nil: outside Linux, /dev/fd/N may share the file
// offset between opens (libpq reads the file once per connection), so the
// password file is a named 0600 file removed when the child exits.
func openUnnamed(string) (*os.File, error) { return nil, nil }
