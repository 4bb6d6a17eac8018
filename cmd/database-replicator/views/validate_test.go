package views

import (
	"bytes"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/preflight"
)

var testChecks = []preflight.Check{
	{Subject: "source.prod", Name: "reachable", Code: preflight.CodeReachable, Status: preflight.OK, Detail: "PostgreSQL 15.4"},
	{Subject: "replication.main", Name: "sync method", Code: preflight.CodeSyncMethod, Status: preflight.Warn, Detail: "source has wal_level=replica: using xmin-based sync", Fix: "ALTER SYSTEM SET wal_level = logical"},
	{Subject: "replication.main", Name: "target may create databases", Code: preflight.CodeCreateDBPrivilege, Status: preflight.Fail, Detail: "app has neither CREATEDB nor superuser", Fix: "ALTER ROLE app WITH CREATEDB;"},
}

func TestValidateText(t *testing.T) {
	var b bytes.Buffer
	v := NewValidateView(&b, false)
	reps := []*lang.Replication{{Name: "main", Source: "prod", Target: "new", Databases: []string{"app", "crm"}, Sync: lang.Sync{Method: lang.SyncAuto}}}
	if err := v.Config("replication.hcl", reps); err != nil {
		t.Fatal(err)
	}
	if err := v.Checks(testChecks); err != nil {
		t.Fatal(err)
	}
	want := `Configuration is valid (replication.hcl).
  replication.main: source.prod -> target.new, databases app, crm, sync auto

   SUBJECT           CHECK                        RESULT
✓  source.prod       reachable                    PostgreSQL 15.4
!  replication.main  sync method                  source has wal_level=replica: using xmin-based sync
✗  replication.main  target may create databases  app has neither CREATEDB nor superuser

! replication.main — sync method:
    ALTER SYSTEM SET wal_level = logical

✗ replication.main — target may create databases:
    ALTER ROLE app WITH CREATEDB;
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	if err := v.Checks(testChecks[:2]); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\nAll blocking checks passed.\n")) {
		t.Fatalf("no closing line without failures:\n%s", b.String())
	}
}

func TestValidateJSON(t *testing.T) {
	var b bytes.Buffer
	v := NewValidateView(&b, true)
	if err := v.Config("replication.hcl", nil); err != nil {
		t.Fatal(err)
	}
	if err := v.Checks(testChecks[2:]); err != nil {
		t.Fatal(err)
	}
	want := `{
  "config_valid": true,
  "blocking_failures": 1,
  "checks": [
    {
      "subject": "replication.main",
      "check": "target may create databases",
      "code": "preflight.createdb-privilege",
      "status": "fail",
      "detail": "app has neither CREATEDB nor superuser",
      "fix": "ALTER ROLE app WITH CREATEDB;"
    }
  ]
}
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := v.Offline(); err != nil {
		t.Fatal(err)
	}
	if b.String() != "{\n  \"config_valid\": true,\n  \"blocking_failures\": 0,\n  \"checks\": []\n}\n" {
		t.Fatalf("offline JSON: %s", b.String())
	}
}
