package catalog

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

func TestFoldPartitions(t *testing.T) {
	leaf := func(name, filter string, leaves int) listedTable {
		return listedTable{table: PublicationTable{Schema: "public", Name: name, RowFilter: filter}, rootSchema: "public", rootName: "m", rootLeaves: leaves}
	}
	plain := listedTable{table: PublicationTable{Schema: "public", Name: "plain"}}
	got := foldPartitions([]listedTable{leaf("m_1", "(id > 1)", 2), plain, leaf("m_2", "(id > 1)", 2)})
	want := []PublicationTable{{Schema: "public", Name: "m", RowFilter: "(id > 1)"}, {Schema: "public", Name: "plain"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("every leaf published (-want +got):\n%s", d)
	}
	// One leaf of three: the partitions stay as listed.
	got = foldPartitions([]listedTable{leaf("m_1", "", 3), plain})
	want = []PublicationTable{{Schema: "public", Name: "m_1"}, {Schema: "public", Name: "plain"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("partially published (-want +got):\n%s", d)
	}
}

// TestPublishedPartitionedTable pins what the catalog reports for a
// publication of a partitioned table on the oldest supported version
// (12: only its leaves can be published) and on the default one (the
// partitioned table is published; pg_publication_tables lists its
// leaves): the partitioned table, as the replication asked for it.
func TestPublishedPartitionedTable(t *testing.T) {
	for _, tc := range []struct {
		major   int
		publish string
	}{
		{12, "CREATE PUBLICATION p FOR TABLE public.m_2023, public.m_2024, public.plain"},
		{0, "CREATE PUBLICATION p FOR TABLE public.m, public.plain"},
	} {
		t.Run(fmt.Sprint(tc.major), func(t *testing.T) {
			var opts []pgtest.Option
			if tc.major != 0 {
				opts = append(opts, pgtest.Major(tc.major))
			}
			c := pgtest.Start(t, opts...)
			c.CreateDatabase(t, "app")
			c.Exec(t, "app", `CREATE TABLE m (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
				CREATE TABLE m_2023 PARTITION OF m FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
				CREATE TABLE m_2024 PARTITION OF m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
				CREATE TABLE plain (id int PRIMARY KEY);
				CREATE TABLE lonely (id int, at date) PARTITION BY RANGE (at);
				CREATE TABLE lonely_a PARTITION OF lonely FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
				CREATE TABLE lonely_b PARTITION OF lonely FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`)
			c.Exec(t, "app", tc.publish+", public.lonely_a")
			s := introspect(t, c.URL("app"), []string{"app"})
			pubs := s.Databases[0].Publications
			if len(pubs) != 1 {
				t.Fatalf("publications: %+v", pubs)
			}
			var got []string
			for _, pt := range pubs[0].Tables {
				got = append(got, pt.Schema+"."+pt.Name)
			}
			want := []string{"public.lonely_a", "public.m", "public.plain"}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("published tables (-want +got):\n%s", d)
			}
		})
	}
}
