package xminsync

import (
	"errors"
	"fmt"
	"sync"
)

// Carryover lets the cycles of one database overlap, so that a slow table
// does not hold back the others: a cycle given Options.WaitAtMost returns
// after that long, and the tables it started that are still running go on
// in the background, each in the cycle's snapshot and on the cycle's
// connections, until done. The next cycles take a new snapshot for every
// other table and leave those out until they finish; their results and
// first error are reported by the first cycle after that.
//
// Why nothing is lost or applied twice: a table is never synced by two
// cycles at once (a running table is left out), so each table's batches
// and cursor moves happen in order, exactly as when cycles do not
// overlap. A table only waits longer for its next read; its cursor stays
// where its last finished read left it. Tables are then read in different
// snapshots, as they already are when one is unchanged (ChangeTracker) or
// a cycle stops part way.
//
// A Carryover is safe for concurrent use; Wait before the process exits.
type Carryover struct {
	mu      sync.Mutex
	running map[string]bool
	// deferred are the tables a cycle returned before starting: the next
	// cycle starts them first, so every table is read within a few cycles.
	deferred map[string]bool
	done     []TableResult
	err      error
	wg       sync.WaitGroup
}

// NewCarryover returns a carryover with no table running.
func NewCarryover() *Carryover {
	return &Carryover{running: map[string]bool{}, deferred: map[string]bool{}}
}

// Wait waits until every table a cycle left running has finished.
func (c *Carryover) Wait() { c.wg.Wait() }

// take returns, and forgets, the results of the tables that finished in
// the background since the last call, and the first error among them.
func (c *Carryover) take() ([]TableResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	done, err := c.done, c.err
	c.done, c.err = nil, nil
	return done, err
}

// start marks the tables not already running as running and returns
// them, the deferred ones first, with the number left out.
func (c *Carryover) start(tables []Table) (todo []Table, running int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var later []Table
	for _, t := range tables {
		switch {
		case c.running[t.Key]:
			running++
		case c.deferred[t.Key]:
			todo = append(todo, t)
		default:
			later = append(later, t)
		}
	}
	todo = append(todo, later...)
	clear(c.deferred)
	for _, t := range todo {
		c.running[t.Key] = true
	}
	return todo, running
}

// postpone frees the tables a cycle returned before starting, to be
// started first by the next cycle.
func (c *Carryover) postpone(tables []Table) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range tables {
		delete(c.running, t.Key)
		c.deferred[t.Key] = true
	}
}

// release marks tables as no longer running.
func (c *Carryover) release(tables []Table) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range tables {
		delete(c.running, t.Key)
	}
}

// finished records a table that finished in the background and releases
// it. An ErrStopped is not kept: the loop is stopping anyway.
func (c *Carryover) finished(key string, res TableResult, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.running, key)
	res.Earlier = true
	c.done = append(c.done, res)
	if err != nil && !errors.Is(err, ErrStopped) && c.err == nil {
		c.err = fmt.Errorf("xmin sync %s (left running by an earlier cycle): %w", key, err)
	}
}
