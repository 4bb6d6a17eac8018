package actions

import (
	"context"
	"fmt"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
)

// Names of the DDL capture's objects, all in plans.DDLLogSchema.
const (
	ddlCaptureFunction = "capture_ddl"
	ddlReplayFunction  = "replay_ddl"
	ddlReplayTrigger   = "replay_ddl"
	ddlEndTrigger      = "database_replicator_ddl_end"
	ddlDropTrigger     = "database_replicator_ddl_drop"
)

var (
	ddlSchema     = pgx.Identifier{plans.DDLLogSchema}.Sanitize()
	ddlLog        = pgx.Identifier{plans.DDLLogSchema, plans.DDLLogTable}.Sanitize()
	ddlCaptureFn  = pgx.Identifier{plans.DDLLogSchema, ddlCaptureFunction}.Sanitize()
	ddlReplayFn   = pgx.Identifier{plans.DDLLogSchema, ddlReplayFunction}.Sanitize()
	ddlEndTrig    = pgx.Identifier{ddlEndTrigger}.Sanitize()
	ddlDropTrig   = pgx.Identifier{ddlDropTrigger}.Sanitize()
	ddlReplayTrig = pgx.Identifier{ddlReplayTrigger}.Sanitize()
)

// ddlCaptureSourceSQL installs the capture on the source: the log table,
// the function that records each DDL statement, and the event triggers
// calling it at the end of every DDL command and when objects are dropped
// (sql_drop comes just before ddl_command_end; a statement is recorded
// once). A query string holding several commands fires once per
// command and is recorded once per transaction. The tool's own schema,
// publications and subscriptions are not captured.
var ddlCaptureSourceSQL = `CREATE SCHEMA IF NOT EXISTS ` + ddlSchema + `;
CREATE TABLE IF NOT EXISTS ` + ddlLog + ` (
	seq bigserial PRIMARY KEY,
	xid bigint NOT NULL DEFAULT txid_current(),
	captured_at timestamptz NOT NULL DEFAULT now(),
	command_tag text NOT NULL,
	object_type text,
	object_identity text,
	search_path text NOT NULL,
	statement text NOT NULL
);
CREATE INDEX IF NOT EXISTS ddl_log_xid ON ` + ddlLog + ` (xid);
CREATE OR REPLACE FUNCTION ` + ddlCaptureFn + `() RETURNS event_trigger
LANGUAGE plpgsql AS $fn$
DECLARE
	q text := current_query();
	ot text;
	oi text;
BEGIN
	IF TG_TAG LIKE '% PUBLICATION' OR TG_TAG LIKE '% SUBSCRIPTION' THEN
		-- Replication objects belong to each side (the tool's own).
		RETURN;
	END IF;
	IF TG_EVENT = 'sql_drop' THEN
		SELECT min(o.object_type), string_agg(o.object_identity, ', ' ORDER BY o.object_identity)
		  INTO ot, oi
		  FROM pg_event_trigger_dropped_objects() o
		 WHERE o.original AND o.schema_name IS DISTINCT FROM '` + plans.DDLLogSchema + `'
		   AND NOT (o.object_type = 'schema' AND o.object_name = '` + plans.DDLLogSchema + `');
		IF oi IS NULL THEN
			RETURN;
		END IF;
	ELSE
		SELECT c.object_type, c.object_identity INTO ot, oi
		  FROM pg_event_trigger_ddl_commands() c
		 WHERE NOT c.in_extension
		 LIMIT 1;
		IF NOT FOUND THEN
			-- Nothing was created or altered: a DROP (recorded by sql_drop)
			-- or a command that changed nothing.
			RETURN;
		END IF;
		IF (oi LIKE '` + plans.DDLLogSchema + `.%' OR (ot = 'schema' AND oi = '` + plans.DDLLogSchema + `')) THEN
			RETURN;
		END IF;
	END IF;
	IF q IS NULL OR EXISTS (SELECT 1 FROM ` + ddlLog + ` l WHERE l.xid = txid_current() AND l.statement = q) THEN
		RETURN;
	END IF;
	INSERT INTO ` + ddlLog + ` (command_tag, object_type, object_identity, search_path, statement)
	VALUES (TG_TAG, ot, oi, current_setting('search_path'), q);
END
$fn$;
DROP EVENT TRIGGER IF EXISTS ` + ddlEndTrig + `;
DROP EVENT TRIGGER IF EXISTS ` + ddlDropTrig + `;
CREATE EVENT TRIGGER ` + ddlEndTrig + ` ON ddl_command_end EXECUTE PROCEDURE ` + ddlCaptureFn + `();
CREATE EVENT TRIGGER ` + ddlDropTrig + ` ON sql_drop EXECUTE PROCEDURE ` + ddlCaptureFn + `()`

