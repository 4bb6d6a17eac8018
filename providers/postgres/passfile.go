package postgres

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PassEntry is one line of a .pgpass file.
type PassEntry struct {
	Host, Port, Database, User, Password string
}

// passFileEscaper escapes the characters .pgpass treats specially.
var passFileEscaper = strings.NewReplacer(`\`, `\\`, `:`, `\:`)

// WritePassFile writes a pass file for child tools (pg_dump, pg_dumpall,
// psql) into dir, created with mode 0600 from the start, and returns its
// path and a function that removes it. Point PGPASSFILE at it.
func WritePassFile(dir string, entries ...PassEntry) (string, func() error, error) {
	f, err := os.CreateTemp(dir, "replicator-*.pgpass")
	if err != nil {
		return "", nil, fmt.Errorf("create pass file: %w", err)
	}
	path := f.Name()
	cleanup := func() error {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove pass file: %w", err)
		}
		return nil
	}
	// os.CreateTemp creates files 0600 with O_EXCL; make sure of the mode.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		_ = cleanup()
		return "", nil, fmt.Errorf("pass file mode: %w", err)
	}
	var b strings.Builder
	for _, e := range entries {
		fields := []string{e.Host, e.Port, e.Database, e.User, e.Password}
		for i, v := range fields {
			if v == "" && i < 4 {
				fields[i] = "*"
				continue
			}
			fields[i] = passFileEscaper.Replace(v)
		}
		b.WriteString(strings.Join(fields, ":") + "\n")
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		_ = cleanup()
		return "", nil, fmt.Errorf("write pass file: %w", err)
	}
	if err := f.Close(); err != nil {
		_ = cleanup()
		return "", nil, fmt.Errorf("write pass file: %w", err)
	}
	return path, cleanup, nil
}

// PassEntryFor returns the pass-file entry for a connection.
func PassEntryFor(info ConnInfo) PassEntry {
	return PassEntry{Host: info.Host(), Port: strconv.Itoa(int(info.Port())), Database: "*", User: info.User(), Password: info.Password()}
}

// ChildConnString is a key=value connection string for a child tool's
// --dbname: host, port, user, database, sslmode and TCP keepalives, and
// never the password (which comes from the pass file).
func ChildConnString(info ConnInfo) string {
	kv := func(k, v string) string {
		return k + "='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
	}
	parts := []string{
		kv("host", info.Host()), kv("port", strconv.Itoa(int(info.Port()))),
		kv("user", info.User()), kv("dbname", info.Database()),
		"keepalives=1",
		fmt.Sprintf("keepalives_idle=%d", int(keepaliveIdle.Seconds())),
		fmt.Sprintf("keepalives_interval=%d", int(keepaliveInterval.Seconds())),
		fmt.Sprintf("keepalives_count=%d", keepaliveCount),
	}
	if m := info.SSLMode(); m != "" {
		parts = append(parts, kv("sslmode", m))
	}
	return strings.Join(parts, " ")
}

// ChildEnv is the environment for a child tool: the parent's environment
// without PGPASSWORD (and other libpq variables that could override the
// connection string), plus PGPASSFILE.
func ChildEnv(parent []string, passFile string) []string {
	var env []string
	for _, e := range parent {
		name, _, _ := strings.Cut(e, "=")
		switch name {
		case "PGPASSWORD", "PGPASSFILE", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGSERVICE", "PGSERVICEFILE":
			continue
		}
		env = append(env, e)
	}
	return append(env, "PGPASSFILE="+filepath.Clean(passFile))
}
