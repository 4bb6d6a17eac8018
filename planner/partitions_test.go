package planner

import (
	"testing"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

func partition(name, parent string, kind string) *catalog.Table {
	return &catalog.Table{Schema: "public", Name: name, Kind: kind, Parent: "public." + parent, ParentSchema: "public", ParentName: parent}
}

// pagila's monthly script on the source: a new month (itself partitioned
// by day here), one month detached for archiving, one dropped.
func TestPlanPartitions(t *testing.T) {
	root := &catalog.Table{Schema: "public", Name: "payment", Kind: catalog.KindPartitioned}
	src := &catalog.Database{Name: "pagila", Tables: []*catalog.Table{
		root,
		partition("payment_p2022_01", "payment", catalog.KindTable),
		partition("payment_p2022_08", "payment", catalog.KindPartitioned),
		partition("payment_p2022_08_01", "payment_p2022_08", catalog.KindTable),
		{Schema: "public", Name: "payment_p2022_02", Kind: catalog.KindTable}, // detached
	}}
	dst := &catalog.Database{Name: "pagila", Tables: []*catalog.Table{
		{Schema: "public", Name: "payment", Kind: catalog.KindPartitioned},
		partition("payment_p2022_01", "payment", catalog.KindTable),
		partition("payment_p2022_02", "payment", catalog.KindTable),
		partition("payment_p2021_12", "payment", catalog.KindTable), // dropped
	}}
	ds := &DatabaseScope{Name: "pagila", Source: src, Tables: []*TableScope{
		{Ref: lang.TableRef{Database: "pagila", Schema: "public", Table: "payment"}, Source: root},
	}}
	b := &builder{r: &lang.Replication{}}
	d := b.planPartitions(ds, dst, nil)
	ref := func(n string) string { return "pagila.public." + n }
	if got := refStrings(d.Create); len(got) != 2 || got[0] != ref("payment_p2022_08") || got[1] != ref("payment_p2022_08_01") {
		t.Errorf("create %v: the parent first", got)
	}
	if got := refStrings(d.Detach); len(got) != 1 || got[0] != ref("payment_p2022_02") {
		t.Errorf("detach %v", got)
	}
	if got := refStrings(d.Drop); len(got) != 1 || got[0] != ref("payment_p2021_12") {
		t.Errorf("drop %v", got)
	}
	// Detached into a table in scope: dropped and created again as it.
	detached := src.Table("public", "payment_p2022_02")
	ds.Tables = append(ds.Tables, &TableScope{Ref: lang.TableRef{Database: "pagila", Schema: "public", Table: "payment_p2022_02"}, Source: detached})
	d = b.planPartitions(ds, dst, nil)
	if got := refStrings(d.Recreate); len(got) != 1 || got[0] != ref("payment_p2022_02") || len(d.Detach) != 0 || len(d.Drop) != 2 {
		t.Errorf("recreate %v, detach %v, drop %v", got, refStrings(d.Detach), refStrings(d.Drop))
	}
	if got := d.describe(); got != "2 partition(s) created on the source (pagila.public.payment_p2022_08, pagila.public.payment_p2022_08_01) and 1 partition(s) detached on the source (pagila.public.payment_p2022_02) and 1 partition(s) dropped on the source (pagila.public.payment_p2021_12)" {
		t.Errorf("describe = %s", got)
	}
	ds.Tables = ds.Tables[:1]
	// A partitioned table the drift creates whole brings its partitions.
	if d := b.planPartitions(ds, dst, map[lang.TableRef]bool{ds.Tables[0].Ref: true}); !d.empty() {
		t.Errorf("partitions of a table created whole: %+v", d)
	}
}

// A partition detached on both sides (the DDL capture replays DETACH
// PARTITION) is a top-level table the subscription still lists but the
// publication no longer carries: copied again by the table sync.
func TestDetachedOnBothSidesLeftThePublication(t *testing.T) {
	detached := &catalog.Table{Schema: "public", Name: "payment_p2022_02", Kind: catalog.KindTable}
	src := &catalog.Database{Name: "pagila", Tables: []*catalog.Table{detached},
		Publications: []*catalog.Publication{{Name: "pub", Tables: []catalog.PublicationTable{{Schema: "public", Name: "payment"}}}}}
	dst := &catalog.Database{Name: "pagila", Tables: []*catalog.Table{{Schema: "public", Name: "payment_p2022_02", Kind: catalog.KindTable}}}
	sub := &catalog.Subscription{Name: "sub", Tables: []catalog.SubscriptionTable{{Schema: "public", Name: "payment_p2022_02", State: catalog.SubStateReady}}}
	ts := &TableScope{Ref: lang.TableRef{Database: "pagila", Schema: "public", Table: "payment_p2022_02"}, Source: detached}
	ds := &DatabaseScope{Name: "pagila", Source: src, Tables: []*TableScope{ts}}
	b := &builder{r: &lang.Replication{Name: "main", Sync: lang.Sync{Publication: "pub"}}}
	if !b.leftThePublication(ds, dst, sub, ts) {
		t.Error("a subscribed table the publication does not carry is not copied again")
	}
	src.Publications[0].Tables = append(src.Publications[0].Tables, catalog.PublicationTable{Schema: "public", Name: "payment_p2022_02"})
	if b.leftThePublication(ds, dst, sub, ts) {
		t.Error("a published table is copied again")
	}
	src.Publications[0].Tables = src.Publications[0].Tables[:1]
	sub.Tables = nil
	if b.leftThePublication(ds, dst, sub, ts) {
		t.Error("a table the subscription does not list is left to the table sync's refresh, not copied again here")
	}
	sub.Tables = []catalog.SubscriptionTable{{Schema: "public", Name: "payment_p2022_02", State: catalog.SubStateReady}}
	dst.Tables[0].Parent, dst.Tables[0].ParentSchema, dst.Tables[0].ParentName = "public.payment", "public", "payment"
	if b.leftThePublication(ds, dst, sub, ts) {
		t.Error("still a partition on the target: the schema drift detaches it (and recreates it)")
	}
}
