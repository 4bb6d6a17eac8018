package planner

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

func TestDecideMethod(t *testing.T) {
	plain := catalog.Privileges{}
	for _, tc := range []struct {
		name       string
		configured lang.SyncMethod
		walLevel   string
		privs      catalog.Privileges
		want       lang.SyncMethod
		fallback   Fallback
		why        string
	}{
		{"auto, logical, superuser", lang.SyncAuto, "logical", catalog.Privileges{Superuser: true}, lang.SyncLogical, NoFallback, "using logical replication"},
		{"auto, logical, REPLICATION", lang.SyncAuto, "logical", catalog.Privileges{Replication: true}, lang.SyncLogical, NoFallback, "using logical replication"},
		{"auto, logical, rds_replication", lang.SyncAuto, "logical", catalog.Privileges{RDSReplication: true}, lang.SyncLogical, NoFallback, "using logical replication"},
		{"auto, logical, no privilege", lang.SyncAuto, "logical", plain, lang.SyncXmin, FallbackPrivilege, "Source user app has neither REPLICATION nor rds_replication: using xmin-based sync"},
		{"auto, replica, superuser", lang.SyncAuto, "replica", catalog.Privileges{Superuser: true}, lang.SyncXmin, FallbackWalLevel, "Source has wal_level=replica: using xmin-based sync"},
		{"auto, minimal, no privilege", lang.SyncAuto, "minimal", plain, lang.SyncXmin, FallbackWalLevel, "wal_level=minimal"},
		{"logical configured on replica", lang.SyncLogical, "replica", plain, lang.SyncLogical, NoFallback, `sync.method = "logical"`},
		{"xmin configured", lang.SyncXmin, "logical", catalog.Privileges{Superuser: true}, lang.SyncXmin, NoFallback, `sync.method = "xmin"`},
		{"stream configured", lang.SyncStream, "logical", plain, lang.SyncStream, NoFallback, `sync.method = "stream"`},
		{"none configured", lang.SyncNone, "logical", plain, lang.SyncNone, NoFallback, `sync.method = "none"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &lang.Replication{Name: "main", Sync: lang.Sync{Method: tc.configured}}
			src := &catalog.Server{WalLevel: tc.walLevel, Privileges: tc.privs, CurrentUser: "app"}
			d := DecideMethod(r, src)
			if d.Method != tc.want || d.Fallback != tc.fallback || d.Configured != (tc.configured != lang.SyncAuto) {
				t.Fatalf("got %+v, want method %s fallback %d", d, tc.want, tc.fallback)
			}
			if !strings.Contains(d.Why, tc.why) {
				t.Fatalf("why %q, want it to contain %q", d.Why, tc.why)
			}
			if m, why := ResolveMethod(r, src); m != d.Method || why != d.Why {
				t.Fatalf("ResolveMethod = %s %q, DecideMethod = %+v", m, why, d)
			}
		})
	}
}
