package conninfo

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// PassEntry is one line of a libpq password file. Empty Host, Port,
// Database or User fields are written as the wildcard "*".
type PassEntry struct {
	Host, Port, Database, User, Password string
}

// passFileEscaper escapes the characters a password file treats specially.
var passFileEscaper = strings.NewReplacer(`\`, `\\`, `:`, `\:`)

// line renders the entry, escaping ':' and '\' in every field.
func (e PassEntry) line() (string, error) {
	fields := []string{e.Host, e.Port, e.Database, e.User, e.Password}
	for i, v := range fields {
		if strings.ContainsAny(v, "\r\n") {
			return "", errors.New("a password file cannot hold a line break (in a host, user, database or password)")
		}
		if v == "" && i < 4 {
			fields[i] = "*"
			continue
		}
		fields[i] = passFileEscaper.Replace(v)
	}
	return strings.Join(fields, ":") + "\n", nil
}

// WritePassFile writes a password file for child tools (pg_dump,
// pg_dumpall, psql) into dir (os.TempDir() when ""). The file is created
// with mode 0600 and O_EXCL from the start, so it is never readable by
// others, not even briefly. It returns the path, to pass as PGPASSFILE
// (see ChildEnv), and a cleanup that removes the file; call it when the
// child has exited.
func WritePassFile(dir string, entries ...PassEntry) (path string, cleanup func() error, err error) {
	var b strings.Builder
	for _, e := range entries {
		l, err := e.line()
		if err != nil {
			return "", nil, fmt.Errorf("write password file: %w", err)
		}
		b.WriteString(l)
	}
	if dir == "" {
		dir = os.TempDir()
	}
	var f *os.File
	for attempt := 0; ; attempt++ {
		var rnd [8]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return "", nil, fmt.Errorf("write password file: %w", err)
		}
		path = filepath.Join(dir, "replicator-"+hex.EncodeToString(rnd[:])+".pgpass")
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || attempt >= 10 {
			return "", nil, fmt.Errorf("create password file in %s: %w", dir, err)
		}
	}
	cleanup = func() error {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove password file: %w", err)
		}
		return nil
	}
	_, werr := f.WriteString(b.String())
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = cleanup()
		return "", nil, fmt.Errorf("write password file %s: %w", path, werr)
	}
	return path, cleanup, nil
}

// PassEntries returns the password-file lines for a connection: one per
// host (a unix socket matches as "localhost", as libpq does), any
// database (pg_dumpall and friends connect to several), the user and the
// decoded password. It returns nil when there is no password.
func PassEntries(info Info) []PassEntry {
	pw := info.Password()
	if pw == "" {
		return nil
	}
	var out []PassEntry
	for _, hp := range info.Hosts() {
		host := hp.Host
		if host == "" || strings.HasPrefix(host, "/") {
			host = "localhost"
		}
		out = append(out, PassEntry{Host: host, Port: strconv.Itoa(hp.Port), Database: "*", User: info.User(), Password: pw})
	}
	return out
}

// ChildPassFile is a password file handed to one child tool that never
// outlives this process: on Linux an unnamed file (O_TMPFILE, or created
// and unlinked at once where the file system lacks it) that the child
// inherits as an open descriptor and reads through /dev/fd/N; a kill -9 of
// this process leaves no copy of the password on disk. Elsewhere it is a
// 0600 file named in the directory, removed by Close.
type ChildPassFile struct {
	file *os.File // the unnamed file, nil for a named one
	path string   // the named file
	done func() error
}

// OpenChildPassFile writes entries into a new ChildPassFile in dir
// (os.TempDir() when "").
func OpenChildPassFile(dir string, entries ...PassEntry) (*ChildPassFile, error) {
	var b strings.Builder
	for _, e := range entries {
		l, err := e.line()
		if err != nil {
			return nil, fmt.Errorf("write password file: %w", err)
		}
		b.WriteString(l)
	}
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := openUnnamed(dir)
	if err != nil {
		return nil, fmt.Errorf("create password file in %s: %w", dir, err)
	}
	if f == nil {
		path, cleanup, err := WritePassFile(dir, entries...)
		if err != nil {
			return nil, err
		}
		return &ChildPassFile{path: path, done: cleanup}, nil
	}
	if _, err := f.WriteString(b.String()); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write password file: %w", err)
	}
	return &ChildPassFile{file: f, done: f.Close}, nil
}

// Attach hands the file to cmd (as one of its ExtraFiles when unnamed)
// and returns the value of PGPASSFILE for it (see ChildEnv). Call it
// once, after setting cmd.ExtraFiles if any.
func (p *ChildPassFile) Attach(cmd *exec.Cmd) string {
	if p.file == nil {
		return p.path
	}
	fd := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, p.file)
	return "/dev/fd/" + strconv.Itoa(fd)
}

// Close releases the file (removes it when it has a name); call it when
// the child has exited.
func (p *ChildPassFile) Close() error {
	if err := p.done(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("remove password file: %w", err)
	}
	return nil
}
