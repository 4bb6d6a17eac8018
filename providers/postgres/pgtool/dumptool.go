package pgtool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/connstr"
)

// Command describes one run of a PostgreSQL client program (pg_dump,
// pg_dumpall, pg_restore, psql).
type Command struct {
	// Path is the program; Find(Name) when empty.
	Path string
	// Name is the program's name, for messages and Find.
	Name string
	// Info is the server to connect to; nil-valued (Info{}) for a
	// run that does not connect (pg_restore -f -).
	Info conninfo.Info
	// Args are the program's arguments, without the connection:
	// --dbname=ChildConnString(Info) is appended when Info is valid.
	Args []string
	// Stdin feeds the child's standard input (none when nil).
	Stdin io.Reader
	// Stdout receives the child's standard output (discarded when nil),
	// streamed: nothing is buffered in a file.
	Stdout io.Writer
	// PassDir is the file system the temporary password file is made in
	// (os.TempDir() when ""); on Linux it has no name there.
	PassDir string
}

// stderrLimit bounds how much of a child's standard error is kept for
// error messages (the tail is kept).
const stderrLimit = 64 << 10

// toolArgv returns the argument vector for a run: r.Args, then
// --dbname=ChildConnString(r.Info), which never holds the password.
func (r Command) argv() []string {
	args := append([]string(nil), r.Args...)
	if r.Info.Valid() {
		args = append(args, "--dbname="+conninfo.ChildConnString(r.Info))
	}
	return args
}

// Run runs a client program with the credentials of r.Info handed over
// only through a password file (PGPASSFILE) that does not outlive this
// process: on Linux an unnamed 0600 file the child inherits as a
// descriptor (/dev/fd/N), so that not even a kill -9 leaves the password
// on disk; elsewhere a 0600 file removed when Run returns, also on panic
// and when ctx is cancelled (exec.CommandContext kills the child first). Standard output is streamed
// to r.Stdout; standard error is captured and, on failure, returned in the
// error with any password redacted.
func Run(ctx context.Context, r Command) (err error) {
	path := r.Path
	if path == "" {
		if path, err = Find(r.Name); err != nil {
			return err
		}
	}
	name := r.Name
	if name == "" {
		name = filepath.Base(path)
	}
	cmd := exec.CommandContext(ctx, path, r.argv()...)
	cmd.SysProcAttr = toolProcAttr()
	passFile := ""
	if entries := conninfo.PassEntries(r.Info); r.Info.Valid() && len(entries) > 0 {
		pf, err := conninfo.OpenChildPassFile(r.PassDir, entries...)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		passFile = pf.Attach(cmd)
		defer func() {
			if cerr := pf.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("%s: %w", name, cerr)
			}
		}()
	}
	if r.Info.Valid() {
		cmd.Env = conninfo.ChildEnv(r.Info, passFile)
	} else {
		cmd.Env = conninfo.ChildEnv(conninfo.Info{}, "")
	}
	// On cancellation, ask politely first (pg_dump and psql cancel their
	// queries on SIGTERM), then kill.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if r.Stdin != nil {
		cmd.Stdin = r.Stdin
	}
	if r.Stdout != nil {
		cmd.Stdout = r.Stdout
	} else {
		cmd.Stdout = io.Discard
	}
	stderr := &tailBuffer{limit: stderrLimit}
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		msg := RedactOutput(strings.TrimSpace(stderr.String()), r.Info.Password())
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("%s on %s: %w", name, r.Info.Redacted(), ctxErr)
		}
		if msg == "" {
			return fmt.Errorf("%s on %s: %w", name, r.Info.Redacted(), err)
		}
		return fmt.Errorf("%s on %s: %w: %s", name, r.Info.Redacted(), err, msg)
	}
	return nil
}

// passwordClause matches PASSWORD '...' (and E'...') in SQL text echoed by
// psql in its error context: a role's password or SCRAM verifier.
var passwordClause = regexp.MustCompile(`(?is)(PASSWORD\s+)E?'(?:[^']|'')*'?`)

// RedactOutput removes the connection password and any PASSWORD '...'
// literal from a child's output before it is shown.
func RedactOutput(s, password string) string {
	s = conninfo.Scrub(s, password)
	return passwordClause.ReplaceAllString(s, "${1}'"+connstr.Mask+"'")
}

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	limit int
	buf   bytes.Buffer
	cut   bool
}

// Write appends p, dropping the oldest bytes beyond the limit.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if over := t.buf.Len() - t.limit; over > 0 {
		t.buf.Next(over)
		t.cut = true
	}
	return len(p), nil
}

// String returns the kept text, marked when the start was cut.
func (t *tailBuffer) String() string {
	if t.cut {
		return "..." + t.buf.String()
	}
	return t.buf.String()
}

// toolMajor returns the major version of a client program from its
// --version output, scaled as majorVersion: "pg_dump (PostgreSQL) 15.4"
// → 1500, "9.6.24" → 906.
func toolMajor(ctx context.Context, path string) (int, error) {
	cmd := exec.CommandContext(ctx, path, "--version")
	// Even a version check gets no PG* or REPLICATOR_VAR_* variable: they
	// may hold passwords, and every process's environment is readable by
	// its user (and root) in /proc.
	cmd.Env = conninfo.ChildEnv(conninfo.Info{}, "")
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("%s --version: %w", path, err)
	}
	return parseToolMajor(string(out))
}

// toolVersion matches the first version number of --version output.
var toolVersion = regexp.MustCompile(`\)\s+(\d+)(?:\.(\d+))?`)

// parseToolMajor extracts the major version from --version output, scaled
// as majorVersion does.
func parseToolMajor(s string) (int, error) {
	m := toolVersion.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("cannot read the version from %q", strings.TrimSpace(s))
	}
	n, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if n < 10 { // 9.6 is a major version of its own
		return n*100 + minor, nil
	}
	return n * 100, nil
}

// majorVersion scales server_version_num to compare with parseToolMajor:
// 150004 → 1500, 90624 → 906.
func majorVersion(serverVersionNum int) int {
	if serverVersionNum >= 100000 {
		return serverVersionNum / 10000 * 100
	}
	return serverVersionNum / 100
}

// FindDumpTool returns a client program (pg_dump, pg_dumpall) whose major
// version is at least the server's (serverVersionNum, e.g. 150004): an
// older pg_dump refuses a newer server. Find already prefers the
// newest installed version; this turns the refusal into an actionable
// error up front.
func FindDumpTool(ctx context.Context, name string, serverVersionNum int) (string, error) {
	path, err := Find(name)
	if err != nil {
		return "", err
	}
	if serverVersionNum <= 0 {
		return path, nil
	}
	major, err := toolMajor(ctx, path)
	if err != nil {
		return "", err
	}
	if major < majorVersion(serverVersionNum) {
		return "", fmt.Errorf("%s is older than the server (server_version_num %d): "+
			"install the PostgreSQL client tools of the server's major version or newer, "+
			"or point REPLICATOR_PG_BINDIR at them", path, serverVersionNum)
	}
	return path, nil
}

// Sibling returns the program name next to path (so that pg_restore
// matches the pg_dump that wrote the archive), else Find(name).
func Sibling(path, name string) (string, error) {
	p := filepath.Join(filepath.Dir(path), name)
	if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return p, nil
	}
	p, err := Find(name)
	if err != nil {
		return "", errors.Join(fmt.Errorf("%s not found next to %s", name, path), err)
	}
	return p, nil
}
