package planner

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/database-replicator/database-replicator/providers/postgres/pgbin"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/rowfilter"
	"github.com/database-replicator/database-replicator/providers/postgres/schemacompare"
	"github.com/database-replicator/database-replicator/state"
)

// Input is everything a plan is computed from.
type Input struct {
	Config *lang.Config
	// Servers holds the introspected endpoints by address ("source.prod").
	Servers map[string]*catalog.Server
	// Prior is the state before this plan; an empty state when none exists.
	Prior *state.State
	// FilterChecks maps a table reference (lang.TableRef.String()) to what
	// the source server said about its configured row filter: its deparsed
	// form (so filters compare by meaning, not spelling) and whether it is
	// valid. Optional: without it filters compare by normalised text.
	FilterChecks map[string]rowfilter.Result
	// Targets limits the plan to matching addresses and their dependencies
	// (plan --target); empty means everything.
	Targets []string
	// Now stamps the plan.
	Now time.Time
	// PgDumpMajor is the major version of the local pg_dump (which dumps
	// servers up to its own major version); 0 when unknown, then apply
	// reports a pg_dump that is too old.
	PgDumpMajor int
	// Paused overrides, by replication name, whether continuous sync is
	// paused: the pause and resume commands set it. Without an entry an
	// HCL configuration's sync.enabled decides, and in flag mode (which
	// has no file to say it) what the state records.
	Paused map[string]bool
	// Schemas are the schemas of the databases on both sides, by
	// SchemaKey, read by schemacompare.Read (the tool's own schemas left
	// out). Optional: without a database's pair, schema drift is only
	// its missing tables, columns and partitions.
	Schemas map[string]*schemacompare.Schema
}

// Build computes the plan.
func Build(in Input) (*plans.Plan, diag.Diagnostics) {
	p := &plans.Plan{CreatedAt: in.Now, Fingerprints: map[string]string{}, ConfigDigest: ConfigDigest(in.Config)}
	if in.Prior != nil {
		p.StateLineage, p.StateSerial = in.Prior.Lineage, in.Prior.Serial
	}
	for name, s := range in.Servers {
		p.Fingerprints[name] = s.Fingerprint()
	}
	var diags diag.Diagnostics
	desired := map[string]bool{}
	for _, r := range in.Config.Replications {
		b := &builder{in: in, r: r, plan: p, diags: &diags, desired: desired,
			srcName: "source." + r.Source, dstName: "target." + r.Target, recopyDB: map[string]string{}, resumeDB: map[string]bool{}, resync: map[string]string{}, driftForReview: map[string]string{}}
		b.src, b.dst = in.Servers[b.srcName], in.Servers[b.dstName]
		if b.src == nil || b.dst == nil {
			diags.AddError(CodeServerNotIntrospected, "replication."+r.Name, "Server not introspected", "internal: %s or %s was not introspected before planning", b.srcName, b.dstName)
			continue
		}
		b.build()
	}
	planDeletes(p, in, desired, &diags)
	p.Diagnostics = diags
	if len(in.Targets) > 0 {
		selectTargets(p, in.Targets)
	}
	p.Sort()
	return p, p.Diagnostics
}

// checkVersions refuses, as errors, a target older than the source
// (neither logical replication nor pg_dump output goes backwards) and a
// local pg_dump older than the source.
func (b *builder) checkVersions() {
	sm, tm := b.src.VersionNum/10000, b.dst.VersionNum/10000
	if tm < sm {
		b.diags.AddError(CodeTargetOlderThanSource, "replication."+b.r.Name, "Target is older than the source",
			"%s runs PostgreSQL %d and %s runs PostgreSQL %d: use a target server whose major version is at least the source's; logical replication and pg_dump output do not go backwards (target %d < source %d).",
			b.dstName, tm, b.srcName, sm, tm, sm)
	}
	if d := b.in.PgDumpMajor; d > 0 && d < sm {
		b.diags.AddError(CodePgDumpOlderThanSource, "replication."+b.r.Name, "Local pg_dump is older than the source",
			"%s runs PostgreSQL %d and the local pg_dump is %d (pg_dump %d < source %d); pg_dump refuses a newer server. Fix: %s.",
			b.srcName, sm, d, d, sm, pgbin.NewerToolsFix(sm))
	}
}

// builder plans one replication block.
type builder struct {
	in               Input
	r                *lang.Replication
	src, dst         *catalog.Server
	srcName, dstName string
	scope            *Scope
	method           lang.SyncMethod
	plan             *plans.Plan
	diags            *diag.Diagnostics
	desired          map[string]bool
	// recopyDB marks databases whose every table must be copied again, with why.
	recopyDB map[string]string
	// resumeDB marks databases whose interrupted stream snapshot resumes:
	// the slot is kept, copied tables stay, the others are copied in a
	// newer snapshot (see resumesSnapshot).
	resumeDB map[string]bool
	// resync maps a table (lang.TableRef.String()) that the subscription's
	// table sync copies again, while streaming goes on, to why (see
	// planResync).
	resync map[string]string
	// driftForReview maps a database whose schema drift waits for a
	// reviewed apply (policy.on_schema_drift = "plan") to its drift.
	driftForReview map[string]string
}

func (b *builder) addr(kind addrs.Kind, key string) addrs.Addr { return addrs.New(b.r.Name, kind, key) }

// prior returns the state record of a resource, or nil.
func (b *builder) prior(a addrs.Addr) *state.Resource {
	if b.in.Prior == nil {
		return nil
	}
	return b.in.Prior.Resource(a.String())
}

// priorAttrs returns the recorded attributes of a resource (nil when the
// state does not record it). Attributes that do not decode are reported
// once as an error: the resource cannot be planned from them.
func (b *builder) priorAttrs(a addrs.Addr) plans.Attrs {
	r := b.prior(a)
	if r == nil {
		return nil
	}
	attrs, err := plans.DecodeAttrs(a.Kind, r.Attributes)
	if err != nil {
		b.diags.AddError(CodeUnreadableStateEntry, a.String(), "Unreadable state entry",
			"%v. Remove it with `database-replicator state rm %s` and plan again.", err, a.String())
		return nil
	}
	return attrs
}

