package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptyTimeout bounds every wait for screen text or for the process to end:
// generous, because the machine may be loaded; no test asserts a duration.
const ptyTimeout = 3 * time.Minute

// ptySession is the built binary running in a pseudo-terminal, as on a
// user's terminal: the test waits for text on its screen and types keys.
type ptySession struct {
	t    *testing.T
	cmd  *exec.Cmd
	tty  *os.File
	mu   sync.Mutex
	raw  bytes.Buffer
	done chan struct{}
	// from is the offset in the plain output after the last text waited
	// for: the next wait looks only after it.
	from int
	exit int
}

// startPTY runs the binary with args (no -c: the default replication.hcl
// of dir) in dir with env, on a terminal of 50 rows and 200 columns.
func startPTY(t *testing.T, dir string, env []string, args ...string) *ptySession {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(env, "TERM=xterm-256color")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatalf("start in a pty: %v", err)
	}
	s := &ptySession{t: t, cmd: cmd, tty: tty, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			s.mu.Lock()
			s.raw.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				break // EIO once the process and its terminal are gone
			}
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			s.exit = ee.ExitCode()
		case err != nil:
			s.exit = -1
		}
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill()
			<-s.done
		}
		tty.Close()
	})
	return s
}

// escapes matches terminal control sequences: CSI, OSC, and two-byte
// escapes.
var escapes = regexp.MustCompile(`\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78DEHM]`)

// plain returns everything the program wrote, without control sequences
// and carriage returns.
func (s *ptySession) plain() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.ReplaceAll(escapes.ReplaceAllString(s.raw.String(), ""), "\r", "")
}

// waitFor waits until text appears on the screen after the previous
// text waited for, and fails the test when the program ends first or
// after ptyTimeout.
func (s *ptySession) waitFor(text string) {
	s.t.Helper()
	deadline := time.Now().Add(ptyTimeout)
	for {
		out := s.plain()
		if i := strings.Index(out[min(s.from, len(out)):], text); i >= 0 {
			s.from += i + len(text)
			return
		}
		select {
		case <-s.done:
			if out := s.plain(); strings.Contains(out[min(s.from, len(out)):], text) {
				continue
			}
			s.t.Fatalf("the program ended (exit %d) without showing %q; it showed:\n%s", s.exit, text, s.plain())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%q not shown within %s; the screen shows:\n%s", text, ptyTimeout, s.plain())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Keys the tests type.
const (
	keyDown  = "\x1b[B"
	keyEnter = "\r"
	keyCtrlC = "\x03"
)

// send types keys.
func (s *ptySession) send(keys string) {
	s.t.Helper()
	if _, err := io.WriteString(s.tty, keys); err != nil {
		s.t.Fatalf("type %q: %v", keys, err)
	}
}

// wait waits for the program to end and returns its exit code.
func (s *ptySession) wait() int {
	s.t.Helper()
	select {
	case <-s.done:
		return s.exit
	case <-time.After(ptyTimeout):
		s.t.Fatalf("the program did not end within %s; the screen shows:\n%s", ptyTimeout, s.plain())
		return -1
	}
}

// ptyEnv is a minimal environment for a run in dir: PATH, HOME and
// TMPDIR inside dir, NO_COLOR, and REPLICATOR_PG_BINDIR when set.
func ptyEnv(t *testing.T, dir string) []string {
	t.Helper()
	home, tmp := filepath.Join(dir, "home"), filepath.Join(dir, "tmp")
	for _, d := range []string{home, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + tmp, "NO_COLOR=1"}
	if d := os.Getenv("REPLICATOR_PG_BINDIR"); d != "" {
		env = append(env, "REPLICATOR_PG_BINDIR="+d)
	}
	return env
}
