package schemadump

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func mustParse(t *testing.T, url string) conninfo.Info {
	t.Helper()
	info, err := conninfo.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