// priorOf returns the recorded attributes of a resource as T, or the zero
// T when the state does not record it.
func priorOf[T plans.Attrs](b *builder, a addrs.Addr) T {
	t, _ := b.priorAttrs(a).(T)
	return t
}

// add records a desired resource and appends its change.
func (b *builder) add(c *plans.Change) *plans.Change {
	b.desired[c.Addr.String()] = true
	b.plan.Changes = append(b.plan.Changes, c)
	return c
}

func (b *builder) build() {
	b.checkVersions()
	scope, d := ResolveScope(b.r, b.src, b.srcName)
	*b.diags = append(*b.diags, d...)
	b.scope = scope
	b.checkRemapCollisions(scope)
	b.checkRemapLimits(scope)
	b.dst = sourceNamedTarget(b.dst, scope)
	var why string
	b.method, why = ResolveMethod(b.r, b.src)
	*b.diags = append(*b.diags, diag.Diagnostic{Severity: diag.Warning, Code: CodeSyncMethod, Summary: "Sync method: " + string(b.method), Detail: why, Address: "replication." + b.r.Name})

	if b.cutOver(scope) {
		return
	}
	var dbChanges []addrs.Addr
	for _, ds := range scope.Databases {
		dbChanges = append(dbChanges, b.database(ds).Addr)
	}
	var globals *plans.Change
	if b.r.Snapshot.Globals {
		globals = b.globals(dbChanges)
	}
	for _, ds := range scope.Databases {
		b.databaseContents(ds, globals)
	}
}

// cutOver reports, as errors, the databases in scope whose cutover the
// state records (finished or interrupted), and whether there were any:
// such a replication is not planned at all. After a cutover the target is
// the primary; planning the replication again would create a new slot and
// copy the old primary over it.
func (b *builder) cutOver(scope *Scope) bool {
	found := false
	for _, ds := range scope.Databases {
		a := b.addr(addrs.Cutover, ds.Name)
		ca := priorOf[*plans.CutoverAttrs](b, a)
		if ca == nil {
			continue
		}
		found = true
		if ca.Phase == plans.CutoverDone {
			b.diags.AddError(CodeCutOver, a.String(), "Database was cut over",
				"Database %q was cut over to %s (fenced %s): it is the primary now, and planning replication.%s again would copy the old primary over it. Remove the database from this replication (or the replication from the configuration); to follow the new primary, write a replication from it. `database-replicator state rm %s` forgets the record.",
				ds.Name, b.dstName, ca.FencedAt, b.r.Name, a.String())
			continue
		}
		if ca.Phase == plans.CutoverRolledBack {
			b.diags.AddError(CodeCutOver, a.String(), "Database was cut over and rolled back",
				"Database %q was cut over to %s and switched back (cutover --rollback): the source is the primary again and %s stays read-only. To migrate again, reset the target's default_transaction_read_only, `database-replicator state rm %s` and plan the replication anew.",
				ds.Name, b.dstName, b.dstName, a.String())
			continue
		}
		b.diags.AddError(CodeCutoverInProgress, a.String(), "Cutover in progress",
			"The cutover of database %q stopped in phase %q. Run `database-replicator cutover` again: it finishes the cutover, or rolls it back when it cannot (the source is unfenced and replication goes on); plan and apply wait for that.",
			ds.Name, ca.Phase)
	}
	if found {
		// Nothing of it is planned, dropped included.
		for _, s := range b.in.Prior.Addresses() {
			if a, err := addrs.Parse(s); err == nil && a.Replication == b.r.Name {
				b.desired[s] = true
			}
		}
	}
	return found
}

// database plans the target database itself.
func (b *builder) database(ds *DatabaseScope) *plans.Change {
	a := b.addr(addrs.Database, ds.Name)
	after := &plans.DatabaseAttrs{Name: ds.Name, Encoding: ds.Source.Encoding, Server: b.dstName,
		Locale: &plans.Locale{Collate: ds.Source.Collate, CType: ds.Source.CType}}
	c := &plans.Change{Addr: a, After: after, Action: plans.NoOp}
	prior := b.prior(a)
	tdb := b.dst.Database(ds.Name)
	switch {
	case tdb == nil && prior == nil:
		c.Action, c.Reason = plans.Create, fmt.Sprintf("%s has no database %q", b.dstName, ds.Name)
	case tdb == nil:
		c.Action = plans.Create
		c.Reason = fmt.Sprintf("recorded in state but missing on %s (dropped outside database-replicator): create it and copy every table again", b.dstName)
		b.recopyDB[ds.Name] = "the target database is recreated"
	case prior == nil && len(tdb.Tables) == 0:
		c.Action, c.Before = plans.Create, &plans.DatabaseAttrs{Name: ds.Name, Encoding: tdb.Encoding, Server: b.dstName}
		c.Reason = fmt.Sprintf("%q exists on %s and holds no tables: it is adopted", ds.Name, b.dstName)
	case prior == nil && !b.r.Snapshot.DropExisting:
		b.targetNotEmpty(a, ds, tdb)
		c.Action = plans.Create
	case prior == nil:
		c.Action, c.Before = plans.Replace, &plans.DatabaseAttrs{Name: ds.Name, Encoding: tdb.Encoding, Server: b.dstName, Tables: len(tdb.Tables)}
		c.Reason = fmt.Sprintf("%q on %s holds %d table(s) and snapshot.drop_existing = true: drop and recreate it", ds.Name, b.dstName, len(tdb.Tables))
		b.checkDropCascade(a, ds, tdb)
		b.recopyDB[ds.Name] = "the target database is dropped and recreated"
	}
	return b.add(c)
}

