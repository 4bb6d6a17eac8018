package datacopy

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

const sequenceSchema = `
CREATE SCHEMA "Seq ""Schema""";
CREATE TABLE public.t (id serial PRIMARY KEY, x int GENERATED ALWAYS AS IDENTITY);
CREATE SEQUENCE "Seq ""Schema"""."Mixed.Seq é" START 5;
CREATE SEQUENCE public.fresh;
`

func TestSequenceSync(t *testing.T) {
	src, dst := pgtest.Start(t), pgtest.Start(t)
	ctx := testCtx(t)
	src.CreateDatabase(t, "app")
	dst.CreateDatabase(t, "app")
	src.Exec(t, "app", sequenceSchema)
	dst.Exec(t, "app", sequenceSchema)
	src.Exec(t, "app", `INSERT INTO public.t DEFAULT VALUES; INSERT INTO public.t DEFAULT VALUES;
		SELECT setval('public.t_id_seq', 41);
		SELECT setval('"Seq ""Schema"""."Mixed.Seq é"', 70, false);`)
	srcInfo, dstInfo := mustParse(t, src.URL("app")), mustParse(t, dst.URL("app"))

	server, err := catalog.Introspect(ctx, srcInfo, []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	seqs := server.Database("app").Sequences
	if len(seqs) != 4 {
		t.Fatalf("introspected %d sequences, want 4", len(seqs))
	}
	// The values move on after the introspection: the sync reads them anew.
	src.Exec(t, "app", `SELECT nextval('public.t_id_seq')`) // 42
	n, err := SyncSequences(ctx, srcInfo, dstInfo, seqs)
	if err != nil {
		t.Fatalf("SyncSequences: %v", err)
	}
	if n != 4 {
		t.Errorf("synced %d, want 4", n)
	}
	if got := dst.QueryInt(t, "app", `SELECT nextval('public.t_id_seq')`); got != 43 {
		t.Errorf("target nextval(t_id_seq) = %d, want 43", got)
	}
	if got := dst.QueryInt(t, "app", `SELECT nextval('"Seq ""Schema"""."Mixed.Seq é"')`); got != 70 {
		t.Errorf("target nextval(Mixed.Seq) = %d, want 70 (is_called false)", got)
	}
	if got := dst.QueryInt(t, "app", `SELECT nextval('public.t_x_seq')`); got != 3 {
		t.Errorf("target nextval(identity) = %d, want 3", got)
	}
	if got := dst.QueryInt(t, "app", `SELECT nextval('public.fresh')`); got != 1 {
		t.Errorf("target nextval(fresh) = %d, want 1", got)
	}

	// nil: every readable sequence.
	vals, err := ReadSequenceValues(ctx, srcInfo, nil)
	if err != nil || len(vals) != 4 {
		t.Fatalf("ReadSequenceValues(nil) = %v, %v", vals, err)
	}

	// A sequence missing on the target fails the sync, naming it, and
	// changes nothing.
	dst.Exec(t, "app", `DROP SEQUENCE public.fresh; SELECT setval('public.t_id_seq', 1)`)
	_, err = SyncSequences(ctx, srcInfo, dstInfo, nil)
	if err == nil || !strings.Contains(err.Error(), `"public"."fresh"`) {
		t.Fatalf("err = %v, want one naming public.fresh", err)
	}
	if got := dst.QueryInt(t, "app", `SELECT last_value FROM public.t_id_seq`); got != 1 {
		t.Errorf("a failed sync changed the target: last_value %d", got)
	}
}
