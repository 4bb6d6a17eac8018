package pgtest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultUser is the superuser of every cluster unless WithSuperuser
// names another.
const DefaultUser = "postgres"

// bootstrapUser is the superuser initdb creates in the template.
const bootstrapUser = DefaultUser

// DefaultPassword is the superuser's password over TCP unless an Option
// sets another. It needs no percent-encoding in URLs.
const DefaultPassword = "pgtest-secret-pw"

// template is the per-process initdb result every cluster copies.
type template struct {
	binDir   string
	base     string // per-process directory, /tmp/pgtest-<pid>-*
	dataDir  string // initialized data directory
	password string // bootstrap superuser's password
	owner    runAs
	took     time.Duration
}

// shared holds the per-process template; it is written once by once.
var shared struct {
	once sync.Once
	tmpl *template
	err  error
}

// getTemplate runs initdb on first use and returns the template.
func getTemplate() (*template, error) {
	shared.once.Do(func() {
		shared.tmpl, shared.err = makeTemplate()
	})
	return shared.tmpl, shared.err
}

// makeTemplate finds the binaries, creates the per-process directory and
// runs initdb into it.
func makeTemplate() (*template, error) {
	start := time.Now()
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	own, err := serverOwner()
	if err != nil {
		return nil, err
	}
	sweepStale()
	base, err := os.MkdirTemp("/tmp", "pgtest-"+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("create pgtest directory: %w", err)
	}
	if err := own.chown(base); err != nil {
		return nil, err
	}
	t := &template{binDir: bin, base: base, dataDir: filepath.Join(base, "template"), owner: own}
	t.password = DefaultPassword
	if err := t.initdb(); err != nil {
		return nil, err
	}
	t.took = time.Since(start)
	return t, nil
}

// initdb initializes the template data directory.
func (t *template) initdb() error {
	pwfile := filepath.Join(t.base, "pwfile")
	if err := os.WriteFile(pwfile, []byte(t.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("write initdb password file: %w", err)
	}
	defer os.Remove(pwfile)
	if err := t.owner.chown(pwfile); err != nil {
		return err
	}
	args := []string{"-D", t.dataDir, "-U", bootstrapUser, "--pwfile=" + pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"}
	out, err := t.run("initdb", append(args, "--locale=C.UTF-8")...)
	if err != nil {
		// No C.UTF-8 locale on this system: fall back to plain C.
		os.RemoveAll(t.dataDir)
		out, err = t.run("initdb", append(args, "--no-locale")...)
	}
	if err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	conf := filepath.Join(t.dataDir, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("open template postgresql.conf: %w", err)
	}
	_, err = io.WriteString(f, "\n# added by pgtest: per-cluster settings\ninclude_if_exists = 'pgtest.conf'\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write template postgresql.conf: %w", err)
	}
	return nil
}

// run runs a PostgreSQL binary to completion as the server account.
func (t *template) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(t.binDir, name), args...)
	cmd.Dir = t.base
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: t.owner.cred}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// copyTo copies the template data directory to dst, preserving modes and
// giving every entry to the server account.
func (t *template) copyTo(dst string) error {
	var as *runAs
	if t.owner.cred != nil {
		as = &t.owner
	}
	return copyTree(t.dataDir, dst, as)
}

// sweepStale removes per-process directories left by test binaries that no
// longer run (their servers died with them, see sysProcAttr).
func sweepStale() {
	dirs, _ := filepath.Glob("/tmp/pgtest-*-*")
	for _, d := range dirs {
		rest := strings.TrimPrefix(filepath.Base(d), "pgtest-")
		pidText, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
}
