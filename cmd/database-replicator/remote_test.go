package main

import (
	"context"
	"slices"
	"strings"
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

func TestRemoteRefusesLocalFiles(t *testing.T) {
	for _, args := range [][]string{{"plan", "--out", "p.plan"}, {"apply", "p.plan"}} {
		var out, errOut strings.Builder
		code := run(context.Background(), append([]string{"--remote", "http://127.0.0.1:1"}, args...), &ioEnv{
			stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
			lookupEnv: func(k string) (string, bool) {
				if k == "REPLICATOR_API_KEY" {
					return "drk_x_y", true
				}
				return "", false
			},
		})
		if code != 1 || !strings.Contains(errOut.String(), "--local") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut.String())
		}
	}
}
