package schemadump

import (
	"bytes"
	"context"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/ddl"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// schemaSource has what naive schema copies break on: an enum, a domain,
// a function in a default, a trigger, identically named tables in two
// schemas, names with capitals, spaces, quotes, dots and non-ASCII
// letters, and a table outside the scope with a view over it and a
// foreign key of an in-scope table pointing at it.
const schemaSource = `
CREATE ROLE "App Owner" NOLOGIN;
CREATE SCHEMA s1;
CREATE SCHEMA "Odd ""Schema"".x" AUTHORIZATION "App Owner";
CREATE TYPE public.mood AS ENUM ('happy', 'sad');
CREATE DOMAIN public.posint AS int CHECK (VALUE > 0);
CREATE FUNCTION public.next_code() RETURNS text LANGUAGE sql AS $$ SELECT 'c' || (floor(random() * 1000))::text $$;
CREATE TABLE public.items (
    id serial PRIMARY KEY,
    code text DEFAULT public.next_code() NOT NULL,
    m public.mood DEFAULT 'happy',
    qty public.posint
);
CREATE TABLE s1.items (id int PRIMARY KEY, item_id int REFERENCES public.items (id), CHECK (id > 0));
CREATE TABLE "Odd ""Schema"".x"."Mixed Case Tab.é" (
    "Weird ""Col""" text,
    id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY
);
ALTER TABLE "Odd ""Schema"".x"."Mixed Case Tab.é" OWNER TO "App Owner";
CREATE INDEX "idx.with dot é" ON "Odd ""Schema"".x"."Mixed Case Tab.é" ("Weird ""Col""");
CREATE UNIQUE INDEX items_code ON public.items (code);
CREATE INDEX s1_items_item ON s1.items (item_id);
CREATE FUNCTION public.upper_code() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.code := upper(NEW.code); RETURN NEW; END$$;
CREATE TRIGGER items_upper BEFORE INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.upper_code();
COMMENT ON TABLE public.items IS 'in scope';
CREATE TABLE public.outside (id int PRIMARY KEY, note text);
CREATE INDEX outside_note ON public.outside (note);
COMMENT ON TABLE public.outside IS 'not copied';
CREATE TRIGGER outside_trg BEFORE INSERT ON public.outside FOR EACH ROW EXECUTE FUNCTION public.upper_code();
CREATE TABLE public.refs_outside (id int PRIMARY KEY, o int CONSTRAINT "to outside" REFERENCES public.outside (id), i int REFERENCES public.items (id));
CREATE VIEW public.outside_view AS SELECT * FROM public.outside;
CREATE VIEW public.items_view AS SELECT id, code FROM public.items;
CREATE TABLE s1."outside too" (id serial PRIMARY KEY);
CREATE TABLE public.shares_seq (id int DEFAULT nextval('s1."outside too_id_seq"'));
CREATE TABLE public.m (id int NOT NULL, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE public.m_2024 PARTITION OF public.m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY RANGE (at);
CREATE TABLE public.m_2024_h1 PARTITION OF public.m_2024 FOR VALUES FROM ('2024-01-01') TO ('2024-07-01');
CREATE INDEX m_at ON public.m (at);
`

var schemaScope = []QualifiedName{
	{"public", "items"}, {"s1", "items"}, {`Odd "Schema".x`, "Mixed Case Tab.é"}, {"public", "refs_outside"},
	{"public", "m"}, // and its partitions
	{"public", "shares_seq"},
}

// entryBodies renders a schema dump's kept entries (both sections)
// without their header comments (TOC ids and OIDs differ between
// servers), sorted.
func entryBodies(t *testing.T, ctx context.Context, info conninfo.Info, scope SchemaScope) []string {
	t.Helper()
	d, err := dumpSchema(ctx, info, scope)
	if err != nil {
		t.Fatalf("dumpSchema: %v", err)
	}
	var out []string
	for _, e := range d.entries {
		if !e.dropped {
			out = append(out, e.kind+": "+strings.TrimSpace(e.body()))
		}
	}
	sort.Strings(out)
	return out
}

func TestSchemaDumpAndApplySubset(t *testing.T) {
	src, dst := pgtest.Start(t), pgtest.Start(t)
	ctx := testCtx(t)
	src.CreateDatabase(t, "shop")
	src.Exec(t, "shop", schemaSource)
	dst.Exec(t, "postgres", `CREATE ROLE "App Owner" NOLOGIN`) // globals come first
	srcInfo := mustParse(t, src.URL("shop"))
	if err := ddl.CreateDatabase(ctx, mustParse(t, dst.URL("postgres")), "shop", "UTF8", "", ""); err != nil {
		t.Fatal(err)
	}
	dstInfo := mustParse(t, dst.URL("shop"))

	var warnings []string
	scope := SchemaScope{Tables: schemaScope, Warn: func(m string) { warnings = append(warnings, m) }}
	var pre bytes.Buffer
	if err := DumpSchema(ctx, srcInfo, SectionPreData, scope, &pre); err != nil {
		t.Fatalf("DumpSchema pre-data: %v", err)
	}
	for _, bad := range []string{"CREATE TABLE public.outside", "outside_view", `CREATE TABLE s1."outside too"`, "CREATE INDEX", "ADD CONSTRAINT"} {
		if strings.Contains(pre.String(), bad) {
			t.Errorf("pre-data holds %q", bad)
		}
	}
	if err := ApplySQL(ctx, dstInfo, bytes.NewReader(pre.Bytes())); err != nil {
		t.Fatalf("ApplySQL pre-data: %v", err)
	}
	items, err := DumpPostData(ctx, srcInfo, scope)
	if err != nil {
		t.Fatalf("DumpPostData: %v", err)
	}
	kinds := map[string]int{}
	for _, it := range items {
		kinds[it.Kind]++
		if strings.Contains(it.SQL, "outside_note") || strings.Contains(it.SQL, "outside_trg") || strings.Contains(it.SQL, `"to outside"`) {
			t.Errorf("post-data item of an out-of-scope table: %s", it.SQL)
		}
	}
	if kinds["INDEX"] != 6 || kinds["FK CONSTRAINT"] != 2 || kinds["TRIGGER"] != 1 || kinds["CONSTRAINT"] != 7 || kinds["INDEX ATTACH"] != 4 {
		t.Errorf("post-data kinds = %v", kinds)
	}
	// Indexes and constraints know their table (so that apply can build
	// them as soon as the table is copied); foreign keys wait.
	for _, it := range items {
		switch it.Kind {
		case "INDEX", "CONSTRAINT":
			if !it.BuildsWithTable() {
				t.Errorf("%s %q has no table", it.Kind, it.Name)
			}
			if it.Kind == "CONSTRAINT" && !strings.HasPrefix(it.Name, it.Table.Name+" ") {
				t.Errorf("constraint %q is given table %s", it.Name, it.Table)
			}
		case "FK CONSTRAINT":
			if it.BuildsWithTable() {
				t.Errorf("foreign key %q would be built with its table", it.Name)
			}
		}
	}
	// The indexes and constraints built with their tables first, on one
	// connection as apply does after each copy, twice (a rerun
	// converges); ApplyPostData then finds them built. The schema
	// comparison below checks what they built.
	var withTable []PostDataItem
	for _, it := range items {
		if it.BuildsWithTable() {
			withTable = append(withTable, it)
		}
	}
	conn, err := conninfo.Connect(ctx, dstInfo)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := ApplyPostDataOn(ctx, conn, withTable); err != nil {
			t.Fatalf("ApplyPostDataOn: %v", err)
		}
	}
	var built int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')").Scan(&built); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if built == 0 {
		t.Fatalf("ApplyPostDataOn built no index")
	}
	if err := ApplyPostData(ctx, dstInfo, items, 2); err != nil {
		t.Fatalf("ApplyPostData: %v", err)
	}
	// A rerun (after a crash) converges.
	if err := ApplyPostData(ctx, dstInfo, items, 2); err != nil {
		t.Fatalf("ApplyPostData again: %v", err)
	}

	all := strings.Join(warnings, "\n")
	for _, want := range []string{`leaving out foreign key "to outside" of public.refs_outside: it references public.outside`, `leaving out VIEW "public"."outside_view": it depends on TABLE "public"."outside"`} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "outside_note") || strings.Contains(all, "COMMENT") {
		t.Errorf("noisy warnings for parts of out-of-scope tables:\n%s", all)
	}

	// The target's whole schema equals the source's in-scope schema.
	want := entryBodies(t, ctx, srcInfo, SchemaScope{Tables: schemaScope})
	got := entryBodies(t, ctx, dstInfo, SchemaScope{})
	if len(want) < 20 {
		t.Errorf("only %d entries in scope:\n%s", len(want), strings.Join(want, "\n"))
	}
	t.Logf("%d entries compared; warnings:\n%s", len(want), strings.Join(warnings, "\n"))
	if strings.Join(got, "\n----\n") != strings.Join(want, "\n----\n") {
		t.Errorf("target schema differs from the source's in-scope schema:\ngot:\n%s\n\nwant:\n%s",
			strings.Join(got, "\n----\n"), strings.Join(want, "\n----\n"))
	}

	// It works: defaults, enum, domain, trigger, identity.
	dst.Exec(t, "shop", `INSERT INTO public.items (qty) VALUES (3);
		INSERT INTO public.m VALUES (1, '2024-02-01');
		INSERT INTO "Odd ""Schema"".x"."Mixed Case Tab.é" ("Weird ""Col""") VALUES ('x')`)
	if n := dst.QueryInt(t, "shop", `SELECT count(*) FROM public.items WHERE code = upper(code) AND code LIKE 'C%' AND m = 'happy'`); n != 1 {
		t.Error("default/trigger/enum did not work on the target")
	}
	if n := dst.QueryInt(t, "shop", `SELECT count(*) FROM pg_tables WHERE tablename IN ('outside', 'outside too')`); n != 0 {
		t.Error("out-of-scope tables exist on the target")
	}
	if n := dst.QueryInt(t, "shop", `SELECT count(*) FROM pg_tables WHERE tableowner = 'App Owner'`); n != 1 {
		t.Error("owner not kept")
	}
}

