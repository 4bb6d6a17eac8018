package datacopy

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

func TestCopyLargeObjects(t *testing.T) {
	src, dst := pgtest.Start(t), pgtest.Start(t)

	t.Run("replaces objects and keeps oids", func(t *testing.T) {
		src.CreateDatabase(t, "lo")
		dst.CreateDatabase(t, "lo")
		src.Exec(t, "lo", "SELECT lo_from_bytea(424242, convert_to(repeat('large object ', 100000), 'UTF8'))")
		src.Exec(t, "lo", "SELECT lo_from_bytea(424243, '\\x00ff00'::bytea)")
		src.Exec(t, "lo", "SELECT lo_create(424244)") // empty
		dst.Exec(t, "lo", "SELECT lo_from_bytea(424243, 'stale'::bytea)")
		si, _ := conninfo.ParseURL(src.URL("lo"))
		di, _ := conninfo.ParseURL(dst.URL("lo"))
		n, err := CopyLargeObjects(context.Background(), si, di, "")
		if err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Fatalf("copied %d large objects, want 3", n)
		}
		for _, q := range []string{
			"SELECT count(*) FROM pg_largeobject_metadata",
			"SELECT length(lo_get(424242))",
			"SELECT get_byte(lo_get(424243), 1)",
			"SELECT length(lo_get(424243))",
			"SELECT length(lo_get(424244))",
		} {
			if s, d := src.QueryInt(t, "lo", q), dst.QueryInt(t, "lo", q); s != d {
				t.Errorf("%s: source %d, target %d", q, s, d)
			}
		}
	})

	// A 64 MiB object (plus a partial last chunk) must arrive byte for byte
	// while the process's heap never holds more than a few chunks of it: a
	// whole-object read would keep ≥ 64 MiB live during the write.
	t.Run("streams a large object in bounded memory", func(t *testing.T) {
		const chunks, tail = 64, 12345
		src.CreateDatabase(t, "lobig")
		dst.CreateDatabase(t, "lobig")
		src.Exec(t, "lobig", "SELECT lo_create(777)")
		// Every MiB differs (md5 of its index and offset), so a lost,
		// repeated or reordered chunk changes the checksum.
		src.Exec(t, "lobig", `SELECT lo_put(777, i * 1048576,
			(SELECT decode(string_agg(md5((i * 65536 + j)::text), ''), 'hex') FROM generate_series(0, 65535) j))
			FROM generate_series(0, $1 - 1) i`, chunks)
		src.Exec(t, "lobig", "SELECT lo_put(777, $1::bigint * 1048576, decode(repeat('ab', $2), 'hex'))", chunks, tail)
		si, _ := conninfo.ParseURL(src.URL("lobig"))
		di, _ := conninfo.ParseURL(dst.URL("lobig"))

		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base, peak := ms.HeapInuse, ms.HeapInuse
		stop, sampled := make(chan struct{}), sync.WaitGroup{}
		sampled.Add(1)
		go func() {
			defer sampled.Done()
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			var m runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					runtime.ReadMemStats(&m)
					peak = max(peak, m.HeapInuse)
				}
			}
		}()
		_, err := CopyLargeObjects(testCtx(t), si, di, "")
		close(stop)
		sampled.Wait()
		if err != nil {
			t.Fatal(err)
		}

		const size = chunks*1048576 + tail
		if got := dst.QueryInt(t, "lobig", "SELECT length(lo_get(777))"); got != size {
			t.Fatalf("target object is %d bytes, want %d", got, size)
		}
		if s, d := loMD5(t, src, "lobig", 777), loMD5(t, dst, "lobig", 777); s != d {
			t.Fatalf("md5 differs: source %s, target %s", s, d)
		}
		if grew, limit := peak-base, uint64(32<<20); grew > limit {
			t.Fatalf("heap grew by %d MiB while copying a %d MiB object (limit %d MiB): the object is not streamed",
				grew>>20, size>>20, limit>>20)
		}
		t.Logf("heap growth while copying %d MiB: %.1f MiB (chunk %d KiB)", size>>20, float64(peak-base)/(1<<20), largeObjectChunk>>10)
	})
}

func loMD5(t *testing.T, c *pgtest.Cluster, db string, oid uint32) string {
	t.Helper()
	conn := c.Connect(t, db)
	var sum string
	if err := conn.QueryRow(context.Background(), "SELECT md5(lo_get($1))", oid).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	return sum
}
