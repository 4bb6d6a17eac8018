package schemacompare

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/planner/plans"
)

// schemaOf builds a Schema from objects (raw attributes equal to the
// compared ones).
func schemaOf(objs ...*Object) *Schema {
	s := &Schema{Objects: map[string]*Object{}}
	for _, o := range objs {
		if o.raw == nil {
			o.raw = map[string]string{}
			for k, v := range o.Attributes {
				o.raw[k] = v
			}
		}
		s.Objects[key(o.Kind, o.Name)] = o
	}
	return s
}

func table(name string, attrs map[string]string) *Object {
	if attrs == nil {
		attrs = map[string]string{}
	}
	return &Object{Kind: "table", Name: name, Attributes: attrs}
}

func column(tbl, name, typ, pos string) *Object {
	return &Object{Kind: "column", Name: tbl + "." + name, Parent: tbl, Attributes: map[string]string{"type": typ, "position": pos}}
}

func sqlOf(stmts []plans.SchemaStatement) string {
	var out []string
	for _, s := range stmts {
		out = append(out, s.Phase+": "+s.SQL)
	}
	return strings.Join(out, "\n")
}

func TestStatementsRenameOnlyWhenUnambiguous(t *testing.T) {
	// label was renamed to title and old dropped, both text: the rename
	// keeps the position, so title pairs with label only.
	src := schemaOf(table("public.t", nil), column("public.t", "id", "integer", "1"), column("public.t", "title", "text", "2"))
	dst := schemaOf(table("public.t", nil), column("public.t", "id", "integer", "1"), column("public.t", "label", "text", "2"), column("public.t", "old", "text", "3"))
	diffs, _ := Diff(src, dst, Scope{})
	rep := Statements(src, dst, diffs, DDLOptions{})
	got := sqlOf(rep.Statements)
	want := "alter: ALTER TABLE public.t RENAME COLUMN label TO title;\ndrop: ALTER TABLE public.t DROP COLUMN old;"
	if got != want {
		t.Fatalf("statements:\n%s\nwant:\n%s", got, want)
	}
	if len(rep.Renamed) != 1 || rep.Renamed[0] != (RenamedColumn{Schema: "public", Table: "t", From: "label", To: "title"}) {
		t.Fatalf("renamed = %+v", rep.Renamed)
	}

	// Two text columns at other positions: which was renamed is unknown,
	// so nothing is renamed (the missing one is added, the extras dropped).
	dst = schemaOf(table("public.t", nil), column("public.t", "id", "integer", "1"), column("public.t", "a", "text", "3"), column("public.t", "b", "text", "4"))
	diffs, _ = Diff(src, dst, Scope{})
	rep = Statements(src, dst, diffs, DDLOptions{})
	if len(rep.Renamed) != 0 || strings.Contains(sqlOf(rep.Statements), "RENAME") {
		t.Fatalf("ambiguous rename planned: %s", sqlOf(rep.Statements))
	}
}

func TestStatementsEnumValuesInPlace(t *testing.T) {
	enum := func(labels string) *Object {
		return &Object{Kind: "type", Name: "public.mood", Attributes: map[string]string{"kind": "enum", "labels": labels}}
	}
	src, dst := schemaOf(enum("'new', 'sad', 'mid', 'ok'")), schemaOf(enum("'sad', 'ok'"))
	diffs, _ := Diff(src, dst, Scope{})
	rep := Statements(src, dst, diffs, DDLOptions{})
	want := "before: ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'new' BEFORE 'sad';\nALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'mid' AFTER 'sad';"
	if got := sqlOf(rep.Statements); got != want {
		t.Fatalf("statements:\n%s\nwant:\n%s", got, want)
	}
	// A value only on the target cannot be dropped: reported, no DDL.
	src, dst = schemaOf(enum("'sad'")), schemaOf(enum("'sad', 'ok'"))
	diffs, _ = Diff(src, dst, Scope{})
	rep = Statements(src, dst, diffs, DDLOptions{})
	if len(rep.Statements) != 0 || len(rep.Unsupported) != 1 || !strings.Contains(rep.Unsupported[0], "'ok'") {
		t.Fatalf("statements %v, unsupported %v", rep.Statements, rep.Unsupported)
	}
}

