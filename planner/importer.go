package planner

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/state"
)

// ImportInput is an import: an existing object, checked against what the
// configuration wants at an address before the state records it.
type ImportInput struct {
	// Input is the plan input: configuration, introspected servers, the
	// current state and the row-filter checks.
	Input
	// Addr is the address to import at, e.g.
	// replication.main.publication["app"].
	Addr addrs.Addr
	// ID is the object's name on its server: the publication in the
	// source database, the slot on the source server, the subscription in
	// the target database.
	ID string
}

// Imported is what an import records.
type Imported struct {
	// Resources are the state records to write, each with status done:
	// the imported object first, then, for a subscription, the records of
	// its database that the state lacks (see Import).
	Resources []*state.Resource
	// Object describes the imported object in words.
	Object string
	// With says, for each further record, why it is recorded.
	With []string
	// Left says what the next plan still does about the database.
	Left []string
}

// Import checks the object ID on its server against what the
// configuration plans at Addr, and returns the state records that bring it
// under management, with the attributes apply records after creating it.
// Every difference is an error (CodeImportMismatch) with its fix; nothing
// is to be recorded then.
//
// A subscription stands for the database it streams into: the predecessor
// (or an apply whose state file was lost) copied it before streaming
// started. Importing it also records, where the state lacks them, the
// database, its schema and post-data, and each table in scope that exists
// on the target and that the subscription streams (pg_subscription_rel
// lists it), as copied by the subscription: the next plan neither drops,
// recreates nor copies any of them. Tables in scope that the subscription
// does not stream are left to the plan, which hands them to the
// subscription's table sync, and says so (Left).
func Import(in ImportInput) (*Imported, diag.Diagnostics) {
	diags := CheckImportAddress(in.Config, in.Prior, in.Addr)
	if diags.HasErrors() {
		return nil, diags
	}
	a := in.Addr
	var r *lang.Replication
	for _, rr := range in.Config.Replications {
		if rr.Name == a.Replication {
			r = rr
		}
	}
	plan := in.Input
	plan.Targets = nil
	p, _ := Build(plan) // the plan's own errors are plan's to report
	byAddr := map[string]*plans.Change{}
	for _, c := range p.Changes {
		byAddr[c.Addr.String()] = c
	}
	c := byAddr[a.String()]
	if c == nil {
		diags.Append(notPlanned(in, r, byAddr))
		return nil, diags
	}
	im := &importer{in: in, r: r, plan: byAddr, diags: &diags}
	var out *Imported
	switch a.Kind {
	case addrs.Publication:
		out = im.publication(c.After.(*plans.PublicationAttrs))
	case addrs.Slot:
		out = im.slot(c.After.(*plans.SlotAttrs))
	case addrs.Subscription:
		out = im.subscription(c.After.(*plans.SubscriptionAttrs))
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return out, diags
}

// CheckImportAddress refuses, before any server is read, an address that
// cannot be imported: not a publication, slot or subscription, already
// recorded in prior, or of a replication the configuration lacks.
func CheckImportAddress(cfg *lang.Config, prior *state.State, a addrs.Addr) diag.Diagnostics {
	var diags diag.Diagnostics
	switch a.Kind {
	case addrs.Publication, addrs.Slot, addrs.Subscription:
	default:
		diags.AddError(CodeImportKindUnsupported, a.String(), "Only replication objects can be imported",
			"%s is a %s; import takes the address of a publication, slot or subscription, e.g. replication.%s.subscription[\"app\"]. The database, its schema and the tables a subscription streams are recorded when that subscription is imported.",
			a, a.Kind, a.Replication)
		return diags
	}
	if prior.Resource(a.String()) != nil {
		diags.Append(diag.Diagnostic{Severity: diag.Error, Code: CodeImportAlreadyManaged, Address: a.String(),
			Summary: "Already managed",
			Detail:  fmt.Sprintf("%s is already managed: the state records it (%s shows it), and import never replaces a record.", a, Command(cfg, "state", "show", a.String())),
			Fix:     fmt.Sprintf("To record another object there, forget the recorded one first with %s (the object itself stays), then import again.", Command(cfg, "state", "rm", a.String()))})
		return diags
	}
	var names []string
	for _, r := range cfg.Replications {
		if r.Name == a.Replication {
			return diags
		}
		names = append(names, r.Name)
	}
	diags.AddError(CodeImportNotInConfiguration, a.String(), "No such replication",
		"The configuration has no replication %q (it has: %s).", a.Replication, strings.Join(names, ", "))
	return diags
}

// notPlanned explains why the configuration plans nothing at the address.
func notPlanned(in ImportInput, r *lang.Replication, byAddr map[string]*plans.Change) diag.Diagnostic {
	a := in.Addr
	d := diag.Diagnostic{Severity: diag.Error, Code: CodeImportNotInConfiguration, Address: a.String(), Summary: "Not in the configuration"}
	if byAddr[addrs.New(r.Name, addrs.Database, a.Key).String()] == nil {
		var scope []string
		for _, c := range byAddr {
			if c.Addr.Replication == r.Name && c.Addr.Kind == addrs.Database {
				scope = append(scope, c.Addr.Key)
			}
		}
		sort.Strings(scope)
		d.Detail = fmt.Sprintf("Database %q is not in the scope of replication %q (in scope: %s).", a.Key, r.Name, strings.Join(scope, ", "))
		d.Fix = hclOrFlags(in.Config, "Add it to the replication's databases, or import at the address of a database in scope.",
			"Add it to --include-databases (or drop it from --exclude-databases), or import at the address of a database in scope.")
		return d
	}
	method, why := ResolveMethod(r, in.Servers["source."+r.Source])
	d.Detail = fmt.Sprintf("Replication %q syncs with method %s (%s), which uses no %s.", r.Name, method, why, a.Kind)
	d.Fix = "Only logical replication has publications, slots and subscriptions to import."
	return d
}

// importer checks one object of one replication.
type importer struct {
	in    ImportInput
	r     *lang.Replication
	plan  map[string]*plans.Change
	diags *diag.Diagnostics
}

// differs reports one difference between the object and the configuration.
func (im *importer) differs(detail, fix string) {
	im.diags.Append(diag.Diagnostic{Severity: diag.Error, Code: CodeImportMismatch, Address: im.in.Addr.String(),
		Summary: "Does not match the configuration", Detail: detail, Fix: fix})
}

// notFound reports that the server has no object of the imported name.
func (im *importer) notFound(detail string, existing []string) {
	have := "none"
	if len(existing) > 0 {
		sort.Strings(existing)
		have = strings.Join(existing, ", ")
	}
	im.diags.Append(diag.Diagnostic{Severity: diag.Error, Code: CodeImportObjectNotFound, Address: im.in.Addr.String(),
		Summary: "Nothing to import", Detail: fmt.Sprintf("%s (there: %s).", detail, have),
		Fix: "Give the name of an existing object as ID; plan creates the object when none exists."})
}

// record is a state record of an imported resource.
func record(a addrs.Addr, attrs plans.Attrs) *state.Resource {
	return &state.Resource{Address: a.String(), Kind: string(a.Kind), Attributes: plans.EncodeAttrs(attrs), Status: state.StatusDone}
}

// dropHint is how to start over instead: drop the object, and let apply
// create it (and copy the database's tables again).
func (im *importer) dropHint(drop string) string {
	return fmt.Sprintf("drop it (%s) and let %s create a new one, which copies the tables of %q again", drop, applyWord(im.in.Config), im.in.Addr.Key)
}

// applyWord names the command that creates replication objects.
func applyWord(cfg *lang.Config) string { return hclOrFlags(cfg, "apply", "init/sync") }

// renameFix is the fix for an object whose name is not the configured one:
// name attr setting in HCL; in flag mode the names are fixed.
func (im *importer) renameFix(setting, value, fixed string) string {
	if flagMode(im.in.Config) {
		return fmt.Sprintf("--source/--target always use %q; an object of another name needs a configuration file with sync { %s = %q } (see docs/configuration.md).", fixed, setting, value)
	}
	return fmt.Sprintf("Set sync { %s = %q } in replication %q to import it, or import the object named %q.", setting, value, im.r.Name, fixed)
}

// publication checks a publication of the source database.
func (im *importer) publication(want *plans.PublicationAttrs) *Imported {
	in, db := im.in, im.in.Addr.Key
	src := in.Servers[want.Server]
	sdb := src.Database(db)
	actual := sdb.Publication(in.ID)
	if actual == nil {
		var existing []string
		if sdb != nil {
			for _, p := range sdb.Publications {
				existing = append(existing, p.Name)
			}
		}
		im.notFound(fmt.Sprintf("%s has no publication %q in database %q", want.Server, in.ID, db), existing)
		return nil
	}
	if in.ID != want.Name {
		im.differs(fmt.Sprintf("The configuration's publication is %q (sync.publication), not %q.", want.Name, in.ID),
			im.renameFix("publication", in.ID, want.Name))
	}
	pub := lang.QuoteIdent(in.ID)
	var missing []string
	for action, on := range map[string]bool{"insert": actual.Insert, "update": actual.Update, "delete": actual.Delete, "truncate": actual.Truncate} {
		if !on {
			missing = append(missing, action)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		im.differs(fmt.Sprintf("Publication %q does not publish %s: those changes would never reach the target.", in.ID, strings.Join(missing, ", ")),
			fmt.Sprintf("Publish every action on %s: ALTER PUBLICATION %s SET (publish = 'insert, update, delete, truncate');", want.Server, pub))
	}
	if actual.AllTables {
		im.diags.AddWarning(CodeImportPublicationAllTables, in.Addr.String(), "Publication is FOR ALL TABLES",
			"Publication %q publishes every table of %q, including tables created later; ALTER PUBLICATION cannot add or drop tables of a FOR ALL TABLES publication, so a later change of the scope fails at apply. To narrow the scope later, drop the publication and let %s create it with a table list.",
			in.ID, db, applyWord(in.Config))
	}
	have := map[plans.TableName]catalog.PublicationTable{}
	for _, pt := range actual.Tables {
		have[plans.TableName{Schema: pt.Schema, Table: pt.Name}] = pt
	}
	out := *want
	out.DropForTableSync = nil
	out.Tables = append([]plans.PublishedTable{}, want.Tables...)
	wanted := map[plans.TableName]bool{}
	for i := range out.Tables {
		w := &out.Tables[i]
		wanted[w.Table] = true
		ref := w.Table.In(db)
		pt, ok := have[w.Table]
		if !ok {
			im.differs(fmt.Sprintf("Publication %q does not publish %s, which the configuration replicates.", in.ID, ref),
				fmt.Sprintf("Publish it: ALTER PUBLICATION %s ADD TABLE %s; on %s (the subscription's table sync copies it once the plan refreshes the subscription), or %s.",
					pub, quoteTableName(w.Table), want.Server, im.leaveOut(ref)))
			continue
		}
		if len(pt.Columns) > 0 {
			im.differs(fmt.Sprintf("Publication %q publishes only the columns %s of %s; the configuration replicates every column.", in.ID, strings.Join(pt.Columns, ", "), ref),
				fmt.Sprintf("Publish the whole table (ALTER PUBLICATION %s SET TABLE with the full table list and no column lists), or %s.", pub, im.dropHint("DROP PUBLICATION "+pub)))
		}
		if src.VersionNum < 150000 {
			continue // no row filters before PostgreSQL 15: plan reports filters it cannot publish
		}
		switch {
		case w.Window != nil && windowFilterMatches(pt.RowFilter, w.Window.Column):
			w.Cutoff = pt.RowFilter
		case w.Window != nil:
			im.differs(fmt.Sprintf("Publication %q filters %s by %s; the configuration's time window on %q needs a cut-off on that column.", in.ID, ref, describeFilter(pt.RowFilter), w.Window.Column),
				im.filterFix(ref, pt.RowFilter))
		case !FiltersEqual(w.Filter, pt.RowFilter, in.FilterChecks[ref.String()].Deparsed):
			im.differs(fmt.Sprintf("Publication %q filters %s by %s; the configuration says %s.", in.ID, ref, describeFilter(pt.RowFilter), describeFilter(w.Filter)),
				im.filterFix(ref, pt.RowFilter))
		}
	}
	var extra []plans.TableName
	for t := range have {
		if !wanted[t] {
			extra = append(extra, t)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].Less(extra[j]) })
	for _, t := range extra {
		ref := t.In(db)
		why := "outside the configuration's scope"
		if c := im.plan[addrs.New(im.r.Name, addrs.Table, ref.String()).String()]; c != nil {
			if ta, ok := c.After.(*plans.TableAttrs); ok && ta.SchemaOnly {
				why = "schema-only in the configuration (structure, no rows)"
			} else {
				why = "missing on the target while policy.on_schema_drift = \"ignore\""
			}
		}
		fix := fmt.Sprintf("Remove it from the publication: ALTER PUBLICATION %s DROP TABLE %s; on %s, or bring it into the configuration's scope (%s).",
			pub, quoteTableName(t), want.Server, hclOrFlags(im.in.Config, "databases, include_tables, exclude_tables, schema_only", "--include-tables, --exclude-tables, --schema-only-tables"))
		if actual.AllTables {
			fix = fmt.Sprintf("A FOR ALL TABLES publication publishes every table: bring it into the configuration's scope (%s), %s.",
				hclOrFlags(im.in.Config, "include_tables, exclude_tables, schema_only", "--include-tables, --exclude-tables, --schema-only-tables"), "or "+im.dropHint("DROP PUBLICATION "+pub))
		}
		im.differs(fmt.Sprintf("Publication %q publishes %s, which is %s.", in.ID, ref, why), fix)
	}
	return &Imported{Resources: []*state.Resource{record(in.Addr, &out)},
		Object: fmt.Sprintf("publication %q in %q on %s, publishing %d table(s)", in.ID, db, want.Server, len(out.Tables))}
}

// leaveOut is how to leave a table out of the configuration's scope.
func (im *importer) leaveOut(ref lang.TableRef) string {
	return hclOrFlags(im.in.Config, fmt.Sprintf("leave it out of the scope (exclude_tables = [%q])", ref.String()),
		fmt.Sprintf("leave it out of the scope (--exclude-tables %s)", ref.String()))
}

// filterFix is the fix for a row filter that differs from the stored one:
// the rows on the target follow the stored filter, so the configuration
// should say the same.
func (im *importer) filterFix(ref lang.TableRef, stored string) string {
	if stored == "" {
		return hclOrFlags(im.in.Config, fmt.Sprintf("The publication sends every row of %s: remove the table's where or time_window, or drop the publication and let apply create it (which copies the tables again).", ref),
			fmt.Sprintf("The publication sends every row of %s: drop its --table-filter/--time-filter, or drop the publication and let init/sync create it (which copies the tables again).", ref))
	}
	return hclOrFlags(im.in.Config, fmt.Sprintf("The rows on the target follow the stored filter: write it in the configuration (table %q { where = %q }), or drop the publication and let apply create it (which copies the tables again).", ref.String(), stored),
		fmt.Sprintf("The rows on the target follow the stored filter: give --table-filter %s, or drop the publication and let init/sync create it (which copies the tables again).", shellQuote(ref.String()+":"+stored)))
}

// quoteTableName renders schema.table quoted for SQL.
func quoteTableName(t plans.TableName) string {
	return lang.QuoteIdent(t.Schema) + "." + lang.QuoteIdent(t.Table)
}

// slot checks a replication slot of the source server.
func (im *importer) slot(want *plans.SlotAttrs) *Imported {
	in, db := im.in, im.in.Addr.Key
	drop := fmt.Sprintf("SELECT pg_drop_replication_slot('%s'); on %s once nothing streams from it", in.ID, want.Server)
	src := in.Servers[want.Server]
	actual := src.Slot(in.ID)
	if actual == nil {
		var existing []string
		for _, s := range src.Slots {
			if s.SlotType == "logical" {
				existing = append(existing, s.Name)
			}
		}
		im.notFound(fmt.Sprintf("%s has no replication slot %q", want.Server, in.ID), existing)
		return nil
	}
	if in.ID != want.Name {
		fix := fmt.Sprintf("PostgreSQL cannot rename a slot: %s.", im.dropHint(drop))
		if sub, ok := strings.CutSuffix(in.ID, "_"+db); ok && sub != "" && !flagMode(in.Config) {
			fix = fmt.Sprintf("Set sync { subscription = %q } in replication %q (the slot name derives from it), or %s.", sub, im.r.Name, im.dropHint(drop))
		}
		im.differs(fmt.Sprintf("The configuration's slot for %q is %q (derived from sync.subscription and the database), not %q.", db, want.Name, in.ID), fix)
	}
	if actual.SlotType != "logical" {
		im.differs(fmt.Sprintf("Slot %q is a %s slot; logical replication streams from a logical slot.", in.ID, actual.SlotType), "Import a logical slot, or "+im.dropHint(drop)+".")
	} else {
		if actual.Plugin != want.Plugin {
			im.differs(fmt.Sprintf("Slot %q decodes with the output plugin %q; subscriptions need %q.", in.ID, actual.Plugin, want.Plugin), "A slot's plugin cannot change: "+im.dropHint(drop)+".")
		}
		if actual.Database != db {
			im.differs(fmt.Sprintf("Slot %q decodes database %q, not %q.", in.ID, actual.Database, db),
				fmt.Sprintf("Import it at replication.%s.slot[%q] if that database is in scope, or %s.", im.r.Name, actual.Database, im.dropHint(drop)))
		}
	}
	if actual.Temporary {
		im.differs(fmt.Sprintf("Slot %q is temporary: it disappears with the session that created it.", in.ID), "Import a permanent slot; plan creates one when none exists.")
	}
	if actual.WALStatus == "lost" {
		im.differs(fmt.Sprintf("Slot %q lost its WAL (wal_status = lost): the changes since cannot be streamed any more.", in.ID),
			fmt.Sprintf("Drop it (%s) and the subscription that uses it; %s then creates a new slot and copies the tables of %q again.", drop, applyWord(in.Config), db))
	}
	out := *want
	out.DisableSubscription = ""
	return &Imported{Resources: []*state.Resource{record(in.Addr, &out)},
		Object: fmt.Sprintf("replication slot %q of %q on %s", in.ID, db, want.Server)}
}

// subscription checks a subscription of the target database and gathers
// the records of the database it stands for.
func (im *importer) subscription(want *plans.SubscriptionAttrs) *Imported {
	in, db := im.in, im.in.Addr.Key
	tdb := in.Servers[want.Server].Database(db)
	actual := tdb.Subscription(in.ID)
	if actual == nil {
		var existing []string
		if tdb != nil {
			for _, s := range tdb.Subscriptions {
				existing = append(existing, s.Name)
			}
		}
		im.notFound(fmt.Sprintf("%s has no subscription %q in database %q", want.Server, in.ID, db), existing)
		return nil
	}
	if in.ID != want.Name {
		im.differs(fmt.Sprintf("The configuration's subscription is %q (sync.subscription), not %q.", want.Name, in.ID),
			im.renameFix("subscription", in.ID, want.Name))
	}
	sub := lang.QuoteIdent(in.ID)
	srcName := "source." + im.r.Source
	drop := fmt.Sprintf("ALTER SUBSCRIPTION %s DISABLE; ALTER SUBSCRIPTION %s SET (slot_name = NONE); DROP SUBSCRIPTION %s; on %s", sub, sub, sub, want.Server)
	switch {
	case actual.SlotName == "":
		im.differs(fmt.Sprintf("Subscription %q has no slot (slot_name = NONE): it cannot be enabled.", in.ID),
			fmt.Sprintf("Give it the configuration's slot: ALTER SUBSCRIPTION %s SET (slot_name = '%s'); on %s, if that slot exists on %s and has streamed to it, %s.",
				sub, want.SlotName, want.Server, srcName, "or "+im.dropHint(drop)))
	case actual.SlotName != want.SlotName:
		fix := "PostgreSQL cannot rename a slot: " + im.dropHint(drop)
		if s, ok := strings.CutSuffix(actual.SlotName, "_"+db); ok && s != "" && !flagMode(in.Config) {
			fix = fmt.Sprintf("set sync { subscription = %q } in replication %q (the slot name derives from it), or %s", s, im.r.Name, im.dropHint(drop))
		}
		im.differs(fmt.Sprintf("Subscription %q streams from slot %q; the configuration's slot for %q is %q.", in.ID, actual.SlotName, db, want.SlotName),
			strings.ToUpper(fix[:1])+fix[1:]+".")
	case in.Servers[srcName].Slot(actual.SlotName) == nil:
		im.differs(fmt.Sprintf("Subscription %q streams from slot %q, which %s does not have.", in.ID, actual.SlotName, srcName),
			"Without its slot it cannot stream: "+im.dropHint(drop)+".")
	}
	pubs := slices.Sorted(slices.Values(actual.Publications))
	if !slices.Equal(pubs, want.Publications) {
		fix := fmt.Sprintf("Subscribe it to the configuration's publication: ALTER SUBSCRIPTION %s SET PUBLICATION %s WITH (refresh = false); on %s", sub, lang.QuoteIdent(want.Publications[0]), want.Server)
		if len(pubs) == 1 && !flagMode(in.Config) {
			fix += fmt.Sprintf(", or set sync { publication = %q } in replication %q", pubs[0], im.r.Name)
		}
		im.differs(fmt.Sprintf("Subscription %q subscribes to %s; the configuration's publication is %q.", in.ID, strings.Join(pubs, ", "), want.Publications[0]), fix+".")
	}
	if !actual.Enabled {
		im.diags.AddWarning(CodeImportSubscriptionDisabled, in.Addr.String(), "Subscription is disabled",
			"Subscription %q is disabled: nothing streams. The next plan enables it (ALTER SUBSCRIPTION ... ENABLE), and it resumes from its slot's confirmed position.", in.ID)
	}
	if im.diags.HasErrors() {
		return nil
	}
	out := &Imported{Resources: []*state.Resource{record(in.Addr, want)},
		Object: fmt.Sprintf("subscription %q in %q on %s, streaming from slot %q of publication %q", in.ID, db, want.Server, actual.SlotName, want.Publications[0])}
	im.database(out, tdb, actual)
	return out
}

// database adds to an imported subscription the records of the database
// it streams into that the state lacks: the database, its schema and
// post-data, and each table in scope that the subscription streams.
func (im *importer) database(out *Imported, tdb *catalog.Database, sub *catalog.Subscription) {
	db := im.in.Addr.Key
	var adds []*plans.Change
	for _, c := range im.plan {
		if c.Addr.Replication != im.r.Name || im.in.Prior.Resource(c.Addr.String()) != nil {
			continue
		}
		switch c.Addr.Kind {
		case addrs.Database, addrs.Schema, addrs.PostData:
			if c.Addr.Key == db {
				adds = append(adds, c)
			}
		case addrs.Table:
			if ref, err := lang.ParseTableRef(c.Addr.Key); err == nil && ref.Database == db {
				adds = append(adds, c)
			}
		}
	}
	sort.Slice(adds, func(i, j int) bool { return adds[i].Addr.Less(adds[j].Addr) })
	for _, c := range adds {
		if c.Addr.Kind != addrs.Table {
			out.Resources = append(out.Resources, record(c.Addr, c.After))
			out.With = append(out.With, fmt.Sprintf("%s: in place on target.%s, copied before streaming started", c.Addr, im.r.Target))
			continue
		}
		ref, _ := lang.ParseTableRef(c.Addr.Key)
		ta, ok := c.After.(*plans.TableAttrs)
		if !ok {
			continue
		}
		switch st, known := subscriptionTableState(tdb, sub, &TableScope{Ref: ref}); {
		case tdb.Table(ref.Schema, ref.Table) == nil:
			out.Left = append(out.Left, fmt.Sprintf("%s is missing on the target: plan creates it (schema drift) and the subscription's table sync copies it", ref))
		case ta.SchemaOnly:
			out.Resources = append(out.Resources, record(c.Addr, ta))
			out.With = append(out.With, fmt.Sprintf("%s: schema-only, in place on the target", c.Addr))
		case known:
			t := *ta
			t.CopiedByTableSync, t.Subscription = true, sub.Name
			out.Resources = append(out.Resources, record(c.Addr, &t))
			how := "ready"
			if st != catalog.SubStateReady {
				how = describeSubState(st)
			}
			out.With = append(out.With, fmt.Sprintf("%s: streamed by the subscription (%s)", c.Addr, how))
		default:
			out.Left = append(out.Left, fmt.Sprintf("%s exists on the target but the subscription does not stream it: plan hands it to the subscription's table sync (REFRESH PUBLICATION WITH copy_data = true), which copies the source's rows into the table as it is", ref))
		}
	}
}