// targetNotEmpty refuses a target database that holds tables the state
// does not record. When the configured subscription streams into it (the
// predecessor's setup, or a lost state file), importing that subscription
// comes first: it records the database as replicated, and nothing is
// dropped or copied again.
func (b *builder) targetNotEmpty(a addrs.Addr, ds *DatabaseScope, tdb *catalog.Database) {
	cfg := b.in.Config
	detail := fmt.Sprintf("%q on %s has %d table(s) (%s) and is not recorded in state.", ds.Name, b.dstName, len(tdb.Tables), tableList(tdb.Tables, 5))
	drop := hclOrFlags(cfg, "set snapshot { drop_existing = true } to drop and recreate it, or point the replication at an empty database",
		"run init with --drop-existing to drop and recreate it, or point --target at a server without it")
	fix := strings.ToUpper(drop[:1]) + drop[1:] + "."
	if sub := tdb.Subscription(b.r.Sync.Subscription); sub != nil && b.prior(b.addr(addrs.Subscription, ds.Name)) == nil {
		detail += fmt.Sprintf(" Subscription %q streams into it.", sub.Name)
		fix = fmt.Sprintf("If that subscription replicates this source (the predecessor's setup), import it with %s: the database and the tables it streams are then recorded as replicated, and nothing is dropped or copied again. Otherwise %s.",
			ImportCommand(cfg, b.addr(addrs.Subscription, ds.Name), sub.Name), drop)
	}
	b.diags.Append(diag.Diagnostic{Severity: diag.Error, Code: CodeTargetDatabaseNotEmpty, Summary: "Target database already holds data",
		Detail: detail, Address: a.String(), Fix: fix})
}

// checkDropCascade refuses to drop a target database whose tables outside
// the scope reference tables inside it, and warns about the rest.
func (b *builder) checkDropCascade(a addrs.Addr, ds *DatabaseScope, tdb *catalog.Database) {
	var outside []string
	for _, t := range tdb.Tables {
		if ds.Table(t.Schema, t.Name) != nil {
			continue
		}
		ref := lang.TableRef{Database: ds.Name, Schema: t.Schema, Table: t.Name}
		outside = append(outside, ref.String())
		for _, fk := range t.ForeignKeys {
			if ds.Table(fk.RefSchema, fk.RefTable) != nil {
				to := lang.TableRef{Database: ds.Name, Schema: fk.RefSchema, Table: fk.RefTable}
				b.diags.AddError(CodeDropExistingCascade, a.String(), "drop_existing would cascade outside the scope",
					"Dropping %q on %s destroys %s, which is outside the replication scope and references %s (foreign key %s). Add %s to the scope, or move it out of this database first.",
					ds.Name, b.dstName, ref.String(), to.String(), fk.Name, ref.String())
			}
		}
	}
	if len(outside) > 0 {
		b.diags.AddWarning(CodeDropExistingOutsideScope, a.String(), "drop_existing destroys tables outside the scope",
			"Dropping %q on %s also destroys: %s.", ds.Name, b.dstName, strings.Join(outside, ", "))
	}
}

// globals plans the copy of roles and grants.
func (b *builder) globals(deps []addrs.Addr) *plans.Change {
	a := addrs.Addr{Replication: b.r.Name, Kind: addrs.Globals}
	c := &plans.Change{Addr: a, Action: plans.NoOp, DependsOn: deps,
		After: &plans.GlobalsAttrs{From: b.srcName, To: b.dstName,
			Skipped: "superusers, pg_* roles, provider roles (rds*, cloudsql*, azure*), the connecting user"}}
	if b.prior(a) == nil {
		c.Action, c.Reason = plans.Create, "roles and grants have not been copied yet (pg_dumpall --globals-only)"
	}
	return b.add(c)
}

// databaseContents plans everything inside one database.
func (b *builder) databaseContents(ds *DatabaseScope, globals *plans.Change) {
	dbAddr := b.addr(addrs.Database, ds.Name)
	pre := []addrs.Addr{dbAddr}
	if globals != nil {
		pre = append(pre, globals.Addr)
	}
	schema := b.schema(ds, pre)

	logical := b.method == lang.SyncLogical || b.method == lang.SyncStream
	var pub, slot *plans.Change
	copyDeps := []addrs.Addr{schema.Addr}
	capture := b.ddlCapture(ds, schema)
	if logical {
		// The slot is planned first: whether it must be created again
		// decides between a copy in a new snapshot and the subscription's
		// table sync, which the publication has to know.
		slot = b.slot(ds, b.addr(addrs.Publication, ds.Name))
		b.planResync(ds)
		pub = b.publication(ds, schema)
		if capture != nil {
			pub.DependsOn = append(pub.DependsOn, capture.Addr)
		}
		// Every copy runs inside the slot's exported snapshot.
		copyDeps = append(copyDeps, slot.Addr)
	}
	// tableAddrs are the copies that post-data and the subscription wait
	// for; a table the table sync copies again comes after the
	// subscription instead.
	var tableAddrs []addrs.Addr
	for _, ts := range ds.Tables {
		tc := b.table(ds, ts, copyDeps)
		if b.resync[ts.Ref.String()] == "" {
			tableAddrs = append(tableAddrs, tc.Addr)
		}
	}
	post := b.postData(ds, schema, tableAddrs)
	for _, ts := range ds.Tables {
		if ts.Filter != "" && !ts.SchemaOnly {
			b.diags.AddWarning(CodeForeignKeysNotValid, post.Addr.String(), "Foreign keys are created NOT VALID",
				"%q has row-filtered tables (e.g. %s): a copied row may reference a row the filter left out, so foreign keys of %q are created NOT VALID on the target (new rows are still checked).", ds.Name, ts.Ref.String(), ds.Name)
			break
		}
	}
	seq := b.sequences(ds, post.Addr)
	switch {
	case b.method == lang.SyncStream:
		// No subscription: database-replicator's own applier streams from
		// the slot (sync), so the target never connects to the source.
	case logical:
		deps := append([]addrs.Addr{slot.Addr, pub.Addr, post.Addr, seq.Addr}, tableAddrs...)
		b.subscription(ds, deps)
	case b.method == lang.SyncXmin:
		for _, ts := range ds.Tables {
			if !ts.SchemaOnly {
				b.xmin(ts)
			}
		}
	}
}