func TestStatementsPartitionsFollowTheirParent(t *testing.T) {
	part := table("public.p1", map[string]string{"partition of": "public.p"})
	idx := func(name, tbl string) *Object {
		return &Object{Kind: "index", Name: name, Parent: tbl, Attributes: map[string]string{"definition": "CREATE INDEX ... " + tbl}}
	}
	chk := func(tbl string) *Object {
		return &Object{Kind: "constraint", Name: "c on " + tbl, Parent: tbl, Attributes: map[string]string{"definition": "CHECK ((v > 0))"}}
	}
	src := schemaOf(table("public.p", nil), part, column("public.p", "v", "bigint", "1"), column("public.p1", "v", "bigint", ""),
		idx("public.p_v", "public.p"), idx("public.p1_v", "public.p1"), chk("public.p"), chk("public.p1"))
	dst := schemaOf(table("public.p", nil), part, column("public.p", "v", "integer", "1"), column("public.p1", "v", "integer", ""))
	diffs, _ := Diff(src, dst, Scope{})
	rep := Statements(src, dst, diffs, DDLOptions{})
	got := sqlOf(rep.Statements)
	for _, want := range []string{"ALTER TABLE public.p ALTER COLUMN v TYPE bigint", "ALTER TABLE public.p ADD CONSTRAINT c CHECK", "CREATE INDEX ... public.p;"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "public.p1") {
		t.Errorf("a partition's copy of its parent's object changed on its own:\n%s", got)
	}
}

func TestStatementsOrder(t *testing.T) {
	fk := &Object{Kind: "constraint", Name: "fk on public.a", Parent: "public.a", Attributes: map[string]string{"definition": "FOREIGN KEY (b) REFERENCES public.b(id)"}}
	uq := &Object{Kind: "constraint", Name: "uq on public.b", Parent: "public.b", Attributes: map[string]string{"definition": "UNIQUE (id)"}}
	view := &Object{Kind: "view", Name: "public.v", Attributes: map[string]string{"definition": " SELECT 1;"}}
	src := schemaOf(table("public.a", nil), table("public.b", nil), fk, uq, view, &Object{Kind: "schema", Name: "s", Attributes: map[string]string{}})
	dst := schemaOf(table("public.a", nil), table("public.b", nil), column("public.a", "gone", "text", "1"),
		&Object{Kind: "type", Name: "public.old", Attributes: map[string]string{"kind": "enum", "labels": "'x'"}})
	diffs, _ := Diff(src, dst, Scope{})
	rep := Statements(src, dst, diffs, DDLOptions{NotValidForeignKeys: true})
	got := sqlOf(rep.Statements)
	want := strings.Join([]string{
		"before: CREATE SCHEMA IF NOT EXISTS s;",
		"alter: ALTER TABLE public.b ADD CONSTRAINT uq UNIQUE (id);",
		"alter: ALTER TABLE public.a ADD CONSTRAINT fk FOREIGN KEY (b) REFERENCES public.b(id) NOT VALID;",
		"alter: CREATE VIEW public.v AS SELECT 1;",
		"drop: ALTER TABLE public.a DROP COLUMN gone;",
		"drop: DROP TYPE public.old;",
	}, "\n")
	if got != want {
		t.Fatalf("statements:\n%s\nwant:\n%s", got, want)
	}
}

