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

// template is the per-process initdb result of one major version that
// every cluster of that version copies.
type template struct {
	binDir   string
	major    int    // major version of binDir's postgres
	base     string // per-process directory, /tmp/pgtest-<pid>-*
	dataDir  string // initialized data directory
	password string // bootstrap superuser's password
	owner    runAs
	took     time.Duration
}

// templateSlot is the template of one requested major version (0: the
// default binaries), built once.
type templateSlot struct {
	once sync.Once
	tmpl *template
	err  error
}

// shared holds the per-process directory and the templates, by requested
// major version.
var shared struct {
	baseOnce sync.Once
	base     string
	owner    runAs
	baseErr  error

	mu    sync.Mutex // guards slots
	slots map[int]*templateSlot
}

// getTemplate runs initdb for the requested major version (0: the default
// binaries, see findBinDir) on first use and returns the template.
func getTemplate(major int) (*template, error) {
	shared.mu.Lock()
	if shared.slots == nil {
		shared.slots = map[int]*templateSlot{}
	}
	slot := shared.slots[major]
	if slot == nil {
		slot = &templateSlot{}
		shared.slots[major] = slot
	}
	shared.mu.Unlock()
	slot.once.Do(func() {
		slot.tmpl, slot.err = makeTemplate(major)
	})
	return slot.tmpl, slot.err
}

// processBase creates the per-process directory once, owned by the server
// account.
func processBase() (string, runAs, error) {
	shared.baseOnce.Do(func() {
		own, err := serverOwner()
		if err != nil {
			shared.baseErr = err
			return
		}
		sweepStale()
		base, err := os.MkdirTemp("/tmp", "pgtest-"+strconv.Itoa(os.Getpid())+"-")
		if err != nil {
			shared.baseErr = fmt.Errorf("create pgtest directory: %w", err)
			return
		}
		if err := own.chown(base); err != nil {
			shared.baseErr = err
			return
		}
		shared.base, shared.owner = base, own
	})
	return shared.base, shared.owner, shared.baseErr
}

// makeTemplate finds (or installs) the binaries of the requested major
// version and runs initdb into the per-process directory.
func makeTemplate(major int) (*template, error) {
	start := time.Now()
	base, own, err := processBase()
	if err != nil {
		return nil, err
	}
	var bin string
	if major == 0 {
		bin, err = findBinDir()
	} else {
		bin, err = majorBinDir(major, own)
	}
	if err != nil {
		return nil, err
	}
	t := &template{binDir: bin, base: base, owner: own}
	if t.major, err = t.serverMajor(); err != nil {
		return nil, err
	}
	if major != 0 && t.major != major {
		return nil, fmt.Errorf("%s holds PostgreSQL %d, not %d", bin, t.major, major)
	}
	t.dataDir = filepath.Join(base, "template-"+strconv.Itoa(t.major))
	t.password = DefaultPassword
	if err := t.initdb(); err != nil {
		return nil, err
	}
	t.took = time.Since(start)
	return t, nil
}

// serverMajor runs `postgres --version` as the server account (which
// also proves that account may execute the binaries) and returns the
// major version.
func (t *template) serverMajor() (int, error) {
	out, err := t.run("postgres", "--version")
	if err != nil {
		return 0, fmt.Errorf("%s/postgres --version as the server account: %w\n%s", t.binDir, err, out)
	}
	return parseServerMajor(string(out))
}

// parseServerMajor reads the major version from `postgres --version`
// output such as "postgres (PostgreSQL) 15.4 (Debian 15.4-1)".
func parseServerMajor(out string) (int, error) {
	f := strings.Fields(strings.TrimSpace(out))
	for i, w := range f {
		if w == "(PostgreSQL)" && i+1 < len(f) {
			num := f[i+1]
			if end := strings.IndexFunc(num, func(r rune) bool { return r < '0' || r > '9' }); end >= 0 {
				num = num[:end]
			}
			if n, err := strconv.Atoi(num); err == nil {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("cannot read the major version from %q", strings.TrimSpace(out))
}

// initdb initializes the template data directory.
func (t *template) initdb() error {
	pwfile := filepath.Join(t.base, "pwfile-"+strconv.Itoa(t.major))
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
