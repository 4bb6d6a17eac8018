package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// newLocal returns a Local backend in a fresh temporary directory.
func newLocal(t *testing.T) *Local {
	t.Helper()
	return NewLocal(filepath.Join(t.TempDir(), "replicator.state.json"))
}

// oneResource returns a state with one resource recorded at addr.
func oneResource(addr string, attrs map[string]any) *State {
	s := New()
	s.SetResource(&Resource{Address: addr, Kind: "table", Status: StatusDone, Attributes: attrs})
	return s
}

func TestLocalReadMissingIsEmpty(t *testing.T) {
	s, err := newLocal(t).Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != FormatVersion || s.Lineage != "" || s.Serial != 0 || !s.Empty() {
		t.Fatalf("Read of a missing file = %+v, want New()", s)
	}
}

func TestLocalRoundTripSerialAndLineage(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	s := oneResource(`replication.main.table["myapp.public.users"]`, map[string]any{"rows": 3})
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if s.Serial != 1 || len(s.Lineage) != 36 {
		t.Fatalf("after the first write: serial %d, lineage %q", s.Serial, s.Lineage)
	}
	lineage := s.Lineage
	for want := uint64(2); want <= 4; want++ {
		s.SetResource(&Resource{Address: `replication.main.slot["myapp"]`, Kind: "slot", Status: StatusCreated})
		if err := l.Write(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, err := l.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.Serial != want || s.Serial != want || got.Lineage != lineage || s.Lineage != lineage {
			t.Fatalf("write %d: stored serial %d lineage %q, in memory serial %d lineage %q",
				want, got.Serial, got.Lineage, s.Serial, s.Lineage)
		}
		r := got.Resource(`replication.main.table["myapp.public.users"]`)
		if n, _ := r.Int("rows"); n != 3 || r.Status != StatusDone || r.Kind != "table" {
			t.Fatalf("resource after round trip: %+v", r)
		}
		if !slices.Equal(got.Addresses(), s.Addresses()) {
			t.Fatalf("addresses %q, want %q", got.Addresses(), s.Addresses())
		}
	}
	// A second backend on the same file sees the same history.
	got, err := NewLocal(l.Path()).Read(ctx)
	if err != nil || got.Serial != 4 || got.Lineage != lineage {
		t.Fatalf("second backend read serial %d lineage %q err %v", got.Serial, got.Lineage, err)
	}
}

func TestLocalRefusesStaleSerial(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	if err := l.Write(ctx, New()); err != nil {
		t.Fatal(err)
	}
	a, _ := l.Read(ctx)
	b, _ := l.Read(ctx)
	a.SetResource(&Resource{Address: "a"})
	if err := l.Write(ctx, a); err != nil {
		t.Fatal(err)
	}
	b.SetResource(&Resource{Address: "b"})
	err := l.Write(ctx, b)
	var ce *ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, ErrStaleSerial) || !strings.Contains(err.Error(), "another run wrote it") {
		t.Fatalf("stale write: %v", err)
	}
	if b.Serial != 1 {
		t.Fatalf("refused write changed the serial to %d", b.Serial)
	}
	// A fresh state over an existing one is stale as well.
	if err := l.Write(ctx, New()); !errors.Is(err, ErrStaleSerial) {
		t.Fatalf("New() over a stored state: %v", err)
	}
	got, _ := l.Read(ctx)
	if got.Resource("a") == nil || got.Resource("b") != nil || got.Serial != 2 {
		t.Fatalf("stored state after refusals: %+v", got)
	}
}

func TestLocalRefusesLineageMismatch(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	if err := l.Write(ctx, New()); err != nil {
		t.Fatal(err)
	}
	other := New()
	other.Lineage, other.Serial = "00000000-0000-4000-8000-000000000000", 99
	err := l.Write(ctx, other)
	if !errors.Is(err, ErrLineageMismatch) || !strings.Contains(err.Error(), "belongs to another project") {
		t.Fatalf("lineage mismatch: %v", err)
	}
}

