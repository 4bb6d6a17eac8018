package pgtool

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// dumpChildVar makes the test binary run pg_dump against the URL it
// holds and exit (see TestKilledDumpLeavesNoPassword).
const dumpChildVar = "PGTOOL_TEST_DUMP_URL"

func TestMain(m *testing.M) {
	if u := os.Getenv(dumpChildVar); u != "" {
		os.Exit(dumpChild(u))
	}
	os.Exit(pgtest.Main(m))
}

// dumpChild runs pg_dump --schema-only on url, discarding the output.
func dumpChild(url string) int {
	info, err := conninfo.ParseURL(url)
	if err == nil {
		err = Run(context.Background(), Command{Name: "pg_dump", Info: info, Args: []string{"--schema-only"}, Stdout: io.Discard})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
