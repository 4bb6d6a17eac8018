package state

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

// checkpointed returns a Local whose state file records a (written whole)
// and whose journal records b set and then a removed and c set: the file
// at serial 1, the journal at serials 2 and 3.
func checkpointed(t *testing.T) (*Local, *State) {
	t.Helper()
	ctx := context.Background()
	l := newLocal(t)
	s := oneResource("a", map[string]any{"n": 1})
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.SetResource(&Resource{Address: "b", Kind: "table", Status: StatusInProgress})
	if err := l.Checkpoint(ctx, s, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	s.RemoveResource("a")
	s.SetResource(&Resource{Address: "c", Kind: "slot", Status: StatusDone, Attributes: map[string]any{"lsn": "0/16B3748"}})
	if err := l.Checkpoint(ctx, s, []string{"a", "c"}); err != nil {
		t.Fatal(err)
	}
	if s.Serial != 3 {
		t.Fatalf("serial after two checkpoints = %d, want 3", s.Serial)
	}
	return l, s
}

// wantResources fails unless s records exactly the addresses given, with
// the given statuses, at serial.
func wantResources(t *testing.T, s *State, serial uint64, statuses map[string]string) {
	t.Helper()
	if s.Serial != serial {
		t.Errorf("serial %d, want %d", s.Serial, serial)
	}
	if len(s.Resources) != len(statuses) {
		t.Errorf("resources %q, want %v", s.Addresses(), statuses)
	}
	for a, st := range statuses {
		if r := s.Resource(a); r == nil || r.Status != st {
			t.Errorf("%s: %+v, want status %s", a, r, st)
		}
	}
}

func TestCheckpointAppendsAndReadFolds(t *testing.T) {
	ctx := context.Background()
	l, s := checkpointed(t)
	// The state file is still the first write; the journal holds the rest.
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	file, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	wantResources(t, file, 1, map[string]string{"a": StatusDone})
	if j, err := os.ReadFile(l.JournalPath()); err != nil || strings.Count(string(j), "\n") != 2 {
		t.Fatalf("journal: %q, %v; want two records", j, err)
	}
	if st, _ := os.Stat(l.JournalPath()); st.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600", st.Mode().Perm())
	}
	// Every reader sees the file with the journal folded in.
	got, err := NewLocal(l.Path()).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"b": StatusInProgress, "c": StatusDone}
	wantResources(t, got, 3, want)
	if v := got.Resource("c").Attributes["lsn"]; v != "0/16B3748" {
		t.Errorf("c's lsn after the fold = %v", v)
	}
	// A whole write folds the journal into the file and removes it; the
	// backup is the state it replaced, journal included.
	s.SetResource(&Resource{Address: "b", Kind: "table", Status: StatusDone})
	if err := l.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.JournalPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal after a whole write: %v, want removed", err)
	}
	data, _ = os.ReadFile(l.Path())
	file, err = Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	wantResources(t, file, 4, map[string]string{"b": StatusDone, "c": StatusDone})
	backup, _ := os.ReadFile(l.BackupPath())
	prev, err := Decode(backup)
	if err != nil {
		t.Fatal(err)
	}
	wantResources(t, prev, 3, want)
}

// A crash during an append leaves a torn last record: readers leave it
// out, and the next checkpoint cuts it off before appending, so that its
// own record is read.
func TestCheckpointTornLastRecord(t *testing.T) {
	ctx := context.Background()
	l, _ := checkpointed(t)
	// The torn record would have marked b done and removed c.
	tornRecord := func(serial uint64) []byte {
		torn, err := encodeJournalRecord(&journalRecord{Version: FormatVersion, Lineage: mustRead(t, l).Lineage, Serial: serial,
			Set: []fileResource{{Address: "b", Kind: "table", Status: StatusDone}}, Remove: []string{"c"}})
		if err != nil {
			t.Fatal(err)
		}
		return torn
	}
	for _, part := range []float64{0.99, 0.5, 0.05} {
		base := mustRead(t, l).Serial
		torn := tornRecord(base + 1)
		cut := int(float64(len(torn)) * part)
		appendBytes(t, l.JournalPath(), torn[:cut])
		// A fresh instance, as after a kill -9.
		got := mustRead(t, NewLocal(l.Path()))
		wantResources(t, got, base, map[string]string{"b": StatusInProgress, "c": StatusDone})
		// The resumed run checkpoints over it.
		next := NewLocal(l.Path())
		got.SetResource(&Resource{Address: "d", Kind: "table", Status: StatusInProgress})
		if err := next.Checkpoint(ctx, got, []string{"d"}); err != nil {
			t.Fatalf("checkpoint over a torn record (cut at %d): %v", cut, err)
		}
		wantResources(t, mustRead(t, NewLocal(l.Path())), base+1,
			map[string]string{"b": StatusInProgress, "c": StatusDone, "d": StatusInProgress})
		// Back to three records for the next cut.
		got.RemoveResource("d")
		if err := next.Write(ctx, got); err != nil {
			t.Fatal(err)
		}
		l, _ = checkpointedFrom(t, l.Path(), got)
	}
	// A complete line whose checksum does not match is a torn record too.
	base := mustRead(t, l).Serial
	bad := []byte(strings.Replace(string(tornRecord(base+1)), `"done"`, `"d0ne"`, 1))
	appendBytes(t, l.JournalPath(), bad)
	wantResources(t, mustRead(t, NewLocal(l.Path())), base,
		map[string]string{"b": StatusInProgress, "c": StatusDone})
}