func TestSchemaWholeDatabase(t *testing.T) {
	src, dst := pgtest.Start(t), pgtest.Start(t)
	ctx := testCtx(t)
	src.CreateDatabase(t, "shop")
	src.Exec(t, "shop", schemaSource)
	dst.Exec(t, "postgres", `CREATE ROLE "App Owner" NOLOGIN`)
	dst.CreateDatabase(t, "shop")
	srcInfo, dstInfo := mustParse(t, src.URL("shop")), mustParse(t, dst.URL("shop"))
	// Password files go to os.TempDir(): watch that they are all removed.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	defer func() {
		if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
			t.Errorf("files left in the temporary directory: %v", left)
		}
	}()
	var pre, post bytes.Buffer
	if err := DumpSchema(ctx, srcInfo, SectionPreData, SchemaScope{}, &pre); err != nil {
		t.Fatal(err)
	}
	if err := DumpSchema(ctx, srcInfo, SectionPostData, SchemaScope{}, &post); err != nil {
		t.Fatal(err)
	}
	if err := ApplySQL(ctx, dstInfo, &pre); err != nil {
		t.Fatalf("pre-data: %v", err)
	}
	if err := ApplySQL(ctx, dstInfo, &post); err != nil {
		t.Fatalf("post-data: %v", err)
	}
	want := entryBodies(t, ctx, srcInfo, SchemaScope{})
	got := entryBodies(t, ctx, dstInfo, SchemaScope{})
	if strings.Join(got, "\n----\n") != strings.Join(want, "\n----\n") {
		t.Errorf("target schema differs:\ngot:\n%s\n\nwant:\n%s", strings.Join(got, "\n----\n"), strings.Join(want, "\n----\n"))
	}
	// A bad script fails as a whole (single transaction) with the error.
	err := ApplySQL(ctx, dstInfo, strings.NewReader("CREATE TABLE zz (id int);\nSELECT * FROM no_such_table;\n"))
	if err == nil || !strings.Contains(err.Error(), "no_such_table") {
		t.Fatalf("err = %v", err)
	}
	if n := dst.QueryInt(t, "shop", `SELECT count(*) FROM pg_tables WHERE tablename = 'zz'`); n != 0 {
		t.Error("a failed script left changes")
	}
}

