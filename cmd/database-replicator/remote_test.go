package main

import (
	"slices"
	"testing"
)

func TestJobArgsDropLocalFlags(t *testing.T) {
	got := jobArgs([]string{"--remote", "https://a", "-c", "r.hcl", "--var", "x=1", "--var=y=2", "--log-level", "debug",
		"apply", "-y", "--job-timeout=10s", "--detach", "--local", "--parallelism", "3", "-cother.hcl"}, "apply")
	want := []string{"--log-level", "debug", "-y", "--parallelism", "3"}
	if !slices.Equal(got, want) {
		t.Fatalf("jobArgs = %q, want %q", got, want)
	}
}
