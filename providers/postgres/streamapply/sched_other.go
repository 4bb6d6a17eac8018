//go:build !linux

package streamapply

// batchScheduling does nothing outside Linux (see sched_linux.go).
func batchScheduling() error { return nil }
