package actions

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
)

// buildMemory shares maintenance_work_mem among the index builds of one
// replication's target that run right after their table's copy. The
// server's own setting is what it allows one maintenance session; apply
// runs up to index_jobs such sessions, so their builds share a budget of
// index_jobs times the setting: a big table's primary key built while
// nothing else is being built gets all of it (its sort stays in memory
// instead of spilling to temporary files), builds running side by side
// split it. A build never gets less than the server's setting, and tables
// smaller than the setting keep it without a round trip (their sorts fit).
type buildMemory struct {
	mu      sync.Mutex
	base    int64 // the server's maintenance_work_mem in bytes; 0: not read yet
	running int   // builds holding a grant
	granted int64 // bytes granted to them
}

// grantFor returns the maintenance_work_mem in bytes for one build of a
// table of tableBytes and the function that returns it to the budget; 0
// (and a no-op) when the session keeps the server's setting (tableBytes 0:
// nothing to build). base is read from conn once per replication.
func (m *buildMemory) grantFor(ctx context.Context, conn *pgx.Conn, tableBytes int64, jobs int) (int64, func(), error) {
	if tableBytes == 0 || jobs < 2 {
		return 0, func() {}, nil
	}
	m.mu.Lock()
	base := m.base
	m.mu.Unlock()
	if base == 0 {
		if err := conn.QueryRow(ctx, "SELECT pg_catalog.pg_size_bytes(pg_catalog.current_setting('maintenance_work_mem'))").Scan(&base); err != nil {
			return 0, nil, fmt.Errorf("read maintenance_work_mem: %w", err)
		}
		m.mu.Lock()
		m.base = base
		m.mu.Unlock()
	}
	if tableBytes <= base {
		return 0, func() {}, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	grant := shareOf(base, jobs, m.running, m.granted)
	if grant <= base {
		return 0, func() {}, nil
	}
	m.running++
	m.granted += grant
	return grant, func() {
		m.mu.Lock()
		m.running--
		m.granted -= grant
		m.mu.Unlock()
	}, nil
}

// shareOf is the grant of a build that starts while running others hold
// granted bytes of a budget of jobs × base: an equal share of the budget
// among them all, no more than what is left of it, and never less than
// base.
func shareOf(base int64, jobs, running int, granted int64) int64 {
	budget := base * int64(jobs)
	share := min(budget/int64(running+1), budget-granted)
	return max(share, base)
}

// withBuildMemory runs build on conn with the maintenance_work_mem granted
// for a table of tableBytes (see buildMemory), then resets the setting.
func (p *Provider) withBuildMemory(ctx context.Context, replication string, conn *pgx.Conn, tableBytes int64, jobs int, build func() error) error {
	p.mu.Lock()
	if p.buildMem == nil {
		p.buildMem = map[string]*buildMemory{}
	}
	m := p.buildMem[replication]
	if m == nil {
		m = &buildMemory{}
		p.buildMem[replication] = m
	}
	p.mu.Unlock()
	grant, release, err := m.grantFor(ctx, conn, tableBytes, jobs)
	if err != nil {
		return err
	}
	defer release()
	if grant == 0 {
		return build()
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("SET maintenance_work_mem = '%dkB'", grant/1024)); err != nil {
		return fmt.Errorf("set maintenance_work_mem for the index builds: %w", err)
	}
	if err := build(); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "RESET maintenance_work_mem"); err != nil {
		return fmt.Errorf("reset maintenance_work_mem after the index builds: %w", err)
	}
	return nil
}