func TestStatementsLeaveDetachedPartitionsToTheDriftUpdate(t *testing.T) {
	// Detached on the source: its primary key is its own there, a clone
	// (not compared) on the target until the drift update detaches it.
	pk := &Object{Kind: "constraint", Name: "p1_pkey on public.p1", Parent: "public.p1", Attributes: map[string]string{"definition": "PRIMARY KEY (id)"}}
	src := schemaOf(table("public.p", nil), table("public.p1", nil), pk)
	dst := schemaOf(table("public.p", nil), table("public.p1", map[string]string{"partition of": "public.p"}))
	diffs, _ := Diff(src, dst, Scope{})
	if rep := Statements(src, dst, diffs, DDLOptions{}); len(rep.Statements) != 0 {
		t.Fatalf("statements for a partition being detached: %s", sqlOf(rep.Statements))
	}
}

func TestStatementsStreamingRenameDefaultWaitsForTheDropPhase(t *testing.T) {
	// label (default 'a') was renamed to title and title's default set to
	// 'untitled': streaming, title has no default until the drop phase, so
	// a row in the old shape with NULL label stays NULL on the target.
	withDefault := func(o *Object, def string) *Object { o.Attributes["default"] = def; return o }
	src := schemaOf(table("public.t", nil), column("public.t", "id", "integer", "1"), withDefault(column("public.t", "title", "text", "2"), "'untitled'::text"))
	dst := schemaOf(table("public.t", nil), column("public.t", "id", "integer", "1"), withDefault(column("public.t", "label", "text", "2"), "'a'::text"))
	diffs, _ := Diff(src, dst, Scope{})
	got := sqlOf(Statements(src, dst, diffs, DDLOptions{Streaming: true}).Statements)
	for _, want := range []string{
		"alter: ALTER TABLE public.t RENAME COLUMN label TO title;\nALTER TABLE public.t ALTER COLUMN title DROP DEFAULT;\nALTER TABLE public.t ADD COLUMN label text;",
		"drop: ALTER TABLE public.t ALTER COLUMN title SET DEFAULT 'untitled'::text;",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("statements:\n%s\nwant them to contain:\n%s", got, want)
		}
	}
	if strings.Contains(got, "alter: ALTER TABLE public.t ALTER COLUMN title SET DEFAULT") {
		t.Fatalf("default set before the drop phase:\n%s", got)
	}
	// The same default kept by the rename: dropped and set again.
	src = schemaOf(table("public.t", nil), column("public.t", "id", "integer", "1"), withDefault(column("public.t", "title", "text", "2"), "'a'::text"))
	diffs, _ = Diff(src, dst, Scope{})
	got = sqlOf(Statements(src, dst, diffs, DDLOptions{Streaming: true}).Statements)
	if !strings.Contains(got, "DROP DEFAULT") || !strings.Contains(got, "drop: ALTER TABLE public.t ALTER COLUMN title SET DEFAULT 'a'::text;") {
		t.Fatalf("statements:\n%s", got)
	}
	// Without a stream (xmin copies whole rows): the default is set at once.
	got = sqlOf(Statements(src, dst, diffs, DDLOptions{}).Statements)
	if got != "alter: ALTER TABLE public.t RENAME COLUMN label TO title;" {
		t.Fatalf("statements without a stream:\n%s", got)
	}

	// A later plan while the drop phase still waits (the old name and its
	// trigger are still on the target, title has no default): the default
	// still waits for the drop phase.
	helper := renameHelper("public.t", "label")
	dst = schemaOf(table("public.t", nil), column("public.t", "id", "integer", "1"), column("public.t", "title", "text", "2"), column("public.t", "label", "text", "3"),
		&Object{Kind: "trigger", Name: helper + " on public.t", Parent: "public.t", Attributes: map[string]string{"definition": "CREATE TRIGGER " + helper}})
	diffs, _ = Diff(src, dst, Scope{})
	got = sqlOf(Statements(src, dst, diffs, DDLOptions{Streaming: true}).Statements)
	if !strings.Contains(got, "drop: ALTER TABLE public.t ALTER COLUMN title SET DEFAULT 'a'::text;") || strings.Contains(got, "alter: ALTER TABLE public.t ALTER COLUMN title SET DEFAULT") {
		t.Fatalf("statements of the later plan:\n%s", got)
	}
}