func TestLocalAtomicWriteFiles(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	s := New()
	for i := 0; i < 3; i++ {
		if err := l.Write(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(l.Path()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{filepath.Base(l.Path()), filepath.Base(l.BackupPath())}; !slices.Equal(names, want) {
		t.Fatalf("directory holds %q, want only %q", names, want)
	}
	st, err := os.Stat(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v, want 0600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(l.Path())
	if !strings.HasSuffix(string(data), "}\n") {
		t.Fatal("state file lacks a trailing newline")
	}
}

// TestLocalKeepsBackup: every write keeps the state it replaces in
// PATH.backup (0600); after the state file is deleted, the next write
// starts a new state and leaves the backup of the lost one alone.
func TestLocalKeepsBackup(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	if err := l.Write(ctx, oneResource(`replication.main.table["a.public.one"]`, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.BackupPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a first write made a backup: %v", err)
	}
	first, _ := os.ReadFile(l.Path())
	s, err := l.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.SetResource(&Resource{Address: `replication.main.table["a.public.two"]`, Kind: "table", Status: StatusDone})
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	backup, err := os.ReadFile(l.BackupPath())
	if err != nil || string(backup) != string(first) {
		t.Fatalf("backup = %q (%v), want the previous state %q", backup, err, first)
	}
	if st, _ := os.Stat(l.BackupPath()); st.Mode().Perm() != 0o600 {
		t.Fatalf("backup mode %v, want 0600", st.Mode().Perm())
	}
	if err := os.Remove(l.Path()); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(ctx, New()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(l.BackupPath()); string(b) != string(first) {
		t.Fatalf("the write after the state file was deleted replaced the backup")
	}
}

func TestLocalWriteCreatesDirectory(t *testing.T) {
	l := NewLocal(filepath.Join(t.TempDir(), "nested", "dir", "state.json"))
	if err := l.Write(context.Background(), New()); err != nil {
		t.Fatal(err)
	}
}

func TestLocalReadRefusesNewerVersion(t *testing.T) {
	l := newLocal(t)
	if err := os.WriteFile(l.Path(), []byte(`{"version":2,"lineage":"l","serial":5,"resources":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := l.Read(context.Background())
	if !errors.Is(err, ErrNewerVersion) || !strings.Contains(err.Error(),
		"state format version 2 is newer than this binary supports (1): upgrade database-replicator") {
		t.Fatalf("Read: %v", err)
	}
	if err := l.Write(context.Background(), New()); !errors.Is(err, ErrNewerVersion) {
		t.Fatalf("Write over a newer state: %v", err)
	}
}

func TestLocalSecretsNeverStored(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	const pw = "Sup3r-S3cret-pw"
	s := oneResource(`replication.main.subscription["myapp"]`, map[string]any{
		"source":   "postgres://replicator:" + pw + "@src.example.com:5432/myapp?sslmode=require",
		"conninfo": "host=src user=replicator password=" + pw + " dbname=myapp",
	})
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), pw) {
		t.Fatalf("password in the state file:\n%s", data)
	}
	if !strings.Contains(string(data), "postgres://replicator:xxxxx@src.example.com:5432/myapp") {
		t.Fatalf("redacted URL missing:\n%s", data)
	}
	s.Resource(`replication.main.subscription["myapp"]`).Attributes["password"] = pw
	err = l.Write(ctx, s)
	var se *SecretError
	if !errors.As(err, &se) || strings.Contains(err.Error(), pw) {
		t.Fatalf("write with a password attribute: %v", err)
	}
	data, _ = os.ReadFile(l.Path())
	if strings.Contains(string(data), pw) {
		t.Fatal("password in the state file after a refused write")
	}
	if s.Serial != 1 {
		t.Fatalf("refused write bumped the serial to %d", s.Serial)
	}
}

func TestLocalHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := newLocal(t)
	if _, err := l.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read: %v", err)
	}
	if err := l.Write(ctx, New()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write: %v", err)
	}
}

func TestLocalDescribe(t *testing.T) {
	if got := NewLocal("replicator.state.json").Describe(); got != "local file replicator.state.json" {
		t.Fatalf("Describe() = %q", got)
	}
}

// Write skips decoding a file it wrote itself; a file changed since by
// another writer must still be decoded and checked.
func TestLocalWriteChecksFileChangedByAnotherWriter(t *testing.T) {
	ctx := context.Background()
	l1 := newLocal(t)
	s1 := New()
	if err := l1.Write(ctx, s1); err != nil {
		t.Fatal(err)
	}
	l2 := NewLocal(l1.Path())
	s2, err := l2.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s2.SetResource(&Resource{Address: "other"})
	if err := l2.Write(ctx, s2); err != nil {
		t.Fatal(err)
	}
	s1.SetResource(&Resource{Address: "stale"})
	if err := l1.Write(ctx, s1); !errors.Is(err, ErrStaleSerial) {
		t.Fatalf("write over a file another writer changed: %v, want a stale-serial conflict", err)
	}
	// A damaged file is refused, not copied over the good backup.
	if err := os.WriteFile(l2.Path(), []byte("{damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := l2.Write(ctx, s2); err == nil || !strings.Contains(err.Error(), "invalid JSON") {
		t.Fatalf("write over a damaged file: %v, want a decode error", err)
	}
}