// schema plans the pre-data schema and detects schema drift.
func (b *builder) schema(ds *DatabaseScope, deps []addrs.Addr) *plans.Change {
	a := b.addr(addrs.Schema, ds.Name)
	var schemas []string
	for _, n := range ds.Source.Schemas {
		// The tool's own schema (the DDL capture's log) is never copied.
		if n != plans.DDLLogSchema {
			schemas = append(schemas, n)
		}
	}
	after := &plans.SchemaAttrs{Schemas: schemas, Tables: len(ds.Tables), Source: "pg_dump --schema-only --section=pre-data"}
	c := &plans.Change{Addr: a, Action: plans.NoOp, After: after, DependsOn: deps}
	prior := b.prior(a)
	if prior == nil || b.recopyDB[ds.Name] != "" || (prior.Status != state.StatusDone && !b.anyTableOnTarget(ds)) {
		c.Action = plans.Create
		c.Reason = "create schemas, types, functions and tables (without indexes and constraints) on the target"
		switch {
		case b.recopyDB[ds.Name] != "":
			c.Reason += ": " + b.recopyDB[ds.Name]
		case prior != nil:
			// The restore runs in one transaction: an interrupted one left nothing.
			c.Reason += ": the previous restore was interrupted"
		}
		return b.add(c)
	}
	// Schema drift: DDL is not replicated by PostgreSQL.
	tdb := b.dst.Database(ds.Name)
	var missingTables []lang.TableRef
	var missingColumns []string
	addColumns := map[lang.TableRef][]string{}
	// Tables gaining columns whose target copy has no primary key: their
	// rows cannot be filled from the source's.
	var noKey []string
	// Tables an interrupted drift update was creating: their primary keys
	// and indexes may be missing although the tables exist.
	unfinished := map[lang.TableRef]bool{}
	if prior.Status != state.StatusDone {
		if pa := priorOf[*plans.SchemaAttrs](b, a); pa != nil && pa.Drift != nil {
			for _, r := range pa.Drift.MissingTables {
				unfinished[r] = true
			}
		}
	}
	repair := b.schemaRepair(ds)
	renamed := renamedTo(repair, ds.Name)
	for _, u := range repair.Unsupported {
		b.diags.AddWarning(CodeSchemaDriftUnsupported, a.String(), "Schema difference not repaired", "%s on %s.", u, b.dstName)
	}
	for _, ts := range ds.Tables {
		var tt *catalog.Table
		if tdb != nil {
			tt = tdb.Table(ts.Ref.Schema, ts.Ref.Table)
		}
		if tt == nil || unfinished[ts.Ref] {
			missingTables = append(missingTables, ts.Ref)
			continue
		}
		have := map[string]bool{}
		for _, col := range tt.Columns {
			have[col.Name] = true
		}
		var add []string
		for _, col := range ts.Source.Columns {
			if !have[col.Name] && !renamed[ts.Ref][col.Name] {
				missingColumns = append(missingColumns, fmt.Sprintf("%s.%s %s", ts.Ref.String(), col.Name, col.Type))
				add = append(add, col.Name)
			}
		}
		if len(add) > 0 {
			addColumns[ts.Ref] = add
			if len(tt.PrimaryKey) == 0 {
				noKey = append(noKey, ts.Ref.String())
			}
		}
	}
	skip := map[lang.TableRef]bool{}
	for _, r := range missingTables {
		skip[r] = true
	}
	parts := b.planPartitions(ds, tdb, skip)
	// A partition detached on the source into a table in scope is dropped
	// on the target and created again as that table.
	missingTables = append(missingTables, parts.Recreate...)
	if len(missingTables) == 0 && len(missingColumns) == 0 && parts.empty() && len(repair.Statements) == 0 {
		return b.add(c)
	}
	detail := describeDrift(missingTables[:len(missingTables)-len(parts.Recreate)], missingColumns)
	for _, more := range []string{parts.describe(), describeStatements(repair)} {
		if more == "" {
			continue
		}
		if detail != "" {
			detail += " and "
		}
		detail += more
	}
	if len(dropOnly(parts)) > 0 && b.r.Policy.PreventDestroy && b.r.Policy.OnSchemaDrift.Repairs() {
		b.diags.AddError(CodePreventDestroyTruncate, a.String(), "prevent_destroy forbids dropping a partition",
			"%s would be dropped on %s with its rows, as on the source, and policy.prevent_destroy = true. Drop them on the target yourself, or set prevent_destroy = false for this apply.", strings.Join(refStrings(parts.Drop), ", "), b.dstName)
	}
	switch b.r.Policy.OnSchemaDrift {
	case lang.DriftFail:
		b.diags.AddError(CodeSchemaDrift, a.String(), "Schema drift", "%s on %s, and policy.on_schema_drift = \"fail\". Apply the DDL on the target yourself, or set on_schema_drift = \"apply\".", detail, b.dstName)
	case lang.DriftIgnore:
		b.diags.AddWarning(CodeSchemaDriftIgnored, a.String(), "Schema drift ignored", "%s on %s (policy.on_schema_drift = \"ignore\").", detail, b.dstName)
		return b.add(c)
	case lang.DriftPlan:
		b.driftForReview[ds.Name] = detail
		b.diags.AddWarning(CodeSchemaDriftAwaitsReview, a.String(), "Schema drift awaits review",
			"%s on %s, and policy.on_schema_drift = \"plan\": sync pauses %q (logical: its subscription is disabled; xmin: its cycles stop; stream: its applier stops, the rows wait in the slot) until apply runs this plan. Review the DDL below, then run apply.", detail, b.dstName, ds.Name)
	}
	c.Action = plans.Update
	c.Before = &plans.SchemaAttrs{Drift: &plans.SchemaDrift{}}
	drift := &plans.SchemaDrift{MissingTables: missingTables, MissingColumns: missingColumns,
		CreatePartitions: parts.Create, DetachPartitions: parts.Detach, DropPartitions: parts.Drop, Statements: repair.Statements}
	if len(repair.Statements) > 0 {
		drift.Slot = b.streamSlot(ds)
		if drift.Slot != "" && b.method == lang.SyncStream {
			drift.Publication = b.r.Sync.Publication
		}
	}
	for _, st := range repair.Statements {
		if st.Warning != "" {
			b.diags.AddWarning(CodeSchemaChangeRisky, a.String(), "Risky schema change", "%s: %s on %s.", st.Object, st.Warning, b.dstName)
		}
	}
	if len(addColumns) > 0 {
		drift.AddColumns = addColumns
	}
	c.After = &plans.SchemaAttrs{Drift: drift}
	var how []string
	if len(missingTables) > 0 {
		how = append(how, "create the tables from the source's schema dump, with their primary keys, indexes and constraints")
	}
	if len(missingColumns) > 0 {
		how = append(how, "ALTER TABLE ... ADD COLUMN with the source's types; the rows the target holds get the values the source's rows hold"+
			" (the column's stored default, else read from the source by primary key in batches, in the ADD COLUMN's transaction: the table is locked on the target meanwhile)")
		if len(noKey) > 0 && b.r.Policy.OnSchemaDrift.Repairs() {
			b.diags.AddWarning(CodeColumnBackfillNoKey, a.String(), "New column cannot be filled in existing rows",
				"%s gain(s) columns on %s but have no primary key there: rows the target holds keep the new columns NULL unless the source stored a constant default for them, and verify reports the difference. Add a primary key, or copy the table again.", strings.Join(noKey, ", "), b.dstName)
		}
	}
	if len(parts.Create) > 0 {
		how = append(how, "CREATE TABLE ... PARTITION OF with the source's bounds (indexes, keys and triggers follow from the parent)")
	}
	if len(parts.Detach) > 0 {
		how = append(how, "ALTER TABLE ... DETACH PARTITION")
	}
	if len(parts.Recreate) > 0 {
		how = append(how, "a partition detached into a table in scope is dropped and created again as that table, then copied")
	}
	if len(parts.Drop) > 0 {
		how = append(how, "DROP TABLE on the target, rows included, as on the source")
	}
	if len(repair.Statements) > 0 {
		how = append(how, "the DDL listed under ddl, in that order (schemas, types and sequences first; drops last)")
	}
	c.Reason = "schema drift: " + detail + " (DDL is not replicated by PostgreSQL): " + strings.Join(how, "; ")
	if len(unfinished) > 0 {
		c.Reason += "; the previous drift update was interrupted"
	}
	return b.add(c)
}

