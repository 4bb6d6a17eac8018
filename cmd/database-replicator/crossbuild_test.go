package main

import (
	"os"
	"os/exec"
	"testing"
)

// TestBuildsForEveryOS compiles the binary for Windows and macOS, whose
// process calls differ from Linux's (issue 13 item 11: GOOS=windows did
// not compile, syscall.Kill without a build tag). `make cross` builds
// every platform of a release.
func TestBuildsForEveryOS(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH: cannot cross-compile")
	}
	for _, p := range []struct{ os, arch string }{{"windows", "amd64"}, {"darwin", "arm64"}} {
		t.Run(p.os+"-"+p.arch, func(t *testing.T) {
			cmd := exec.Command(goBin, "build", "-o", os.DevNull, ".")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.os, "GOARCH="+p.arch)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("GOOS=%s GOARCH=%s go build: %v\n%s", p.os, p.arch, err, out)
			}
		})
	}
}
