package syncloop

import (
	"errors"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/endpoints"
	"github.com/database-replicator/database-replicator/state"
)

// A scope with several errors fails with all of them, not only the first
// diagnostic's detail (issue 11). A misspelt exclude_tables entry is one of
// them (it was a warning: the table would be replicated anyway).
func TestJobsReportEveryScopeError(t *testing.T) {
	cfg := &lang.Config{
		Sources: map[string]*lang.Endpoint{"prod": {Kind: lang.KindSource, Name: "prod", URL: "postgres://src/postgres"}},
		Targets: map[string]*lang.Endpoint{"new": {Kind: lang.KindTarget, Name: "new", URL: "postgres://dst/postgres"}},
		Replications: []*lang.Replication{{Name: "main", Source: "prod", Target: "new", Databases: []string{"app", "crm"},
			ExcludeTables: []lang.TableRef{{Database: "app", Schema: "public", Table: "gone"}},
			Sync:          lang.Sync{Method: lang.SyncXmin}}},
	}
	eps, err := endpoints.Resolve(cfg)
	if err != nil {
		t.Fatal(err)
	}
	servers := map[string]*catalog.Server{"source.prod": {WalLevel: "replica"}, "target.new": {}}
	_, _, err = Jobs(JobsInput{Config: cfg, Endpoints: eps, State: state.New(), Servers: servers})
	var list *diag.ErrorList
	if !errors.As(err, &list) || len(list.Diagnostics) != 3 {
		t.Fatalf("err = %v: want both missing databases and the missing excluded table as a diag.ErrorList", err)
	}
	for _, want := range []string{`"app" is listed in databases`, `"crm" is listed in databases`, "replication.main", "exclude_tables names app.public.gone"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err lacks %q:\n%v", want, err)
		}
	}
}