func describeDrift(tables []lang.TableRef, columns []string) string {
	var parts []string
	if len(tables) > 0 {
		parts = append(parts, fmt.Sprintf("%d table(s) in scope missing (%s)", len(tables), strings.Join(refStrings(tables), ", ")))
	}
	if len(columns) > 0 {
		parts = append(parts, fmt.Sprintf("%d column(s) missing (%s)", len(columns), strings.Join(columns, ", ")))
	}
	return strings.Join(parts, " and ")
}

// table plans the copy of one table.
func (b *builder) table(ds *DatabaseScope, ts *TableScope, deps []addrs.Addr) *plans.Change {
	a := b.addr(addrs.Table, ts.Ref.String())
	after := &plans.TableAttrs{Filter: ts.Filter, SchemaOnly: ts.SchemaOnly,
		EstimatedRows: ts.Source.EstimatedRows, Bytes: ts.Source.Bytes, Method: b.method}
	if b.method == lang.SyncLogical || b.method == lang.SyncStream {
		after.Publication = b.r.Sync.Publication
	}
	if ts.Remapped() {
		after.TargetSchema, after.TargetTable = ts.Target.Schema, ts.Target.Table
	}
	if b.applierFilters() && ts.Window != nil && !ts.SchemaOnly {
		// No publication stores the frozen cut-off: the copy freezes it
		// and hands it to the stream applier.
		after.TimeWindow = timeWindow(ts.Window)
	}
	c := &plans.Change{Addr: a, Action: plans.NoOp, After: after, DependsOn: deps}
	prior := b.prior(a)
	priorAttrs := priorOf[*plans.TableAttrs](b, a)
	what := describeCopy(ts)
	if chk := b.in.FilterChecks[ts.Ref.String()]; chk.Invalid != "" {
		b.diags.AddError(CodeRowFilterInvalid, a.String(), "Row filter is not valid for this table",
			"%s on %s rejects the filter %q: %s. %s", ts.Ref.String(), b.srcName, ts.Filter, chk.Invalid,
			hclOrFlags(b.in.Config, "Fix the where expression in the table block.", "Fix the predicate of its --table-filter."))
	}
	switch {
	case b.resync[ts.Ref.String()] != "":
		// Streaming goes on: the slot's exported snapshot is long gone, so
		// PostgreSQL's table sync copies the table again. The publication
		// dropped it and the subscription's refresh stopped its apply
		// worker from writing to it before this change empties it.
		c.Action = plans.Replace
		if priorAttrs != nil {
			c.Before = priorAttrs // none for a detached partition (leftThePublication)
		}
		after.CopiedByTableSync = true
		after.Subscription = b.r.Sync.Subscription
		after.TimeWindow = timeWindow(ts.Window)
		c.DependsOn = []addrs.Addr{deps[0], b.addr(addrs.Publication, ds.Name), b.addr(addrs.Subscription, ds.Name)}
		c.Reason = b.resync[ts.Ref.String()] + ": removed from the publication, emptied on the target, and copied again by the subscription's table sync" +
			" (TRUNCATE on the target, ALTER PUBLICATION ... ADD TABLE with the new filter, REFRESH PUBLICATION WITH copy_data = true), not in a snapshot"
		b.checkTruncateCascade(a, ds, ts)
	case b.recopyDB[ds.Name] != "":
		c.Action, c.Reason = plans.Create, what+": "+b.recopyDB[ds.Name]
		if tdb := b.dst.Database(ds.Name); (prior != nil || b.syncedByTableSync(ds, ts)) && tdb != nil && tdb.Table(ts.Ref.Schema, ts.Ref.Table) != nil && b.dst.Database(ds.Name) != nil && b.prior(b.addr(addrs.Database, ds.Name)) != nil {
			c.Action = plans.Replace
			if priorAttrs != nil {
				c.Before = priorAttrs
			}
			c.Reason = "truncate and " + c.Reason
			b.checkTruncateCascade(a, ds, ts)
		}
	case prior == nil && !ts.SchemaOnly && b.streaming(ds):
		// The slot's exported snapshot is long gone: the subscription's
		// table sync copies the table (see subscription).
		after.CopiedByTableSync = true
		c.Reason = "added to the scope after streaming started: copied by the subscription's table sync (REFRESH PUBLICATION WITH copy_data = true), not in a snapshot"
	case prior == nil:
		c.Action, c.Reason = plans.Create, what
	case prior.Status != state.StatusDone:
		c.Action, c.Before = plans.Replace, priorAttrs
		c.Reason = "the previous copy was interrupted: truncate and " + what
		b.checkTruncateCascade(a, ds, ts)
	default:
		var pf string
		var pso bool
		if priorAttrs != nil {
			pf, pso = priorAttrs.Filter, priorAttrs.SchemaOnly
		}
		tdb := b.dst.Database(ds.Name)
		switch {
		case tdb == nil || tdb.Table(ts.Ref.Schema, ts.Ref.Table) == nil:
			c.Action, c.Before, c.Reason = plans.Create, nil, fmt.Sprintf("recorded in state but missing on %s: %s", b.dstName, what)
		case !FiltersEqual(pf, ts.Filter, "") || pso != ts.SchemaOnly:
			c.Action, c.Before = plans.Replace, priorAttrs
			c.Reason = "the filter changed: truncate and " + what
			b.checkTruncateCascade(a, ds, ts)
		default:
			c.Before = priorAttrs
		}
	}
	if ts.Remapped() && c.Reason != "" {
		from, to := lang.TableRef{Schema: ts.Ref.Schema, Table: ts.Ref.Table}, lang.TableRef{Schema: ts.Target.Schema, Table: ts.Target.Table}
		c.Reason += fmt.Sprintf(" (remapped: %s -> %s)", from, to)
	}
	if b.resumeDB[ds.Name] && !ts.SchemaOnly && (c.Action == plans.Create || c.Action == plans.Replace) {
		after.NewSnapshot = true
		c.Reason += "; in a new snapshot, not the kept slot's: the stream applies this table's changes from that snapshot's consistent point on"
	}
	if c.Action == plans.Replace && b.r.Policy.PreventDestroy {
		b.diags.AddError(CodePreventDestroyTruncate, a.String(), "prevent_destroy forbids truncating a table",
			"%s would be truncated and copied again (%s), and policy.prevent_destroy = true. Set prevent_destroy = false for this apply if that is intended.", ts.Ref.String(), c.Reason)
	}
	return b.add(c)
}

