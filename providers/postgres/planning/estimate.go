package planning

import (
	"time"

	"github.com/database-replicator/database-replicator/planner"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
)

// CopyRate is the rough copy speed, in bytes per second, that
// SnapshotEstimate assumes.
const CopyRate = 50 << 20

// DatabaseEstimate is what a snapshot copies into one database.
type DatabaseEstimate struct {
	// Database is the database name.
	Database string
	// Bytes is the planned size of the tables copied.
	Bytes int64
	// Time is Bytes at CopyRate, in whole seconds and at least one.
	Time time.Duration
}

// SnapshotEstimate sums, per database in plan order, the planned bytes of
// the tables p creates or replaces, and estimates the copy time.
func SnapshotEstimate(p *plans.Plan) []DatabaseEstimate {
	var out []DatabaseEstimate
	index := map[string]int{}
	for _, ch := range p.Changes {
		if ch.Addr.Kind != addrs.Table || ch.Action == plans.NoOp || ch.Action == plans.Delete {
			continue
		}
		db := planner.DatabaseOf(ch.Addr)
		if db == "" {
			continue
		}
		i, ok := index[db]
		if !ok {
			i = len(out)
			index[db] = i
			out = append(out, DatabaseEstimate{Database: db})
		}
		out[i].Bytes += CopyBytes(ch)
	}
	for i := range out {
		est := time.Duration(out[i].Bytes / CopyRate * int64(time.Second))
		out[i].Time = max(est, time.Second).Round(time.Second)
	}
	return out
}

// CopyBytes is the planned size of the table a change copies (0 for other
// kinds).
func CopyBytes(c *plans.Change) int64 {
	if t, ok := c.After.(*plans.TableAttrs); ok {
		return t.Bytes
	}
	return 0
}