// ddlCaptureTargetSQL installs the replay on the target: a copy of the log
// table with the outcome of each statement, and an ENABLE ALWAYS trigger
// (it fires in the subscription's apply worker too) that runs each
// statement as its row arrives, under the search_path it ran with on the
// source. A statement that fails (typically because drift repair already
// made the change) is recorded in outcome and error instead of raising,
// so it never stops the apply worker; schema drift repair fixes whatever
// difference is left.
var ddlCaptureTargetSQL = `CREATE SCHEMA IF NOT EXISTS ` + ddlSchema + `;
CREATE TABLE IF NOT EXISTS ` + ddlLog + ` (
	seq bigint PRIMARY KEY,
	xid bigint,
	captured_at timestamptz,
	command_tag text,
	object_type text,
	object_identity text,
	search_path text,
	statement text,
	outcome text,
	error text,
	applied_at timestamptz
);
CREATE OR REPLACE FUNCTION ` + ddlReplayFn + `() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
	saved text := current_setting('search_path');
BEGIN
	PERFORM set_config('search_path', coalesce(NEW.search_path, saved), true);
	BEGIN
		EXECUTE NEW.statement;
		NEW.outcome := 'applied';
		NEW.error := NULL;
	EXCEPTION WHEN OTHERS THEN
		NEW.outcome := 'failed';
		NEW.error := SQLSTATE || ': ' || SQLERRM;
	END;
	PERFORM set_config('search_path', saved, true);
	NEW.applied_at := clock_timestamp();
	RETURN NEW;
END
$fn$;
DROP TRIGGER IF EXISTS ` + ddlReplayTrig + ` ON ` + ddlLog + `;
CREATE TRIGGER ` + ddlReplayTrig + ` BEFORE INSERT ON ` + ddlLog + ` FOR EACH ROW EXECUTE PROCEDURE ` + ddlReplayFn + `();
ALTER TABLE ` + ddlLog + ` ENABLE ALWAYS TRIGGER ` + ddlReplayTrig

// ddlCaptureSourceDropSQL removes the capture from the source.
var ddlCaptureSourceDropSQL = `DROP EVENT TRIGGER IF EXISTS ` + ddlEndTrig + `;
DROP EVENT TRIGGER IF EXISTS ` + ddlDropTrig + `;
DROP FUNCTION IF EXISTS ` + ddlCaptureFn + `();
DROP TABLE IF EXISTS ` + ddlLog

// ddlCaptureTargetDropSQL removes the replay from the target.
var ddlCaptureTargetDropSQL = `DROP TABLE IF EXISTS ` + ddlLog + `;
DROP FUNCTION IF EXISTS ` + ddlReplayFn + `()`

// ddlCapture installs or removes the capture of DDL statements of one
// database: the target's replay first (no captured row may arrive before
// it), then the source's event triggers; removal in reverse.
func (p *Provider) ddlCapture(ctx context.Context, ep Endpoints, c *plans.Change) (plans.Attrs, error) {
	db := c.Addr.Key
	steps := []struct {
		side, sql string
		info      conninfo.Info
	}{
		{"target", ddlCaptureTargetSQL, ep.Target.WithDatabase(db)},
		{"source", ddlCaptureSourceSQL, ep.Source.WithDatabase(db)},
	}
	if c.Action == plans.Delete {
		steps[0], steps[1] = steps[1], steps[0]
		steps[0].sql, steps[1].sql = ddlCaptureSourceDropSQL, ddlCaptureTargetDropSQL
	} else if c.Action == plans.NoOp {
		return c.After, nil
	}
	for _, s := range steps {
		if err := execScript(ctx, s.info, s.sql); err != nil {
			return nil, fmt.Errorf("DDL capture on the %s: %w", s.side, err)
		}
	}
	if c.Action == plans.Delete {
		return nil, nil
	}
	return c.After, nil
}

// DropDDLCapture removes the DDL capture of one database from both sides
// (cutover's detach): the source's event triggers, function and log first,
// then the target's log and replay function. source and target connect to
// the database; each statement tolerates its object's absence. The source
// session may write while the database is fenced read-only.
func DropDDLCapture(ctx context.Context, source, target conninfo.Info) error {
	if err := execScript(ctx, source, "SET TRANSACTION READ WRITE;\n"+ddlCaptureSourceDropSQL); err != nil {
		return fmt.Errorf("DDL capture on the source: %w", err)
	}
	if err := execScript(ctx, target, ddlCaptureTargetDropSQL); err != nil {
		return fmt.Errorf("DDL capture on the target: %w", err)
	}
	return nil
}

// execScript runs a script of statements in one transaction.
func execScript(ctx context.Context, info conninfo.Info, sql string) error {
	conn, err := conninfo.Connect(ctx, info)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql)
		return err
	})
}