// planResync finds the tables of a streaming database that the
// subscription's table sync must copy again: a published table whose
// filter changed, and one whose previous copy was interrupted (the slot's
// exported snapshot it needed is gone). The publication drops them, the
// subscription's refresh stops applying them, and their table changes
// empty them and hand them back to the table sync (correctness rules 1
// and 8: no row is applied twice, none is lost).
func (b *builder) planResync(ds *DatabaseScope) {
	if !b.streaming(ds) {
		return
	}
	tdb := b.dst.Database(ds.Name)
	var name string
	if sa := priorOf[*plans.SubscriptionAttrs](b, b.addr(addrs.Subscription, ds.Name)); sa != nil {
		name = sa.Name
	}
	if name == "" {
		name = b.r.Sync.Subscription
	}
	sub := tdb.Subscription(name)
	for _, ts := range ds.Tables {
		prior := b.prior(b.addr(addrs.Table, ts.Ref.String()))
		if prior == nil && !ts.SchemaOnly && b.leftThePublication(ds, tdb, sub, ts) {
			b.resync[ts.Ref.String()] = "detached from its partitioned table on both sides after streaming started (a DETACH PARTITION that the DDL capture replayed): " +
				"the subscription still lists it, but the publication no longer carries its changes, so rows written since may be missing"
			continue
		}
		if ts.SchemaOnly || prior == nil || tdb.Table(ts.Ref.Schema, ts.Ref.Table) == nil {
			continue
		}
		_, subscribed := subscriptionTableState(tdb, sub, ts)
		pa := priorOf[*plans.TableAttrs](b, b.addr(addrs.Table, ts.Ref.String()))
		if pa == nil {
			pa = &plans.TableAttrs{}
		}
		pf, pso := pa.Filter, pa.SchemaOnly
		switch {
		case prior.Status != state.StatusDone && pa.CopiedByTableSync:
			b.resync[ts.Ref.String()] = "the previous re-copy by the subscription's table sync was interrupted"
		case prior.Status != state.StatusDone:
			b.resync[ts.Ref.String()] = "the previous copy was interrupted, and the slot's exported snapshot it needed is gone"
		case pso:
		case !FiltersEqual(pf, ts.Filter, ""):
			b.resync[ts.Ref.String()] = fmt.Sprintf("filter changed from %s to %s", describeFilter(pf), describeFilter(ts.Filter))
		case !subscribed:
			// E.g. a re-copy stopped after the refresh, and the
			// configuration went back to the old filter: its changes
			// would never be applied again.
			b.resync[ts.Ref.String()] = "the subscription does not list it in pg_subscription_rel, so its changes are not applied"
		}
	}
}

