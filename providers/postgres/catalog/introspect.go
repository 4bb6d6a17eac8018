package catalog

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// introspectParallel bounds how many databases are read at once.
const introspectParallel = 4

// Introspect reads everything the planner needs from one server. dbs
// limits per-database detail to these databases (nil = every non-template
// database that allows connections); names in dbs that do not exist or do
// not allow connections are skipped, so the caller can report them.
//
// Server-level facts come from one connection to info's database (or
// "postgres" when neither the string nor PGDATABASE names one). Each introspected database is then
// read over its own connection, a few at a time, with a fixed handful of
// catalog queries per database whatever the number of tables, inside one
// REPEATABLE READ READ ONLY transaction.
func Introspect(ctx context.Context, info conninfo.Info, dbs []string) (*Server, error) {
	in := introspector{connect: conninfo.Connect, parallel: introspectParallel}
	return in.run(ctx, info, dbs)
}

// introspector holds what a test may replace: how connections are opened.
type introspector struct {
	connect  func(context.Context, conninfo.Info) (*pgx.Conn, error)
	parallel int
}

// run introspects the server, then the chosen databases concurrently.
func (in introspector) run(ctx context.Context, info conninfo.Info, dbs []string) (*Server, error) {
	first := info
	if _, written := info.Setting("dbname"); !written && os.Getenv("PGDATABASE") == "" {
		// libpq would default to the user name, which is rarely a
		// database on a server that is being replicated.
		first = info.WithDatabase("postgres")
	}
	s, err := in.server(ctx, first, dbs)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, name := range dbs {
		want[name] = true
	}
	var todo []*Database
	for _, d := range s.Databases {
		if !d.AllowConn {
			continue
		}
		if (dbs == nil && !d.IsTemplate) || want[d.Name] {
			todo = append(todo, d)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(in.parallel, 1))
	for _, d := range todo {
		g.Go(func() error { return in.database(gctx, info.WithDatabase(d.Name), s, d) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return s, nil
}

// server reads the server-level facts: settings, privileges, the list of
// databases and the replication slots.
func (in introspector) server(ctx context.Context, info conninfo.Info, dbs []string) (*Server, error) {
	where := fmt.Sprintf("%s:%d", info.Host(), info.Port())
	conn, err := in.connect(ctx, info)
	if err != nil {
		return nil, fmt.Errorf("introspect %s: %w", where, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	s := &Server{}
	if err := readServer(ctx, conn, s); err != nil {
		return nil, fmt.Errorf("introspect %s: settings: %w", where, err)
	}
	if err := readDatabases(ctx, conn, s, dbs); err != nil {
		return nil, fmt.Errorf("introspect %s: databases: %w", where, err)
	}
	if err := readSlots(ctx, conn, s); err != nil {
		return nil, fmt.Errorf("introspect %s: replication slots: %w", where, err)
	}
	return s, nil
}

// currentLSN is the server's WAL position, on a primary or a standby.
const currentLSN = `(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)`

// serverQuery reads settings and the current user's attributes.
const serverQuery = `
SELECT current_setting('server_version_num')::int,
       current_setting('server_version'),
       current_setting('wal_level'),
       pg_is_in_recovery(),
       current_setting('max_replication_slots')::int,
       (SELECT count(*) FROM pg_catalog.pg_replication_slots)::int,
       current_setting('max_wal_senders')::int,
       (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'walsender')::int,
       current_setting('max_worker_processes')::int,
       current_setting('max_logical_replication_workers')::int,
       COALESCE(current_setting('max_slot_wal_keep_size', true), ''),
       r.rolname::text,
       r.rolsuper, r.rolreplication, r.rolcreatedb, r.rolcreaterole,
       COALESCE((SELECT pg_has_role(r.oid, m.oid, 'MEMBER') FROM pg_catalog.pg_roles m WHERE m.rolname = 'rds_replication'), false),
       COALESCE((SELECT pg_has_role(r.oid, m.oid, 'MEMBER') FROM pg_catalog.pg_roles m WHERE m.rolname = 'rds_superuser'), false),
       has_column_privilege('pg_catalog.pg_subscription', 'subconninfo', 'SELECT'),
       COALESCE(` + currentLSN + `::text, ''),
       ARRAY(SELECT rolname::text FROM pg_catalog.pg_roles ORDER BY 1)
FROM pg_catalog.pg_roles r
WHERE r.rolname = current_user`

// readServer fills the settings and privileges.
func readServer(ctx context.Context, conn *pgx.Conn, s *Server) error {
	p := &s.Privileges
	return conn.QueryRow(ctx, serverQuery, pgx.QueryExecModeExec).Scan(
		&s.VersionNum, &s.Version, &s.WalLevel, &s.InRecovery,
		&s.MaxReplicationSlots, &s.UsedReplicationSlots, &s.MaxWalSenders, &s.UsedWalSenders,
		&s.MaxWorkerProcesses, &s.MaxLogicalReplicationWorkers, &s.MaxSlotWALKeepSize,
		&s.CurrentUser, &p.Superuser, &p.Replication, &p.CreateDB, &p.CreateRole,
		&p.RDSReplication, &p.RDSSuperuser, &p.ReadSubscriptionConnInfo, &s.CurrentWALLSN, &s.Roles)
}

// databasesQuery lists every database; the size only of the databases
// introspected ($1; NULL: all), since pg_database_size walks every file of
// a database, and only where the user may connect (it refuses otherwise).
const databasesQuery = `
SELECT d.datname::text, pg_get_userbyid(d.datdba)::text, pg_encoding_to_char(d.encoding)::text,
       COALESCE(d.datcollate::text, ''), COALESCE(d.datctype::text, ''),
       COALESCE(CASE WHEN ($1::text[] IS NULL OR d.datname = ANY ($1::text[])) AND has_database_privilege(d.oid, 'CONNECT')
                THEN pg_database_size(d.oid) END, 0),
       d.datallowconn, d.datistemplate,
       ARRAY(SELECT unnest(s.setconfig) FROM pg_catalog.pg_db_role_setting s
             WHERE s.setdatabase = d.oid AND s.setrole = 0),
       d.datacl::text[], COALESCE(pg_catalog.shobj_description(d.oid, 'pg_database'), '')
FROM pg_catalog.pg_database d`

// readDatabases fills the list of databases, sorted by name, with the sizes
// of sized (nil: every database).
func readDatabases(ctx context.Context, conn *pgx.Conn, s *Server, sized []string) error {
	rows, err := conn.Query(ctx, databasesQuery, pgx.QueryExecModeExec, sized)
	if err != nil {
		return err
	}
	dbs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Database, error) {
		d := &Database{}
		err := r.Scan(&d.Name, &d.Owner, &d.Encoding, &d.Collate, &d.CType, &d.SizeBytes, &d.AllowConn, &d.IsTemplate,
			&d.Settings, &d.ACL, &d.Comment)
		sort.Strings(d.Settings)
		if len(d.Settings) == 0 {
			d.Settings = nil
		}
		return d, err
	})
	if err != nil {
		return err
	}
	sort.Slice(dbs, func(i, j int) bool { return dbs[i].Name < dbs[j].Name })
	s.Databases = dbs
	return nil
}

// slotsQuery lists the replication slots; %s is the wal_status column
// (PostgreSQL 13+) or an empty string literal.
const slotsQuery = `
SELECT slot_name::text, COALESCE(plugin::text, ''), slot_type, COALESCE(database::text, ''),
       temporary, active, COALESCE(active_pid, 0),
       COALESCE(restart_lsn::text, ''), COALESCE(confirmed_flush_lsn::text, ''),
       %s,
       COALESCE(pg_wal_lsn_diff(` + currentLSN + `, restart_lsn), 0)::bigint
FROM pg_catalog.pg_replication_slots`

// readSlots fills the replication slots, sorted by name.
func readSlots(ctx context.Context, conn *pgx.Conn, s *Server) error {
	walStatus := "''"
	if s.VersionNum >= 130000 {
		walStatus = "COALESCE(wal_status, '')"
	}
	rows, err := conn.Query(ctx, fmt.Sprintf(slotsQuery, walStatus), pgx.QueryExecModeExec)
	if err != nil {
		return err
	}
	slots, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Slot, error) {
		var sl Slot
		err := r.Scan(&sl.Name, &sl.Plugin, &sl.SlotType, &sl.Database, &sl.Temporary, &sl.Active, &sl.ActivePID,
			&sl.RestartLSN, &sl.ConfirmedFlushLSN, &sl.WALStatus, &sl.RetainedBytes)
		return sl, err
	})
	if err != nil {
		return err
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i].Name < slots[j].Name })
	s.Slots = slots
	return nil
}
