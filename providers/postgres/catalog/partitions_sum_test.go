package catalog

import (
	"strings"
	"testing"
)

func TestSumPartitions(t *testing.T) {
	root := &Table{Schema: "public", Name: "payment", Kind: KindPartitioned, EstimatedRows: -1}
	mid := &Table{Schema: "public", Name: "p2022", Kind: KindPartitioned, EstimatedRows: -1, ParentSchema: "public", ParentName: "payment"}
	a := &Table{Schema: "public", Name: "p2022_01", Kind: KindTable, EstimatedRows: 10, Bytes: 100, ParentSchema: "public", ParentName: "p2022"}
	b := &Table{Schema: "public", Name: "p2022_02", Kind: KindTable, EstimatedRows: 5, Bytes: 50, ParentSchema: "public", ParentName: "p2022"}
	c := &Table{Schema: "public", Name: "p2021", Kind: KindTable, EstimatedRows: 1, Bytes: 8, ParentSchema: "public", ParentName: "payment"}
	sumPartitions([]*Table{root, mid, a, b, c})
	if root.EstimatedRows != 16 || root.Bytes != 158 || mid.EstimatedRows != 15 || mid.Bytes != 150 {
		t.Errorf("root %d/%d, mid %d/%d", root.EstimatedRows, root.Bytes, mid.EstimatedRows, mid.Bytes)
	}
	b.EstimatedRows = -1
	root.EstimatedRows, mid.EstimatedRows = 0, 0
	sumPartitions([]*Table{root, mid, a, b, c})
	if root.EstimatedRows != -1 || mid.EstimatedRows != -1 {
		t.Errorf("an unknown partition makes the sum unknown: root %d, mid %d", root.EstimatedRows, mid.EstimatedRows)
	}
}

func TestOrderMatviews(t *testing.T) {
	// b reads view v, which reads matview c; a reads nothing.
	rels := []viewRel{
		{oid: 1, kind: "m", mv: MaterializedView{Name: "a"}},
		{oid: 2, kind: "m", mv: MaterializedView{Name: "b"}, deps: []uint32{3, 99}},
		{oid: 3, kind: "v", deps: []uint32{4}},
		{oid: 4, kind: "m", mv: MaterializedView{Name: "c"}},
	}
	var got []string
	for _, m := range orderMatviews(rels) {
		got = append(got, m.Name)
	}
	if want := "a c b"; strings.Join(got, " ") != want {
		t.Errorf("order %v, want %s", got, want)
	}
}
