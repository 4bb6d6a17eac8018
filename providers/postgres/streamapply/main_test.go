package streamapply

import (
	"os"
	"testing"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
