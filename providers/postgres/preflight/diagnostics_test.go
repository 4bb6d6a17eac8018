package preflight

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/lang/diag/diagtest"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

// Failed checks become errors, warning checks warnings, in order; passed
// checks are left out; code, subject, name, detail and fix carry over.
func TestDiagnostics(t *testing.T) {
	checks := []Check{
		{Subject: "source.prod", Name: "reachable", Code: CodeReachable, Status: OK, Detail: "PostgreSQL 15.4"},
		{Subject: "replication.main", Name: "sync method", Code: CodeSyncMethod, Status: Warn, Detail: "source has wal_level=replica", Fix: "ALTER SYSTEM SET wal_level = logical"},
		{Subject: "replication.main", Name: "free replication slots", Code: CodeReplicationSlots, Status: Fail, Detail: "0 free, 1 needed", Fix: "ALTER SYSTEM SET max_replication_slots = 3"},
		{Subject: "target.new", Name: "reachable", Code: CodeReachable, Status: Fail, Detail: "connection refused"},
	}
	ds := Diagnostics(checks)
	want := diag.Diagnostics{
		{Severity: diag.Warning, Code: CodeSyncMethod, Summary: "sync method", Detail: "source has wal_level=replica", Address: "replication.main", Fix: "ALTER SYSTEM SET wal_level = logical"},
		{Severity: diag.Error, Code: CodeReplicationSlots, Summary: "free replication slots", Detail: "0 free, 1 needed", Address: "replication.main", Fix: "ALTER SYSTEM SET max_replication_slots = 3"},
		{Severity: diag.Error, Code: CodeReachable, Summary: "reachable", Detail: "connection refused", Address: "target.new"},
	}
	if !slices.Equal(ds, want) {
		t.Fatalf("Diagnostics:\n got %+v\nwant %+v", ds, want)
	}
	if len(ds.Errors()) != Failures(checks) {
		t.Errorf("%d errors, %d failures", len(ds.Errors()), Failures(checks))
	}
	var list *diag.ErrorList
	if err := ds.Err(); !errors.As(err, &list) || len(list.Diagnostics) != 2 || strings.Contains(err.Error(), "wal_level") {
		t.Errorf("Err() = %v: want both failures and no warning", err)
	}
	if got := Diagnostics(checks[:1]); got != nil {
		t.Errorf("only passed checks: %+v, want none", got)
	}
}

// Every check the pure check functions build carries its code, passed or
// not.
func TestChecksCarryCodes(t *testing.T) {
	server := func(version int, walLevel string, p catalog.Privileges) *catalog.Server {
		return &catalog.Server{VersionNum: version, Version: strconv.Itoa(version / 10000), WalLevel: walLevel, CurrentUser: "app",
			Privileges: p, MaxReplicationSlots: 1, UsedReplicationSlots: 1, MaxWalSenders: 1, UsedWalSenders: 1,
			Databases: []*catalog.Database{{Name: "app", AllowConn: true}}}
	}
	rep := func(method lang.SyncMethod, dbs ...string) *lang.Replication {
		return &lang.Replication{Name: "main", Databases: dbs, Sync: lang.Sync{Method: method},
			Tables: []*lang.TableConfig{{Ref: lang.TableRef{Database: "app", Schema: "public", Table: "t"}, Where: "id > 0"}}}
	}
	pg14, pg16 := server(140000, "logical", catalog.Privileges{}), server(160000, "logical", catalog.Privileges{Superuser: true})
	replica := server(150000, "replica", catalog.Privileges{Superuser: true})
	var cs []Check
	cs = append(cs, Versions("r", pg14, pg16), Versions("r", pg16, pg14))
	cs = append(cs, PgDump("r", pg16, 0, errors.New("no pg_dump")), PgDump("r", pg16, 15, nil), PgDump("r", pg16, 16, nil))
	cs = append(cs, SyncMethod("r", rep(lang.SyncLogical), replica), SyncMethod("r", rep(lang.SyncLogical), pg16),
		SyncMethod("r", rep(lang.SyncAuto), replica), SyncMethod("r", rep(lang.SyncAuto), pg14), SyncMethod("r", rep(lang.SyncAuto), pg16),
		SyncMethod("r", rep(lang.SyncXmin), pg16))
	cs = append(cs, Replication("r", rep(lang.SyncLogical, "app", "missing"), pg14, pg14)...)
	cs = append(cs, Replication("r", rep(lang.SyncLogical, "app"), pg16, pg16)...)
	seen := map[diag.Code]bool{}
	for _, c := range cs {
		if c.Code == "" {
			t.Errorf("check %q (%s) has no code", c.Name, c.Detail)
		}
		seen[c.Code] = true
	}
	for _, code := range []diag.Code{CodeTargetVersion, CodePgDumpAvailable, CodePgDumpVersion, CodeWalLevel, CodeSyncMethod,
		CodeSourceDatabases, CodeReplicationPrivilege, CodeReplicationSlots, CodeWalSenders, CodeRowFilters,
		CodeCreateDBPrivilege, CodeSubscriptionPrivilege} {
		if !seen[code] {
			t.Errorf("no check with code %s", code)
		}
	}
}

// TestCodesDocumented checks that every code of codes.go is unique, starts
// with preflight. and has a row in docs/diagnostics.md.
func TestCodesDocumented(t *testing.T) {
	if n := diagtest.CodesDocumented(t, "codes.go", "../../../docs/diagnostics.md", "preflight."); n < 15 {
		t.Errorf("found only %d codes in codes.go", n)
	}
}