// checkpointedFrom gives the state at path (written whole, serial n) two
// checkpoints like checkpointed: b in progress, then c done.
func checkpointedFrom(t *testing.T, path string, s *State) (*Local, *State) {
	t.Helper()
	ctx := context.Background()
	l := NewLocal(path)
	s.SetResource(&Resource{Address: "b", Kind: "table", Status: StatusInProgress})
	if err := l.Checkpoint(ctx, s, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	s.SetResource(&Resource{Address: "c", Kind: "slot", Status: StatusDone})
	if err := l.Checkpoint(ctx, s, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	return l, s
}

// Records at or below the state file's serial were folded by a write that
// crashed before it removed the journal: readers skip them.
func TestJournalRecordsAlreadyFoldedAreSkipped(t *testing.T) {
	ctx := context.Background()
	l, s := checkpointed(t)
	journal, err := os.ReadFile(l.JournalPath())
	if err != nil {
		t.Fatal(err)
	}
	s.SetResource(&Resource{Address: "e", Kind: "table", Status: StatusDone})
	if err := l.Write(ctx, s); err != nil { // serial 4, journal removed
		t.Fatal(err)
	}
	if err := os.WriteFile(l.JournalPath(), journal, 0o600); err != nil { // as if the removal was lost
		t.Fatal(err)
	}
	want := map[string]string{"b": StatusInProgress, "c": StatusDone, "e": StatusDone}
	wantResources(t, mustRead(t, NewLocal(l.Path())), 4, want)
	// And a checkpoint continues after them.
	next := NewLocal(l.Path())
	got := mustRead(t, next)
	got.RemoveResource("e")
	if err := next.Checkpoint(ctx, got, []string{"e"}); err != nil {
		t.Fatal(err)
	}
	delete(want, "e")
	wantResources(t, mustRead(t, NewLocal(l.Path())), 5, want)
}

func TestCheckpointRefusesStaleSerialAndForeignLock(t *testing.T) {
	ctx := context.Background()
	l, s := checkpointed(t)
	// Another run writes in between: this instance's next checkpoint is
	// refused, like a whole write.
	other := NewLocal(l.Path())
	o := mustRead(t, other)
	if err := other.Checkpoint(ctx, o, nil); err != nil {
		t.Fatal(err)
	}
	s.SetResource(&Resource{Address: "x", Kind: "table"})
	if err := l.Checkpoint(ctx, s, []string{"x"}); !errors.Is(err, ErrStaleSerial) {
		t.Fatalf("checkpoint after another run's: %v, want ErrStaleSerial", err)
	}
	// Another run holds the lock.
	holder := NewLocal(l.Path())
	unlock, err := holder.Lock(ctx, LockInfo{Operation: "apply"})
	if err != nil {
		t.Fatal(err)
	}
	defer unlock(ctx)
	o = mustRead(t, NewLocal(l.Path()))
	if err := NewLocal(l.Path()).Checkpoint(ctx, o, nil); err == nil || !strings.Contains(err.Error(), "lock") {
		t.Fatalf("checkpoint while another run holds the lock: %v", err)
	}
}

func TestCheckpointScrubsSecrets(t *testing.T) {
	ctx := context.Background()
	l, s := checkpointed(t)
	s.SetResource(&Resource{Address: "conn", Kind: "subscription",
		Attributes: map[string]any{"conninfo": "host=db user=app password=hunter2"}})
	if err := l.Checkpoint(ctx, s, []string{"conn"}); err != nil {
		t.Fatal(err)
	}
	j, _ := os.ReadFile(l.JournalPath())
	if strings.Contains(string(j), "hunter2") {
		t.Fatalf("the journal holds a password: %s", j)
	}
	s.SetResource(&Resource{Address: "conn", Kind: "subscription", Attributes: map[string]any{"password": "x"}})
	var se *SecretError
	if err := l.Checkpoint(ctx, s, []string{"conn"}); !errors.As(err, &se) {
		t.Fatalf("checkpoint of a credential attribute: %v, want *SecretError", err)
	}
}

func mustRead(t *testing.T, l *Local) *State {
	t.Helper()
	s, err := l.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}
