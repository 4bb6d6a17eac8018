package actions

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/planner/plans"
)

func TestDatabasePropertyStatements(t *testing.T) {
	props := &plans.DatabaseProperties{Owner: "app owner", Comment: "it's ours",
		Settings: []string{`TimeZone=UTC`, `search_path="$user", public, "My ""S"""`, `myapp.flag=on`},
		ACL:      []string{"=T", `"app owner"=CTc`, "reader=c*"}}
	got := strings.Join(databasePropertyStatements("app", props, []string{"=Tc/postgres", "postgres=CTc/postgres"}), ";\n")
	for _, want := range []string{
		`ALTER DATABASE "app" OWNER TO "app owner"`,
		`ALTER DATABASE "app" RESET ALL`,
		`ALTER DATABASE "app" SET "TimeZone" TO 'UTC'`,
		`ALTER DATABASE "app" SET "search_path" TO '$user', 'public', 'My "S"'`,
		`ALTER DATABASE "app" SET "myapp"."flag" TO 'on'`,
		`REVOKE ALL ON DATABASE "app" FROM PUBLIC`,
		`REVOKE ALL ON DATABASE "app" FROM "postgres"`,
		`GRANT TEMPORARY ON DATABASE "app" TO PUBLIC`,
		`GRANT CREATE, TEMPORARY, CONNECT ON DATABASE "app" TO "app owner"`,
		`GRANT CONNECT ON DATABASE "app" TO "reader" WITH GRANT OPTION`,
		`COMMENT ON DATABASE "app" IS 'it''s ours'`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in:\n%s", want, got)
		}
	}
}