// leftThePublication reports whether a table in scope without a table
// record is a former partition, streamed through its partitioned table,
// that was detached on both sides (the DDL capture replays DETACH
// PARTITION on the target): a top-level table on both sides that the
// subscription lists in pg_subscription_rel, that its table sync did not
// copy, and that the publication does not carry. Its changes since the
// detach were not published; the table sync copies it again.
func (b *builder) leftThePublication(ds *DatabaseScope, tdb *catalog.Database, sub *catalog.Subscription, ts *TableScope) bool {
	tt := tdb.Table(ts.Ref.Schema, ts.Ref.Table)
	if sub == nil || tt == nil || tt.Parent != "" || ts.Source.Parent != "" || b.syncedByTableSync(ds, ts) {
		return false
	}
	if _, subscribed := subscriptionTableState(tdb, sub, ts); !subscribed {
		return false
	}
	for _, p := range ds.Source.Publications {
		if p.Name != b.r.Sync.Publication {
			continue
		}
		for _, pt := range p.Tables {
			if pt.Schema == ts.Ref.Schema && pt.Name == ts.Ref.Table {
				return false
			}
		}
		return true
	}
	return false
}

// describeFilter renders a row filter for a reason.
func describeFilter(f string) string {
	if f == "" {
		return "none (every row)"
	}
	return f
}

// describeCopy says what copying a table means, for reasons.
func describeCopy(ts *TableScope) string {
	switch {
	case ts.SchemaOnly:
		return "structure only (schema_only): no rows are copied"
	case ts.Filter != "":
		return fmt.Sprintf("copy the rows where %s (%s in the table, %s)", ts.Filter, describeRows(ts.Source.EstimatedRows), lang.FormatBytes(ts.Source.Bytes))
	}
	return fmt.Sprintf("copy %s (%s)", describeRows(ts.Source.EstimatedRows), lang.FormatBytes(ts.Source.Bytes))
}

// describeRows renders a row estimate: "~N rows", or "an unknown number
// of rows (never analysed)" for reltuples = -1.
func describeRows(n int64) string {
	if n < 0 {
		return "an unknown number of rows (never analysed)"
	}
	return fmt.Sprintf("~%d rows", n)
}

// checkTruncateCascade refuses a truncate that would cascade through
// foreign keys on the target into a table outside the scope.
func (b *builder) checkTruncateCascade(a addrs.Addr, ds *DatabaseScope, ts *TableScope) {
	tdb := b.dst.Database(ds.Name)
	if tdb == nil {
		return
	}
	type hop struct {
		schema, table string
		chain         []string
	}
	start := ts.Ref.String()
	queue := []hop{{ts.Ref.Schema, ts.Ref.Table, []string{start}}}
	seen := map[string]bool{start: true}
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		for _, t := range tdb.Tables {
			for _, fk := range t.ForeignKeys {
				if fk.RefSchema != h.schema || fk.RefTable != h.table {
					continue
				}
				ref := lang.TableRef{Database: ds.Name, Schema: t.Schema, Table: t.Name}
				name := ref.String()
				if seen[name] {
					continue
				}
				seen[name] = true
				chain := append(append([]string{}, h.chain...), fmt.Sprintf("%s (foreign key %s)", name, fk.Name))
				if ds.Table(t.Schema, t.Name) == nil {
					b.diags.AddError(CodeTruncateCascade, a.String(), "TRUNCATE would cascade outside the scope",
						"Copying %s again truncates it, and on %s the truncate cascades: %s. The last table is outside the replication scope and would lose its rows. Add it to the scope, drop that foreign key on the target, or keep the old filter.",
						start, b.dstName, strings.Join(chain, " <- "))
					continue
				}
				queue = append(queue, hop{t.Schema, t.Name, chain})
			}
		}
	}
}

// postData plans indexes, constraints and triggers after the copies.
func (b *builder) postData(ds *DatabaseScope, schema *plans.Change, tables []addrs.Addr) *plans.Change {
	a := b.addr(addrs.PostData, ds.Name)
	after := &plans.PostDataAttrs{IndexJobs: b.r.Snapshot.IndexJobs, Source: "pg_dump --schema-only --section=post-data"}
	c := &plans.Change{Addr: a, Action: plans.NoOp, DependsOn: append([]addrs.Addr{schema.Addr}, tables...), After: after}
	if prior := b.prior(a); prior == nil || prior.Status != state.StatusDone || schema.Action == plans.Create {
		c.Action, c.Reason = plans.Create, "build indexes, constraints and triggers after the data is copied"
		if prior != nil && prior.Status != state.StatusDone && schema.Action != plans.Create {
			// Items that already exist count as done (ApplyPostData).
			c.Reason += ": the previous run was interrupted before it finished"
		}
		if mv := b.planMatviews(ds, after, true); mv != "" {
			c.Reason += "; then " + mv
		}
		after.Database = b.databaseProperties(ds, a)
		if d := describeProperties(after.Database); d != "" {
			c.Reason += "; last, set the database's " + d + " as on the source"
		}
		return b.add(c)
	}
	var why []string
	if mv := b.planMatviews(ds, after, false); mv != "" {
		why = append(why, "materialized views differ from the source in whether they are populated: "+mv)
	}
	if tdb := b.dst.Database(ds.Name); tdb != nil {
		want := b.databaseProperties(ds, a)
		if d := propertiesDiffer(want, tdb); len(d) > 0 {
			after.Database = want
			why = append(why, "database properties differ from the source: "+strings.Join(d, "; "))
		}
	}
	if len(why) > 0 {
		c.Action, c.Reason = plans.Update, strings.Join(why, "; ")
		c.Before = priorOf[*plans.PostDataAttrs](b, a)
	}
	return b.add(c)
}

// anyTableOnTarget reports whether any table of the database's scope
// exists on the target.
func (b *builder) anyTableOnTarget(ds *DatabaseScope) bool {
	tdb := b.dst.Database(ds.Name)
	if tdb == nil {
		return false
	}
	for _, ts := range ds.Tables {
		if tdb.Table(ts.Ref.Schema, ts.Ref.Table) != nil {
			return true
		}
	}
	return false
}