func TestSchemaScopeUnknownTable(t *testing.T) {
	src := pgtest.Start(t)
	ctx := context.Background()
	src.CreateDatabase(t, "shop")
	err := DumpSchema(ctx, mustParse(t, src.URL("shop")), SectionPreData,
		SchemaScope{Tables: []QualifiedName{{"public", "nope"}}}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `"public"."nope"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestSchemaPostDataRunsInParallel(t *testing.T) {
	var mu sync.Mutex
	cur, peak := 0, 0
	items := make([]PostDataItem, 8)
	for i := range items {
		items[i] = PostDataItem{ID: i, Kind: "INDEX", Name: strconv.Itoa(i)}
	}
	errs := runParallel(context.Background(), items, 2, func(PostDataItem) error {
		mu.Lock()
		cur++
		peak = max(peak, cur)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		cur--
		mu.Unlock()
		return nil
	})
	if len(errs) != 0 || peak != 2 {
		t.Errorf("peak concurrency %d (want 2), errors %v", peak, errs)
	}
	ranks := []int{postDataRank("INDEX"), postDataRank("CONSTRAINT"), postDataRank("INDEX ATTACH"), postDataRank("FK CONSTRAINT"), postDataRank(fkValidate), postDataRank("TRIGGER"), postDataRank("COMMENT")}
	if !sort.IntsAreSorted(ranks) {
		t.Errorf("group order %v", ranks)
	}
}

func TestSchemaParseRenderedDump(t *testing.T) {
	const rendered = "--\n-- PostgreSQL database dump\n--\n\n\\restrict K\n\nSET x = 1;\n\n" +
		"--\n-- TOC entry 216 (class 1259 OID 16391)\n-- Dependencies: 842\n-- Name: Mixed; Tab; Type: TABLE; Schema: public; Owner: o\n-- Data Pos: 0\n--\n\nCREATE TABLE t ();\n\n" +
		"SET default_tablespace = '';\n\n" +
		"--\n-- TOC entry 3372 (class 0 OID 0)\n-- Dependencies: 216\n-- Name: TABLE o; Type: COMMENT; Schema: public; Owner: o\n--\n\nCOMMENT ON TABLE t IS '-- TOC entry';\n\n" +
		"-- Completed on 2026\n\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict K\n"
	d, err := parseRenderedDump(rendered)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.entries) != 2 {
		t.Fatalf("%d entries", len(d.entries))
	}
	e := d.entries[0]
	if e.id != 216 || e.class != 1259 || e.oid != 16391 || e.kind != "TABLE" || e.name != "Mixed; Tab" || e.schema != "public" || len(e.deps) != 1 || e.deps[0] != 842 {
		t.Errorf("entry = %+v", e)
	}
	if !strings.Contains(d.trailer, `\unrestrict K`) || !strings.Contains(d.preamble, `\restrict K`) {
		t.Errorf("preamble %q trailer %q", d.preamble, d.trailer)
	}
	if got := e.keepLines(); got != "SET default_tablespace = '';\n" {
		t.Errorf("keepLines = %q", got)
	}
	w, err := d.filter(map[objKey]string{{1259, 16391}: ""})
	if err != nil || !d.entries[1].dropped || len(w) != 0 {
		t.Errorf("comment of a dropped table: dropped %v, warnings %v", d.entries[1].dropped, w)
	}
}

func TestSchemaFilterRefusesToDropAnInScopeTable(t *testing.T) {
	d := &schemaDump{entries: []*tocEntry{
		{id: 1, class: pgClassOID, oid: 100, kind: "TABLE", name: "outside", schema: "public"},
		{id: 2, class: pgClassOID, oid: 200, kind: "TABLE", name: "uses row type", schema: "public", deps: []int{1}},
	}}
	_, err := d.filter(map[objKey]string{{pgClassOID, 100}: ""})
	if err == nil || !strings.Contains(err.Error(), `"public"."uses row type"`) {
		t.Fatalf("err = %v", err)
	}
}
