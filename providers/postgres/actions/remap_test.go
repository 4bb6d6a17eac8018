package actions

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/schemadump"
)

func qn(schema, name string) schemadump.QualifiedName {
	return schemadump.QualifiedName{Schema: schema, Name: name}
}

func TestRemapSQL(t *testing.T) {
	m := moves{qn("s1", "t"): qn("s2", "t2"), qn("Sales", "Or ders"): qn("eu", "orders")}
	cases := []struct{ in, want string }{
		{"ALTER TABLE ONLY s1.t ADD CONSTRAINT t_pkey PRIMARY KEY (id);", `ALTER TABLE ONLY "s2"."t2" ADD CONSTRAINT t_pkey PRIMARY KEY (id);`},
		{"CREATE INDEX i ON s1.t USING btree (x);", `CREATE INDEX i ON "s2"."t2" USING btree (x);`},
		{`ALTER TABLE ONLY s1.u ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES "Sales"."Or ders"(id);`, `ALTER TABLE ONLY s1.u ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES "eu"."orders"(id);`},
		// Unquoted names fold to lower case, as PostgreSQL reads them.
		{"CREATE INDEX i ON S1.T (x);", `CREATE INDEX i ON "s2"."t2" (x);`},
		// Not a table name: a string, a dollar-quoted body, a longer
		// dotted name, a suffix of another word.
		{"COMMENT ON INDEX s1.i IS 's1.t';", "COMMENT ON INDEX s1.i IS 's1.t';"},
		{"CREATE TRIGGER x AFTER INSERT ON s1.t FOR EACH ROW EXECUTE FUNCTION f($$s1.t$$);", `CREATE TRIGGER x AFTER INSERT ON "s2"."t2" FOR EACH ROW EXECUTE FUNCTION f($$s1.t$$);`},
		{"SELECT db.s1.t.col, xs1.t FROM s1.tt;", "SELECT db.s1.t.col, xs1.t FROM s1.tt;"},
	}
	for _, c := range cases {
		if got := remapSQL(c.in, m); got != c.want {
			t.Errorf("remapSQL(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestRenameSQL(t *testing.T) {
	m := moves{qn("s1", "t"): qn("s2", "t2"), qn("s1", "u"): qn("s1", "u2"), qn("s1", "v"): qn("s2", "v")}
	got := renameSQL(m, nil)
	want := `CREATE SCHEMA IF NOT EXISTS "s2";
ALTER TABLE "s1"."t" SET SCHEMA "s2";
ALTER TABLE "s2"."t" RENAME TO "t2";
ALTER TABLE "s1"."u" RENAME TO "u2";
ALTER TABLE "s1"."v" SET SCHEMA "s2";
`
	if got != want {
		t.Errorf("renameSQL:\n%s\nwant:\n%s", got, want)
	}
	only := renameSQL(m, func(q schemadump.QualifiedName) bool { return q.Name == "u" })
	if strings.Contains(only, `"t"`) || !strings.Contains(only, `RENAME TO "u2"`) {
		t.Errorf("renameSQL with keep:\n%s", only)
	}
}

func TestRemapItems(t *testing.T) {
	m := moves{qn("s1", "t"): qn("s2", "t")}
	items := []schemadump.PostDataItem{
		{ID: 1, Kind: "INDEX", Name: "t_x", Table: qn("s1", "t"), SQL: "CREATE INDEX t_x ON s1.t USING btree (x);"},
		{ID: 2, Kind: "COMMENT", Name: "INDEX t_x", SQL: "COMMENT ON INDEX s1.t_x IS 'x';"},
		{ID: 3, Kind: "INDEX", Name: "u_x", Table: qn("s1", "u"), SQL: "CREATE INDEX u_x ON s1.u USING btree (x);"},
	}
	out := remapItems(items, m)
	if out[0].Table != qn("s2", "t") || out[0].SQL != `CREATE INDEX t_x ON "s2"."t" USING btree (x);` {
		t.Errorf("index of a moved table: %+v", out[0])
	}
	if out[1].SQL != `COMMENT ON INDEX "s2"."t_x" IS 'x';` {
		t.Errorf("an index moves with its table: %q", out[1].SQL)
	}
	if out[2].SQL != items[2].SQL || out[2].Table != qn("s1", "u") {
		t.Errorf("an item of a table that stays changed: %+v", out[2])
	}
	if items[0].SQL != "CREATE INDEX t_x ON s1.t USING btree (x);" {
		t.Error("remapItems changed its input")
	}
}