// sequences plans the sequence value sync.
func (b *builder) sequences(ds *DatabaseScope, dep addrs.Addr) *plans.Change {
	a := b.addr(addrs.Sequences, ds.Name)
	n := 0
	for _, s := range ds.Source.Sequences {
		if ds.Table(s.Schema, s.OwnedByTable) != nil || s.OwnedByTable == "" {
			n++
		}
	}
	c := &plans.Change{Addr: a, Action: plans.NoOp, DependsOn: []addrs.Addr{dep}, After: &plans.SequencesAttrs{Sequences: n}}
	if prior := b.prior(a); prior == nil || prior.Status != state.StatusDone || b.recopyDB[ds.Name] != "" {
		c.Action, c.Reason = plans.Create, fmt.Sprintf("set %d sequence(s) on the target to the source values", n)
	}
	if n > 0 && b.method != lang.SyncNone {
		b.diags.AddWarning(CodeSequencesSynced, a.String(), "Sequences are synced, not replicated",
			"PostgreSQL does not replicate sequence values; database-replicator sets the %d sequence(s) of %q at apply, on every sync cycle and at cutover.", n, ds.Name)
	}
	return b.add(c)
}

// refStrings renders table references as "db.schema.table".
func refStrings(rs []lang.TableRef) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

// timeWindow returns the plan's form of a configured time window, or nil.
func timeWindow(w *lang.TimeWindow) *plans.TimeWindow {
	if w == nil {
		return nil
	}
	return &plans.TimeWindow{Column: w.Column, Last: w.Last.String()}
}

// tableList names up to n tables.
func tableList(ts []*catalog.Table, n int) string {
	var names []string
	for i, t := range ts {
		if i == n {
			names = append(names, fmt.Sprintf("and %d more", len(ts)-n))
			break
		}
		names = append(names, lang.QuoteIdent(t.Schema)+"."+lang.QuoteIdent(t.Name))
	}
	return strings.Join(names, ", ")
}

// planDeletes plans the removal of resources recorded in state that the
// configuration no longer wants. Only what state records is ever deleted.
func planDeletes(p *plans.Plan, in Input, desired map[string]bool, diags *diag.Diagnostics) {
	if in.Prior == nil {
		return
	}
	preventing := map[string]bool{}
	for _, r := range in.Config.Replications {
		preventing[r.Name] = r.Policy.PreventDestroy
	}
	addrsInState := in.Prior.Addresses()
	sort.Strings(addrsInState)
	for _, s := range addrsInState {
		if desired[s] {
			continue
		}
		a, err := addrs.Parse(s)
		if err != nil {
			diags.AddWarning(CodeUnreadableStateAddress, s, "Unreadable address in state", "%v; remove it with `database-replicator state rm`.", err)
			continue
		}
		if a.Kind == addrs.Cutover {
			// A cutover's record, not a planned resource.
			continue
		}
		res := in.Prior.Resource(s)
		before, err := plans.DecodeAttrs(a.Kind, res.Attributes)
		if err != nil {
			diags.AddError(CodeUnreadableStateEntry, s, "Unreadable state entry", "%v. Remove it with `database-replicator state rm %s` and plan again.", err, s)
			continue
		}
		c := &plans.Change{Addr: a, Action: plans.Delete, Before: before}
		switch a.Kind {
		case addrs.Subscription, addrs.Slot, addrs.Publication, addrs.DDLCapture:
			c.Reason = "no longer in the configuration: drop the " + string(a.Kind)
			if preventing[a.Replication] {
				diags.AddError(CodePreventDestroyDrop, s, "prevent_destroy forbids dropping a replication object",
					"%s is no longer wanted, and policy.prevent_destroy = true. Set prevent_destroy = false to let this plan drop it.", s)
			}
		default:
			c.Reason = "no longer in the configuration: stop managing it (target data stays)"
		}
		p.Changes = append(p.Changes, c)
	}
	// Deletes run in reverse: subscription before publication before slot.
	for _, c := range p.Changes {
		if c.Action != plans.Delete {
			continue
		}
		switch c.Addr.Kind {
		case addrs.Publication, addrs.Slot:
			sub := addrs.New(c.Addr.Replication, addrs.Subscription, c.Addr.Key)
			if !desired[sub.String()] && in.Prior.Resource(sub.String()) != nil {
				c.DependsOn = append(c.DependsOn, sub)
			}
		}
		if c.Addr.Kind == addrs.DDLCapture {
			// The publication drops the log table (or is dropped) first.
			pub := addrs.New(c.Addr.Replication, addrs.Publication, c.Addr.Key)
			if desired[pub.String()] || in.Prior.Resource(pub.String()) != nil {
				c.DependsOn = append(c.DependsOn, pub)
			}
		}
		if c.Addr.Kind == addrs.Slot {
			pub := addrs.New(c.Addr.Replication, addrs.Publication, c.Addr.Key)
			if !desired[pub.String()] && in.Prior.Resource(pub.String()) != nil {
				c.DependsOn = append(c.DependsOn, pub)
			}
		}
	}
}

// selectTargets keeps the changes matching any pattern, plus everything
// they depend on.
func selectTargets(p *plans.Plan, patterns []string) {
	byAddr := map[string]*plans.Change{}
	for _, c := range p.Changes {
		byAddr[c.Addr.String()] = c
	}
	keep := map[string]bool{}
	var visit func(c *plans.Change)
	visit = func(c *plans.Change) {
		if keep[c.Addr.String()] {
			return
		}
		keep[c.Addr.String()] = true
		for _, d := range c.DependsOn {
			if dc := byAddr[d.String()]; dc != nil {
				visit(dc)
			}
		}
	}
	for _, c := range p.Changes {
		for _, pat := range patterns {
			if addrs.Match(pat, c.Addr) {
				visit(c)
			}
		}
	}
	var out []*plans.Change
	for _, c := range p.Changes {
		if keep[c.Addr.String()] {
			out = append(out, c)
		}
	}
	p.Changes = out
	// Keep the diagnostics about what is left (and those about no resource).
	var diags diag.Diagnostics
	for _, d := range p.Diagnostics {
		if _, err := addrs.Parse(d.Address); err != nil || keep[d.Address] || d.Severity == diag.Error {
			diags = append(diags, d)
		}
	}
	p.Diagnostics = diags
}
