package xminsync

import (
	"fmt"
	"testing"
)

// A table still running is left out; tables a cycle returned before
// starting go first in the next cycle, so none waits behind the others
// cycle after cycle.
func TestCarryoverOrder(t *testing.T) {
	tables := []Table{{Key: "a"}, {Key: "b"}, {Key: "c"}, {Key: "d"}}
	keys := func(ts []Table) string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Key)
		}
		return fmt.Sprint(out)
	}
	c := NewCarryover()
	todo, running := c.start(tables)
	if keys(todo) != "[a b c d]" || running != 0 {
		t.Fatalf("first start %s, %d running", keys(todo), running)
	}
	// a is left running, b finished, c and d were never started
	c.release(tables[1:2])
	c.postpone(tables[2:])
	todo, running = c.start(tables)
	if keys(todo) != "[c d b]" || running != 1 {
		t.Fatalf("second start %s, %d running; want the postponed c and d first, a left out", keys(todo), running)
	}
	c.finished("a", TableResult{Table: "a"}, nil)
	c.release(todo)
	todo, _ = c.start(tables)
	if keys(todo) != "[a b c d]" {
		t.Fatalf("third start %s, want the table order again", keys(todo))
	}
	done, err := c.take()
	if len(done) != 1 || !done[0].Earlier || err != nil {
		t.Fatalf("take: %+v, %v; want a's result marked earlier", done, err)
	}
}
