package views

import (
	"bytes"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/planning"
)

func TestSnapshotSizes(t *testing.T) {
	var b bytes.Buffer
	err := SnapshotSizes(&b, []planning.DatabaseEstimate{
		{Database: "app", Bytes: 49152, Time: time.Second},
		{Database: "warehouse", Bytes: 12 << 30, Time: 246 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "\n" +
		"   DATABASE   SIZE  ESTIMATED TIME\n" +
		"        app  48 kB             ~1s\n" +
		"  warehouse  12 GB           ~4m6s\n"
	if b.String() != want {
		t.Fatalf("got:\n%q\nwant:\n%q", b.String(), want)
	}
}
