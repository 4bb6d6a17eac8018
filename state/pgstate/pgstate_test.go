package pgstate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
	"github.com/database-replicator/database-replicator/state"
	"github.com/jackc/pgx/v5"
)

// TestPostgres runs the postgres backend tests against one throwaway
// cluster, each in its own schema.
func TestPostgres(t *testing.T) {
	c := pgtest.Start(t)
	url := c.URL("postgres")
	t.Run("ReadWrite", func(t *testing.T) { testPostgresReadWrite(t, c, url) })
	t.Run("Lock", func(t *testing.T) { testPostgresLock(t, url) })
	t.Run("ConcurrentLock", func(t *testing.T) { testPostgresConcurrentLock(t, url) })
	t.Run("ForceUnlock", func(t *testing.T) { testPostgresForceUnlock(t, c, url) })
	t.Run("Secrets", func(t *testing.T) { testPostgresSecrets(t, c, url) })
	t.Run("NewerVersion", func(t *testing.T) { testPostgresNewerVersion(t, c, url) })
	t.Run("Checkpoint", func(t *testing.T) { testPostgresCheckpoint(t, c, url) })
}

// Checkpoints are journal rows that every read folds in, the state row's
// data is left alone until a whole write folds them and deletes them; the
// serial and lock checks are those of Write.
func testPostgresCheckpoint(t *testing.T, c *pgtest.Cluster, url string) {
	ctx := context.Background()
	const schema = "cp_state"
	p := New(url, schema)
	s := state.New()
	s.SetResource(&state.Resource{Address: "a", Kind: "table", Status: state.StatusDone})
	if err := p.Checkpoint(ctx, s, []string{"a"}); err != nil { // never written: written whole
		t.Fatal(err)
	}
	journal := func() int64 {
		return c.QueryInt(t, "postgres", "SELECT count(*) FROM "+pgx.Identifier{schema, "state_journal"}.Sanitize())
	}
	s.SetResource(&state.Resource{Address: "b", Kind: "table", Status: state.StatusInProgress,
		Attributes: map[string]any{"conninfo": "host=x password=hunter2"}})
	if err := p.Checkpoint(ctx, s, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	s.RemoveResource("a")
	if err := p.Checkpoint(ctx, s, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if s.Serial != 3 || journal() != 2 {
		t.Fatalf("serial %d, %d journal rows; want 3 and 2", s.Serial, journal())
	}
	conn := c.Connect(t, "postgres")
	var data string
	if err := conn.QueryRow(ctx, "SELECT data::text || (SELECT string_agg(record::text, '') FROM "+
		pgx.Identifier{schema, "state_journal"}.Sanitize()+") FROM "+pgx.Identifier{schema, "state"}.Sanitize()).Scan(&data); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(data, "hunter2") {
		t.Fatal("a checkpoint stored a password")
	}
	got, err := New(url, schema).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != 3 || got.Resource("a") != nil || got.Resource("b") == nil || got.Resource("b").Status != state.StatusInProgress {
		t.Fatalf("read after checkpoints: serial %d, resources %v", got.Serial, got.Addresses())
	}
	// A run that read serial 3 after another checkpointed serial 4.
	other := New(url, schema)
	if err := other.Checkpoint(ctx, got, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Checkpoint(ctx, s, []string{"b"}); !errors.Is(err, state.ErrStaleSerial) {
		t.Fatalf("stale checkpoint: %v, want ErrStaleSerial", err)
	}
	// A whole write folds the journal.
	if err := other.Write(ctx, got); err != nil {
		t.Fatal(err)
	}
	if n := journal(); n != 0 {
		t.Fatalf("%d journal rows after a whole write, want 0", n)
	}
	again, err := New(url, schema).Read(ctx)
	if err != nil || again.Serial != 5 || len(again.Resources) != 1 {
		t.Fatalf("after the fold: %+v, %v", again, err)
	}
	// Another session holds the lock: refused.
	unlock, err := New(url, schema).Lock(ctx, state.LockInfo{Operation: "apply"})
	if err != nil {
		t.Fatal(err)
	}
	defer unlock(ctx)
	if err := New(url, schema).Checkpoint(ctx, again, nil); err == nil {
		t.Fatal("checkpoint while another session holds the lock succeeded")
	}
}

func testPostgresReadWrite(t *testing.T, c *pgtest.Cluster, url string) {
	ctx := context.Background()
	const schema = `Replicator "State"`
	p := New(url, schema)
	s, err := p.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Serial != 0 || s.Lineage != "" || !s.Empty() {
		t.Fatalf("first Read = %+v, want state.New()", s)
	}
	if n := c.QueryInt(t, "postgres", "SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema); n != 0 {
		t.Fatal("Read created the schema")
	}
	s.SetResource(&state.Resource{Address: `replication.main.slot["myapp"]`, Kind: "slot", Status: state.StatusCreated,
		Attributes: map[string]any{"lsn": uint64(1) << 62}})
	if err := p.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if s.Serial != 1 || len(s.Lineage) != 36 {
		t.Fatalf("after the first write: serial %d lineage %q", s.Serial, s.Lineage)
	}
	lineage := s.Lineage
	for want := uint64(2); want <= 3; want++ {
		s.SetResource(&state.Resource{Address: fmt.Sprintf(`replication.main.table["myapp.public.t%d"]`, want), Kind: "table"})
		if err := p.Write(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, err := New(url, schema).Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.Serial != want || got.Lineage != lineage || len(got.Resources) != len(s.Resources) {
			t.Fatalf("write %d: read back serial %d lineage %q, %d resources", want, got.Serial, got.Lineage, len(got.Resources))
		}
		if lsn, ok := got.Resource(`replication.main.slot["myapp"]`).Uint("lsn"); !ok || lsn != 1<<62 {
			t.Fatalf("lsn = %d, %v", lsn, ok)
		}
	}
	conn := c.Connect(t, "postgres")
	var rowLineage string
	var rowSerial int64
	if err := conn.QueryRow(ctx, "SELECT lineage, serial FROM "+pgx.Identifier{schema, "state"}.Sanitize()).
		Scan(&rowLineage, &rowSerial); err != nil {
		t.Fatal(err)
	}
	if rowLineage != lineage || rowSerial != 3 {
		t.Fatalf("row lineage %q serial %d", rowLineage, rowSerial)
	}

	// A writer that read serial 3 after another wrote serial 4 is refused.
	a, _ := p.Read(ctx)
	b, _ := p.Read(ctx)
	if err := p.Write(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := p.Write(ctx, b); !errors.Is(err, state.ErrStaleSerial) {
		t.Fatalf("stale write: %v", err)
	}
	if err := p.Write(ctx, state.New()); !errors.Is(err, state.ErrStaleSerial) {
		t.Fatalf("New() over a stored state: %v", err)
	}
	other := state.New()
	other.Lineage, other.Serial = "00000000-0000-4000-8000-000000000000", 100
	if err := p.Write(ctx, other); !errors.Is(err, state.ErrLineageMismatch) {
		t.Fatalf("lineage mismatch: %v", err)
	}
	if got, _ := p.Read(ctx); got.Serial != 4 || got.Lineage != lineage {
		t.Fatalf("stored state after refusals: serial %d lineage %q", got.Serial, got.Lineage)
	}
	d := p.Describe()
	if !strings.Contains(d, `"Replicator ""State"""."state"`) || strings.Contains(d, c.Password()) {
		t.Fatalf("Describe() = %q", d)
	}
}

func testPostgresLock(t *testing.T, url string) {
	ctx := context.Background()
	a, b := New(url, "lock_test"), New(url, "lock_test")
	info := state.NewLockInfo("apply", "v0.1.0")
	unlock, err := a.Lock(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Lock(ctx, state.NewLockInfo("plan", ""))
	var le *state.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Lock: %v, want *LockedError", err)
	}
	if le.Info.ID != info.ID || le.Info.Operation != "apply" || le.Info.Host != info.Host || le.Info.Version != "v0.1.0" {
		t.Fatalf("holder info %+v, want %+v", le.Info, info)
	}
	if !strings.Contains(err.Error(), "state is locked by apply (pid ") || !strings.Contains(err.Error(), "force-unlock "+info.ID) {
		t.Fatalf("error %q", err)
	}
	// Another schema has its own lock.
	unlockOther, err := New(url, "lock_test_other").Lock(ctx, state.NewLockInfo("plan", ""))
	if err != nil {
		t.Fatalf("lock of another schema: %v", err)
	}
	if err := unlockOther(ctx); err != nil {
		t.Fatal(err)
	}
	// Only the holder writes.
	if err := b.Write(ctx, state.New()); !errors.As(err, &le) {
		t.Fatalf("write by a non-holder: %v", err)
	}
	if err := a.Write(ctx, state.New()); err != nil {
		t.Fatalf("write by the holder: %v", err)
	}
	if err := unlock(ctx); err != nil {
		t.Fatal(err)
	}
	unlockB, err := b.Lock(ctx, state.NewLockInfo("plan", ""))
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	if err := unlockB(ctx); err != nil {
		t.Fatal(err)
	}
	// Unlocked, anyone may write (the serial check still applies).
	s, _ := b.Read(ctx)
	if err := b.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
}

func testPostgresConcurrentLock(t *testing.T, url string) {
	ctx := context.Background()
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		unlocks []func(context.Context) error
		errs    []error
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := New(url, "concurrent_lock").Lock(ctx, state.NewLockInfo("sync", ""))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else {
				unlocks = append(unlocks, unlock)
			}
		}()
	}
	wg.Wait()
	if len(unlocks) != 1 {
		t.Fatalf("%d lockers won, want 1 (errors: %v)", len(unlocks), errs)
	}
	for _, err := range errs {
		var le *state.LockedError
		if !errors.As(err, &le) {
			t.Fatalf("loser error: %v", err)
		}
	}
	if err := unlocks[0](ctx); err != nil {
		t.Fatal(err)
	}
}

func testPostgresForceUnlock(t *testing.T, c *pgtest.Cluster, url string) {
	ctx := context.Background()
	a, b := New(url, "force_unlock"), New(url, "force_unlock")
	if err := b.ForceUnlock(ctx, "x"); !errors.Is(err, state.ErrNotLocked) {
		t.Fatalf("ForceUnlock before any lock: %v", err)
	}
	info := state.NewLockInfo("apply", "")
	unlock, err := a.Lock(ctx, info)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ForceUnlock(ctx, "wrong"); err == nil || !strings.Contains(err.Error(), "does not match the current lock") {
		t.Fatalf("ForceUnlock with a wrong ID: %v", err)
	}
	// Sessions of earlier subtests may still be ending: wait for them.
	var holders int64
	for deadline := time.Now().Add(5 * time.Second); ; {
		holders = c.QueryInt(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'database-replicator state'")
		if holders == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if holders != 1 {
		t.Fatalf("%d state sessions before force-unlock, want 1 (the holder)", holders)
	}
	if err := b.ForceUnlock(ctx, info.ID); err != nil {
		t.Fatal(err)
	}
	unlockB, err := b.Lock(ctx, state.NewLockInfo("plan", ""))
	if err != nil {
		t.Fatalf("Lock after force-unlock: %v", err)
	}
	// The terminated holder can neither write nor remove the new lock.
	if err := a.Write(ctx, state.New()); err == nil || !strings.Contains(err.Error(), "no longer holds the state lock") {
		t.Fatalf("write by the force-unlocked holder: %v", err)
	}
	if err := unlock(ctx); err == nil {
		t.Fatal("unlock after force-unlock succeeded")
	}
	var le *state.LockedError
	if _, err := a.Lock(ctx, state.NewLockInfo("apply", "")); !errors.As(err, &le) {
		t.Fatalf("lock while b holds it: %v", err)
	}
	if err := unlockB(ctx); err != nil {
		t.Fatal(err)
	}
	// A stale record (its session gone) does not block a new locker.
	deadline := time.Now().Add(10 * time.Second)
	for {
		unlockA, err := a.Lock(ctx, state.NewLockInfo("apply", ""))
		if err == nil {
			if err := unlockA(ctx); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock after unlock: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testPostgresSecrets(t *testing.T, c *pgtest.Cluster, url string) {
	ctx := context.Background()
	p := New(url, "secrets")
	const pw = "Sup3r-S3cret-pw"
	s := state.New()
	s.SetResource(&state.Resource{Address: `replication.main.subscription["myapp"]`, Kind: "subscription", Attributes: map[string]any{
		"source":   "postgres://replicator:" + pw + "@src.example.com/myapp",
		"conninfo": "host=src user=replicator password=" + pw,
		"backend":  url,
	}})
	if err := p.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	s.Resource(`replication.main.subscription["myapp"]`).Attributes["password"] = pw
	if err := p.Write(ctx, s); err == nil || strings.Contains(err.Error(), pw) {
		t.Fatalf("write with a password attribute: %v", err)
	}
	conn := c.Connect(t, "postgres")
	var data string
	if err := conn.QueryRow(ctx, "SELECT data::text FROM secrets.state").Scan(&data); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{pw, c.Password()} {
		if strings.Contains(data, secret) {
			t.Fatalf("secret %q stored in the state row: %s", secret, data)
		}
	}
	if !strings.Contains(data, "replicator:xxxxx@src.example.com") {
		t.Fatalf("redacted URL missing from %s", data)
	}
	// Connection errors never show the password.
	bad := strings.Replace(url, c.Password(), pw, 1)
	for _, err := range []error{
		func() error { _, err := New(bad, "secrets").Read(ctx); return err }(),
		New(bad, "secrets").Write(ctx, state.New()),
		func() error { _, err := New(bad, "secrets").Lock(ctx, state.NewLockInfo("apply", "")); return err }(),
		New(bad, "secrets").ForceUnlock(ctx, "x"),
	} {
		if err == nil || strings.Contains(err.Error(), pw) {
			t.Fatalf("error with a wrong password: %v", err)
		}
	}
	if d := New(bad, "secrets").Describe(); strings.Contains(d, pw) {
		t.Fatalf("Describe() = %q", d)
	}
}

func testPostgresNewerVersion(t *testing.T, c *pgtest.Cluster, url string) {
	ctx := context.Background()
	p := New(url, "newer")
	if err := p.Write(ctx, state.New()); err != nil {
		t.Fatal(err)
	}
	c.Exec(t, "postgres", `UPDATE newer.state SET data = jsonb_set(data, '{version}', '2')`)
	if _, err := p.Read(ctx); !errors.Is(err, state.ErrNewerVersion) ||
		!strings.Contains(err.Error(), "state format version 2 is newer than this binary supports (1)") {
		t.Fatalf("Read: %v", err)
	}
}
