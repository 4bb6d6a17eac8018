package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/connstr"
	"github.com/database-replicator/database-replicator/state"
)

// SlotName derives the replication slot name for one database of a
// replication: slot names are unique per source server, so the database
// is part of the name. Names longer than PostgreSQL's 63 bytes, or with
// characters slots do not allow, get a hash suffix.
func SlotName(subscription, database string) string {
	raw := subscription + "_" + database
	var b strings.Builder
	clean := true
	for _, r := range strings.ToLower(raw) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
			clean = false
		}
	}
	name := b.String()
	if clean && len(name) <= 63 && raw == strings.ToLower(raw) {
		return name
	}
	sum := sha256.Sum256([]byte(raw))
	suffix := "_" + hex.EncodeToString(sum[:4])
	if len(name) > 63-len(suffix) {
		name = name[:63-len(suffix)]
	}
	return name + suffix
}

// publishedTables returns the tables a publication carries (every table
// in scope that copies rows) with their desired filters.
func publishedTables(ds *DatabaseScope) []*TableScope {
	var out []*TableScope
	for _, ts := range ds.Tables {
		if !ts.SchemaOnly {
			out = append(out, ts)
		}
	}
	return out
}

// publication plans the source publication of one database.
func (b *builder) publication(ds *DatabaseScope, schema *plans.Change) *plans.Change {
	a := b.addr(addrs.Publication, ds.Name)
	name := b.r.Sync.Publication
	tables := publishedTables(ds)
	var want []plans.PublishedTable
	// wanted indexes want by table.
	wanted := map[plans.TableName]int{}
	// left out of the publication: tables the subscription's table sync
	// copies again (their table changes add them back), and tables the
	// target lacks under on_schema_drift = "ignore" (the apply worker
	// would fail on their first row).
	leftOut := map[string]bool{}
	tdb := b.dst.Database(ds.Name)
	for _, ts := range tables {
		switch {
		case b.resync[ts.Ref.String()] != "":
			leftOut[ts.Ref.String()] = true
		case b.r.Policy.OnSchemaDrift == lang.DriftIgnore && schema.Action != plans.Create && tdb != nil && tdb.Table(ts.Ref.Schema, ts.Ref.Table) == nil:
			leftOut[ts.Ref.String()] = true
			b.diags.AddWarning(CodeTableNotPublished, a.String(), "Table not published",
				"%s is in scope but missing on %s, and policy.on_schema_drift = \"ignore\": it is not added to publication %q (the subscription's apply worker would fail on its first row). Create it on the target, or set on_schema_drift = \"apply\".",
				ts.Ref.String(), b.dstName, name)
		}
	}
	// Before PostgreSQL 15 the stream engine filters in its applier: the
	// publication carries the tables without filters.
	applierFilters := b.applierFilters()
	for _, ts := range tables {
		if !leftOut[ts.Ref.String()] {
			wanted[tableName(ts)] = len(want)
			pt := plans.PublishedTable{Table: tableName(ts), Filter: ts.Filter, Window: timeWindow(ts.Window)}
			if applierFilters {
				pt.Filter, pt.Window = "", nil
			}
			want = append(want, pt)
		}
		if ts.Filter != "" {
			if chk := b.in.FilterChecks[ts.Ref.String()]; ts.Window == nil && chk.NotPublishable != "" && applierFilters {
				b.diags.AddError(CodeRowFilterUnpublishable, a.String(), "Row filter cannot be used by the stream applier",
					"%s runs PostgreSQL %s, so the stream engine's applier evaluates the filter of %s for every change, and allows what a publication allows: %s. Only immutable expressions over the table's columns give the same rows as the copy; for a moving time cut-off use a time_window block (frozen to a constant cut-off when the table is copied), or use sync { method = \"xmin\" }.",
					b.srcName, b.src.Version, ts.Ref.String(), chk.NotPublishable)
			} else if ts.Window == nil && chk.NotPublishable != "" && b.src.VersionNum >= 150000 {
				b.diags.AddError(CodeRowFilterUnpublishable, a.String(), "Row filter cannot be used in a publication",
					"%s on %s refuses the filter of %s in a publication: %s. Publications allow only immutable expressions over the table's columns; %s.",
					b.srcName, ds.Name, ts.Ref.String(), chk.NotPublishable, hclOrFlags(b.in.Config,
						`for a moving time cut-off use a time_window block (frozen to a constant cut-off when the publication is created), or use sync { method = "xmin" }`,
						`for a moving time cut-off use --time-filter "[db.]table:column:window" instead of --table-filter (TOML: time_filters), frozen to a constant cut-off when the publication is created`))
			}
			if b.src.VersionNum < 150000 && !applierFilters {
				b.diags.AddError(CodeRowFilterNeedsPG15, a.String(), "Row filters need PostgreSQL 15 on the source",
					"%s has a row filter, and %s runs PostgreSQL %s; publications carry row filters only from 15 on. %s",
					ts.Ref.String(), b.srcName, b.src.Version, hclOrFlags(b.in.Config,
						`Use sync { method = "xmin" }, upgrade the source, or remove the filter.`,
						"Upgrade the source, or drop the table's --table-filter/--time-filter."))
			}
		}
		outside := b.in.FilterChecks[ts.Ref.String()].OutsideReplicaIdentity
		if ts.Filter == "" || b.src.VersionNum < 150000 && !applierFilters {
			outside = "" // no filter published, none applied (refused above)
		}
		if ts.Window != nil && !slices.Contains(ts.Source.PrimaryKey, ts.Window.Column) {
			outside = fmt.Sprintf("column %q of the time window is not part of the primary key", ts.Window.Column)
		}
		if outside != "" && applierFilters && ts.ReplicaIdentity != "full" && ts.Source.ReplicaIdentity != "full" {
			fix := fmt.Sprintf("Add to the configuration:\n  table %q {\n    replica_identity = \"full\"\n  }\nor filter on primary-key columns only.", ts.Ref.String())
			if flagMode(b.in.Config) {
				fix = fmt.Sprintf("Add --replica-identity-full=%s (REPLICA IDENTITY FULL on the source and the target), or filter on primary-key columns only.", ts.Ref.String())
			}
			b.diags.AddError(CodeRowFilterReplicaIdentity, a.String(), "Row filter uses columns outside the replica identity",
				"%s runs PostgreSQL %s, so the stream engine's applier filters %s itself: to tell whether an UPDATE moves a row into or out of the filter it needs the old row's filtered columns, which the source sends only with REPLICA IDENTITY FULL or for key columns (%s). %s",
				b.srcName, b.src.Version, ts.Ref.String(), outside, fix)
		} else if outside != "" && ts.ReplicaIdentity != "full" && ts.Source.ReplicaIdentity != "full" {
			fix := fmt.Sprintf("Add to the configuration:\n  table %q {\n    replica_identity = \"full\"\n  }\nor filter on primary-key columns only.", ts.Ref.String())
			if flagMode(b.in.Config) {
				fix = fmt.Sprintf("Add --replica-identity-full=%s (REPLICA IDENTITY FULL on the source and the target), or filter on primary-key columns only.", ts.Ref.String())
			}
			b.diags.AddError(CodeRowFilterReplicaIdentity, a.String(), "Row filter uses columns outside the replica identity",
				"Once %s is published with its row filter, UPDATE and DELETE on it would fail on %s (%s). %s",
				ts.Ref.String(), b.srcName, outside, fix)
		}
	}
	if b.r.Policy.CaptureDDL && b.desired[b.addr(addrs.DDLCapture, ds.Name).String()] {
		// The log of captured DDL travels with the data.
		wanted[ddlLogName] = len(want)
		want = append(want, plans.PublishedTable{Table: ddlLogName})
	}
	full := b.replicaIdentity(ds, tables, a)
	after := &plans.PublicationAttrs{Name: name, Server: b.srcName, Tables: want, SetReplicaIdentityFull: full}
	c := &plans.Change{Addr: a, Action: plans.NoOp, After: after, DependsOn: []addrs.Addr{schema.Addr}}
	prior := b.prior(a)
	var actual *catalog.Publication
	for _, p := range ds.Source.Publications {
		if p.Name == name {
			actual = p
		}
	}
	switch {
	case actual == nil && prior == nil:
		c.Action, c.Reason = plans.Create, fmt.Sprintf("publish %d table(s) of %q on %s", len(want), ds.Name, b.srcName)
	case actual == nil:
		c.Action, c.Reason = plans.Create, fmt.Sprintf("recorded in state but missing on %s (dropped outside database-replicator): create it again", b.srcName)
	case prior == nil:
		b.notManaged(CodePublicationNotManaged, a, "Publication exists and is not managed here",
			fmt.Sprintf("%s already has a publication %q in %q that this state does not record (the predecessor's default name, or a state file that was lost). database-replicator never takes over an object unasked.",
				b.srcName, name, ds.Name),
			name, `choose another sync { publication = "..." }`)
	default:
		var have []plans.PublishedTable
		haveFilters := map[plans.TableName]string{}
		for _, pt := range actual.Tables {
			t := plans.TableName{Schema: pt.Schema, Table: pt.Name}
			have = append(have, plans.PublishedTable{Table: t, Filter: pt.RowFilter})
			haveFilters[t] = pt.RowFilter
		}
		sort.Slice(have, func(i, j int) bool { return have[i].Table.Less(have[j].Table) })
		c.Before = &plans.PublicationAttrs{Name: name, Server: b.srcName, Tables: have}
		var why []string
		// The tables dropped for a re-copy by the table sync say why
		// themselves; any other difference is "published tables differ".
		others := map[plans.TableName]bool{}
		var dropped []lang.TableRef
		for _, h := range have {
			if ts := ds.Table(h.Table.Schema, h.Table.Table); ts != nil && b.resync[ts.Ref.String()] != "" {
				ref := ts.Ref.String()
				why = append(why, fmt.Sprintf("%s: %s: removed from the publication (ALTER PUBLICATION ... DROP TABLE) before the subscription's refresh; %s adds it back with its new filter once the target table is emptied",
					ref, b.resync[ref], b.addr(addrs.Table, ref)))
				dropped = append(dropped, ts.Ref)
				continue
			}
			others[h.Table] = true
		}
		after.DropForTableSync = dropped
		if !sameTables(others, wanted) {
			why = append(why, "published tables differ")
		}
		for _, ts := range tables {
			if leftOut[ts.Ref.String()] || applierFilters {
				continue
			}
			w := &want[wanted[tableName(ts)]]
			have := haveFilters[tableName(ts)]
			if ts.Window != nil {
				if !windowFilterMatches(have, ts.Window.Column) {
					why = append(why, "row filter of "+ts.Ref.String()+" differs")
				} else {
					w.Cutoff = have
				}
				continue
			}
			if !FiltersEqual(ts.Filter, have, b.in.FilterChecks[ts.Ref.String()].Deparsed) {
				why = append(why, "row filter of "+ts.Ref.String()+" differs")
			} else if have != "" {
				// Show the stored spelling so an equal filter renders no diff.
				w.Filter = have
			}
		}
		if len(full) > 0 {
			why = append(why, "replica identity FULL requested (on the source and the target)")
		}
		if len(why) > 0 {
			c.Action, c.Reason = plans.Update, strings.Join(why, "; ")
		}
	}
	return b.add(c)
}

// notManaged reports a replication object that exists on a server while
// the state does not record it: the fix names the import command for it
// (address and name) and destroy for removing it; rename is the HCL
// alternative, left out in flag mode, where names cannot be chosen.
func (b *builder) notManaged(code diag.Code, a addrs.Addr, summary, detail, id, rename string) {
	fix := fmt.Sprintf("If it belongs to this replication, bring it under management with %s: import checks it against the configuration first, and records it. To remove it instead, import it and run %s.",
		ImportCommand(b.in.Config, a, id), Command(b.in.Config, "destroy"))
	if !flagMode(b.in.Config) {
		fix += " Or " + rename + "."
	}
	b.diags.Append(diag.Diagnostic{Severity: diag.Error, Code: code, Summary: summary, Detail: detail, Address: a.String(), Fix: fix})
}

// tableName is the name of a scoped table inside its database.
func tableName(ts *TableScope) plans.TableName {
	return plans.TableName{Schema: ts.Ref.Schema, Table: ts.Ref.Table}
}

// sameTables reports whether two sets of tables hold the same names.
func sameTables(a map[plans.TableName]bool, b map[plans.TableName]int) bool {
	if len(a) != len(b) {
		return false
	}
	for t := range a {
		if _, ok := b[t]; !ok {
			return false
		}
	}
	return true
}

// slot plans the logical replication slot of one database.
func (b *builder) slot(ds *DatabaseScope, pub addrs.Addr) *plans.Change {
	a := b.addr(addrs.Slot, ds.Name)
	name := SlotName(b.r.Sync.Subscription, ds.Name)
	after := &plans.SlotAttrs{Name: name, Plugin: "pgoutput", Server: b.srcName, Database: ds.Name}
	before := *after
	c := &plans.Change{Addr: a, Action: plans.NoOp, After: after, DependsOn: []addrs.Addr{pub}}
	var actual *catalog.Slot
	for i := range b.src.Slots {
		if b.src.Slots[i].Name == name {
			actual = &b.src.Slots[i]
		}
	}
	prior := b.prior(a)
	switch {
	case actual == nil && prior == nil:
		c.Action = plans.Create
		c.Reason = "create the slot with an exported snapshot: every table is copied inside that snapshot, so streaming starts exactly where the copy ends"
	case actual == nil:
		c.Action = plans.Replace
		c.Reason = fmt.Sprintf("the slot is gone from %s: changes since it was lost cannot be streamed; create a new slot and copy every table of %q again", b.srcName, ds.Name)
		b.recopyDB[ds.Name] = "the replication slot was lost"
	case prior == nil:
		b.notManaged(CodeSlotNotManaged, a, "Replication slot exists and is not managed here",
			fmt.Sprintf("%s already has a replication slot %q that this state does not record (the predecessor's, or a state file that was lost). database-replicator never takes over an object unasked.",
				b.srcName, name),
			name, `choose another sync { subscription = "..." } (the slot name derives from it)`)
	case b.subscriptionLost(ds):
		c.Before = &before
		c.Action = plans.Replace
		c.Reason = "the subscription was dropped outside database-replicator and took its replication progress with it: streaming again from this slot could apply its last transactions twice, so the slot is created again and every table of the database is copied again inside the new snapshot"
		b.recopyDB[ds.Name] = "the subscription and its replication progress were lost"
	case b.snapshotInterrupted(ds) && b.resumesSnapshot(ds, actual):
		c.Before = &before
		b.resumeDB[ds.Name] = true
		b.reportResumed(ds, a)
	case b.snapshotInterrupted(ds):
		c.Before = &before
		c.Action = plans.Replace
		c.Reason = "an earlier apply stopped after creating the slot and before every table was copied: its exported snapshot is gone, so the slot is created again and every table of the database is copied again inside the new snapshot"
		b.recopyDB[ds.Name] = "the exported snapshot of the interrupted apply is gone"
	default:
		c.Before = &before
		if actual.WALStatus == "lost" {
			c.Action = plans.Replace
			c.Reason = "the slot's WAL was removed (wal_status = lost): create a new slot and copy every table again"
			b.recopyDB[ds.Name] = "the replication slot lost its WAL"
		}
	}
	if c.Action == plans.Replace {
		if sub := b.targetSubscription(ds); sub != nil {
			// The subscription's apply worker would attach to the new slot
			// at once and apply changes to tables still being emptied and
			// copied: apply disables it before the slot is replaced, and
			// the subscription's change enables it after the copies.
			after.DisableSubscription = sub.Name
			c.Reason += fmt.Sprintf("; subscription %q on %s is disabled first, so that nothing is applied to the tables until they are copied", sub.Name, b.dstName)
		}
	}
	return b.add(c)
}

// StoresSubscriptionPassword reports whether the subscription of r stores
// a password in its connection string to source: only one written in the
// source URL, and only while sync.subscription_password is "url". A
// password this machine takes from PGPASSWORD or a password file is never
// stored; the target server then logs in with its own ~/.pgpass.
func StoresSubscriptionPassword(r *lang.Replication, source conninfo.Info) bool {
	return r.Sync.SubscriptionPassword != lang.SubscriptionPasswordNone && source.WrittenPassword() != ""
}

// subscription plans the target subscription of one database.
func (b *builder) subscription(ds *DatabaseScope, deps []addrs.Addr) *plans.Change {
	a := b.addr(addrs.Subscription, ds.Name)
	name := b.r.Sync.Subscription
	slot := SlotName(name, ds.Name)
	src := b.in.Config.Sources[b.r.Source]
	conn := ""
	stores := false
	if src != nil {
		conn = connstr.RedactURL(src.URL)
		if info, err := conninfo.ParseURL(src.URL); err == nil {
			info = info.WithDatabase(ds.Name)
			stores = StoresSubscriptionPassword(b.r, info)
			if !stores {
				info = info.WithoutWrittenPassword()
			}
			conn = info.Redacted()
		}
	}
	paused := b.syncPaused()
	after := &plans.SubscriptionAttrs{Name: name, Server: b.dstName, SlotName: slot,
		Publications: []string{b.r.Sync.Publication}, Enabled: !paused, Connection: conn,
		Options: "create_slot = false, copy_data = false", StoresPassword: stores}
	c := &plans.Change{Addr: a, Action: plans.NoOp, After: after, DependsOn: deps}
	if b.driftForReview[ds.Name] != "" {
		// Enabled again only after the reviewed DDL ran.
		c.DependsOn = append(append([]addrs.Addr{}, deps...), b.addr(addrs.Schema, ds.Name))
	}
	if stores {
		setting := `set sync { subscription_password = "none" }`
		if flagMode(b.in.Config) {
			setting = "add --subscription-password none"
		}
		b.diags.AddWarning(CodeSubscriptionStoresPassword, a.String(), "The subscription will store a password",
			"The source URL carries a password, and PostgreSQL stores a subscription's connection string in pg_subscription on %s, readable by its superusers. To keep it out: %s and put the password in ~/.pgpass of the postgres user on the target host; validate checks that the target can log in that way (see docs/security.md).", b.dstName, setting)
	}
	tdb := b.dst.Database(ds.Name)
	var actual *catalog.Subscription
	if tdb != nil {
		for _, s := range tdb.Subscriptions {
			if s.Name == name {
				actual = s
			}
		}
	}
	prior := b.prior(a)
	switch {
	case actual == nil && prior == nil:
		c.Action, c.Reason = plans.Create, "start streaming from the slot, where the snapshot copy ended (copy_data = false)"
	case actual == nil:
		c.Action = plans.Create
		c.Reason = fmt.Sprintf("recorded in state but missing on %s (dropped outside database-replicator): create it again; it resumes from the slot's confirmed position", b.dstName)
	case prior == nil:
		b.notManaged(CodeSubscriptionNotManaged, a, "Subscription exists and is not managed here",
			fmt.Sprintf("%s already has a subscription %q in %q that this state does not record (the predecessor's, or a state file that was lost). database-replicator never takes over an object unasked.",
				b.dstName, name, ds.Name),
			name, `choose another sync { subscription = "..." }`)
	default:
		before := &plans.SubscriptionAttrs{Name: name, Server: b.dstName, SlotName: actual.SlotName,
			Publications: actual.Publications, Enabled: actual.Enabled, Connection: conn,
			Options: "create_slot = false, copy_data = false", StoresPassword: after.StoresPassword}
		var why []string
		c.Before = before
		has, known := actual.StoresPassword()
		if known && has != after.StoresPassword {
			before.StoresPassword = has
			if has {
				cause := "the source URL has none"
				if b.r.Sync.SubscriptionPassword == lang.SubscriptionPasswordNone {
					cause = `sync.subscription_password = "none"`
				}
				why = append(why, "its connection string stores a password and "+cause+": store it without one (the target server then logs in with its own ~/.pgpass)")
			} else {
				why = append(why, "its connection string has no password and sync.subscription_password = \"url\" stores the source URL's: set the connection string with it")
			}
		}
		if stop := b.stopApplying(ds, after); stop != "" {
			why = append(why, stop)
		}
		if sync := b.tableSync(ds, actual, c.Addr, before, after); sync != "" {
			why = append(why, sync)
		}
		if log := b.subscribeDDLLog(ds, actual, after); log != "" {
			why = append(why, log)
		}
		if reason := b.recopyDB[ds.Name]; reason != "" {
			// The slot change disabled it (see slot): the copies are done
			// when this change runs, so it streams from the new slot. The
			// plan shows it as enabled false -> true.
			before.Enabled = false
			why = append(why, fmt.Sprintf("%s: the slot is replaced and every table copied again with the subscription disabled; "+
				"enable it once the copies are done, streaming from the new slot", reason))
		} else {
			why = append(why, b.pauseDrift(a, actual.Enabled, paused)...)
		}
		if actual.SlotName != slot {
			why = append(why, fmt.Sprintf("it uses slot %q instead of %q", actual.SlotName, slot))
		}
		if !reflect.DeepEqual(actual.Publications, []string{b.r.Sync.Publication}) {
			why = append(why, "its publications differ")
		}
		if len(why) == 0 && prior.Status != state.StatusDone {
			why = append(why, "the previous apply stopped before it finished: finish it")
		}
		if len(why) > 0 {
			c.Action, c.Reason = plans.Update, strings.Join(why, "; ")
		}
		if len(after.RefreshPublication) > 0 {
			// A new partition is created by the schema drift while the
			// publication, which carries it through its root, may not
			// change: the refresh waits for the schema itself.
			c.DependsOn = append(c.DependsOn, b.addr(addrs.Schema, ds.Name))
		}
	}
	return b.add(c)
}

// xmin plans the xmin cursor of one table (xmin sync method).
func (b *builder) xmin(ts *TableScope) *plans.Change {
	a := b.addr(addrs.Xmin, ts.Ref.String())
	after := &plans.XminAttrs{Interval: lang.FormatInterval(b.r.Sync.Interval), BatchSize: b.r.Sync.BatchSize,
		PrimaryKey: ts.Source.PrimaryKey}
	c := &plans.Change{Addr: a, Action: plans.NoOp, After: after, DependsOn: []addrs.Addr{b.addr(addrs.Table, ts.Ref.String())}}
	if len(ts.Source.PrimaryKey) == 0 && len(ts.Source.UniqueKey) == 0 {
		b.diags.AddWarning(CodeXminNoPrimaryKey, a.String(), "Table without primary key under xmin sync",
			"%s has no primary key and no unique index over NOT NULL columns: xmin sync cannot upsert or reconcile it row by row, so each cycle that sees a change compares it with the target as a multiset of rows (hashing the rows that may differ on both sides, or the whole table after deletes and updates) and writes only the difference. Add a primary key to make that cheaper.", ts.Ref.String())
	}
	after.Paused = b.syncPaused()
	if prior := b.prior(a); prior == nil || b.recopyDB[ts.Ref.Database] != "" {
		c.Action, c.Reason = plans.Create, "start the xmin cursor at the snapshot's xmin watermark"
	} else {
		c.Before = b.priorAttrs(a)
		if before, ok := c.Before.(*plans.XminAttrs); ok && before.Paused != after.Paused {
			c.Action, c.Reason = plans.Update, "resume: sync runs the table's xmin cycles again, from where they stopped"
			if after.Paused {
				c.Action, c.Reason = plans.Update, "pause: sync runs no xmin cycle for the table until sync is enabled again"
			}
		}
	}
	return b.add(c)
}

// windowFilterMatches reports whether a stored publication filter is the
// frozen form of a time window on column: "(column > 'constant'::type)".
func windowFilterMatches(stored, column string) bool {
	n := NormalizeFilter(stored)
	for _, col := range []string{strings.ToLower(column), `"` + column + `"`} {
		if strings.HasPrefix(n, col+">'") || strings.HasPrefix(n, col+">='") {
			return true
		}
	}
	return false
}

// stopApplying plans the first half of the re-copy of tables by the table
// sync (see planResync): it records them in the change's stop_applying
// attribute and returns the reason for an update, or "".
func (b *builder) stopApplying(ds *DatabaseScope, after *plans.SubscriptionAttrs) string {
	var tables []lang.TableRef
	for _, ts := range ds.Tables {
		if b.resync[ts.Ref.String()] != "" {
			tables = append(tables, ts.Ref)
		}
	}
	if len(tables) == 0 {
		return ""
	}
	sortRefs(tables)
	after.StopApplying = tables
	return fmt.Sprintf("%s removed from the publication for a re-copy: REFRESH PUBLICATION so that the apply worker stops applying it (pg_subscription_rel no longer lists it), then wait until the subscription has applied every change published before the removal; the table's change empties it and hands it to the table sync",
		strings.Join(refStrings(tables), ", "))
}

// streaming reports whether streaming of a database has started: an
// earlier apply created its subscription, which exists on the target, and
// nothing forces a new snapshot. Tables that join the scope from then on
// are copied by the subscription's table sync: the slot's exported
// snapshot is gone (correctness rule 8).
func (b *builder) streaming(ds *DatabaseScope) bool {
	if b.method != lang.SyncLogical && b.method != lang.SyncStream || b.recopyDB[ds.Name] != "" {
		return false
	}
	return b.subscriptionStarted(ds)
}

// subscriptionStarted reports whether the state records the subscription
// of a database (in any status) and it exists on the target.
func (b *builder) subscriptionStarted(ds *DatabaseScope) bool {
	sub := b.prior(b.addr(addrs.Subscription, ds.Name))
	tdb := b.dst.Database(ds.Name)
	if sub == nil || tdb == nil {
		return false
	}
	var name string
	if sa := priorOf[*plans.SubscriptionAttrs](b, b.addr(addrs.Subscription, ds.Name)); sa != nil {
		name = sa.Name
	}
	if name == "" {
		name = b.r.Sync.Subscription
	}
	return tdb.Subscription(name) != nil
}

// syncedByTableSync reports whether the state records a table as copied
// by the subscription's table sync.
func (b *builder) syncedByTableSync(ds *DatabaseScope, ts *TableScope) bool {
	sub := priorOf[*plans.SubscriptionAttrs](b, b.addr(addrs.Subscription, ds.Name))
	return sub != nil && slices.Contains(sub.TableSync, ts.Ref)
}

// subscriptionTableState returns the pg_subscription_rel state of a table
// on the target: its own, or for a partitioned table the least advanced of
// its partitions' (they are what is published by default). ok is false
// when the subscription does not know the table.
func subscriptionTableState(tdb *catalog.Database, sub *catalog.Subscription, ts *TableScope) (st string, ok bool) {
	belongs := map[[2]string]bool{{ts.Ref.Schema, ts.Ref.Table}: true}
	for changed := true; changed; {
		changed = false
		for _, t := range tdb.Tables {
			k := [2]string{t.Schema, t.Name}
			if !belongs[k] && t.ParentName != "" && belongs[[2]string{t.ParentSchema, t.ParentName}] {
				belongs[k], changed = true, true
			}
		}
	}
	for _, r := range sub.Tables {
		if !belongs[[2]string{r.Schema, r.Name}] {
			continue
		}
		if !ok || st == catalog.SubStateReady {
			st = r.State
		}
		ok = true
	}
	return st, ok
}

// tableSync plans the tables that joined the scope after streaming
// started (no table record in state): a table the subscription does not
// know yet is handed to its table sync (ALTER SUBSCRIPTION ... REFRESH
// PUBLICATION WITH (copy_data = true), which copies only tables new to
// the subscription); one it knows is synced or syncing, and is left
// alone. It records them in the change's table_sync attribute and
// returns the reason for an update, or "".
func (b *builder) tableSync(ds *DatabaseScope, actual *catalog.Subscription, a addrs.Addr, before, after *plans.SubscriptionAttrs) string {
	sub := priorOf[*plans.SubscriptionAttrs](b, a)
	if sub == nil {
		sub = &plans.SubscriptionAttrs{}
	}
	inScope := map[lang.TableRef]bool{}
	for _, ts := range ds.Tables {
		inScope[ts.Ref] = true
	}
	var recorded, synced, refresh []lang.TableRef
	var syncing []string
	for _, r := range sub.TableSync {
		if inScope[r] {
			recorded = append(recorded, r)
		}
	}
	synced = append(synced, recorded...)
	tdb := b.dst.Database(ds.Name)
	if b.streaming(ds) {
		for _, ts := range ds.Tables {
			if ts.SchemaOnly {
				continue
			}
			ref := ts.Ref.String()
			if b.resync[ref] != "" && b.prior(b.addr(addrs.Table, ref)) == nil {
				// A detached partition copied again (leftThePublication):
				// its table change hands it to the table sync.
				continue
			}
			if r := b.prior(b.addr(addrs.Table, ref)); r != nil {
				// A table the table sync copied again (its filter
				// changed) keeps its table record.
				ta := priorOf[*plans.TableAttrs](b, b.addr(addrs.Table, ref))
				if st, known := subscriptionTableState(tdb, actual, ts); ta != nil && ta.CopiedByTableSync && b.resync[ref] == "" && known && st != catalog.SubStateReady {
					syncing = append(syncing, fmt.Sprintf("%s (%s)", ref, describeSubState(st)))
				}
				continue
			}
			if tdb.Table(ts.Ref.Schema, ts.Ref.Table) == nil && b.r.Policy.OnSchemaDrift == lang.DriftIgnore {
				// Not published (the publication warns): nothing to sync.
				continue
			}
			if !slices.Contains(synced, ts.Ref) {
				synced = append(synced, ts.Ref)
			}
			st, known := subscriptionTableState(tdb, actual, ts)
			switch {
			case known && st != catalog.SubStateReady:
				syncing = append(syncing, fmt.Sprintf("%s (%s)", ref, describeSubState(st)))
			case known:
			default:
				refresh = append(refresh, ts.Ref)
				if tt := tdb.Table(ts.Ref.Schema, ts.Ref.Table); tt != nil && tt.EstimatedRows > 0 {
					b.diags.AddWarning(CodeTableSyncIntoRows, a.String(), "Table sync copies into a table that holds rows",
						"%s already exists on %s with about %d row(s): the subscription's table sync copies the source's rows into it as it is, without emptying it first. Empty it on the target before apply if those rows are stale.", ref, b.dstName, tt.EstimatedRows)
				}
			}
		}
	}
	if b.streaming(ds) {
		// Partitions created on the source after streaming started.
		for _, r := range b.unsubscribedPartitions(ds, actual) {
			if !slices.Contains(refresh, r) {
				refresh = append(refresh, r)
			}
		}
	}
	sortRefs(synced)
	sortRefs(recorded)
	before.TableSync = recorded
	after.TableSync = synced
	if len(syncing) > 0 {
		b.diags.AddWarning(CodeTableSyncInProgress, a.String(), "Table sync in progress",
			"The subscription's table sync is still copying %s; each table streams once it is ready. Nothing to do: plan shows no change for them meanwhile.", strings.Join(syncing, ", "))
	}
	if len(refresh) == 0 {
		return ""
	}
	after.RefreshPublication = refresh
	return fmt.Sprintf("%s added to the scope after streaming started: copied by the subscription's table sync (REFRESH PUBLICATION WITH copy_data = true)", strings.Join(refStrings(refresh), ", "))
}

// sortRefs sorts table references as their "db.schema.table" texts sort.
func sortRefs(rs []lang.TableRef) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].String() < rs[j].String() })
}

// describeSubState names a pg_subscription_rel state.
func describeSubState(st string) string {
	switch st {
	case catalog.SubStateInit:
		return "initializing"
	case catalog.SubStateDataSync:
		return "copying"
	case catalog.SubStateFinished:
		return "copy finished"
	case catalog.SubStateSyncDone:
		return "catching up"
	}
	return "state " + st
}

// snapshotInterrupted reports whether an earlier apply created the slot of
// a database but stopped before all its tables were copied and before the
// subscription existed: the tables still to copy cannot join the lost
// exported snapshot (correctness rule 8).
func (b *builder) snapshotInterrupted(ds *DatabaseScope) bool {
	if sub := b.prior(b.addr(addrs.Subscription, ds.Name)); sub != nil && (sub.Status == state.StatusDone || b.subscriptionStarted(ds)) {
		// Streaming started: tables that joined the scope since are the
		// subscription's table sync's to copy.
		return false
	}
	for _, ts := range ds.Tables {
		if ts.SchemaOnly {
			continue
		}
		if r := b.prior(b.addr(addrs.Table, ts.Ref.String())); r == nil || r.Status != state.StatusDone {
			return true
		}
	}
	return false
}

// resumesSnapshot reports whether the stream engine resumes the
// interrupted snapshot of ds instead of replacing its slot: the slot is
// healthy, the database is not recreated, post-data never completed (the
// snapshot never finished), and at least one table was copied in the
// slot's snapshot (otherwise there is nothing to keep).
// Tables still to copy are copied in a newer snapshot; the stream skips
// their changes that snapshot holds (docs/sync.md).
func (b *builder) resumesSnapshot(ds *DatabaseScope, slot *catalog.Slot) bool {
	if b.method != lang.SyncStream || b.recopyDB[ds.Name] != "" || slot.WALStatus == "lost" {
		return false
	}
	if sp := b.prior(b.addr(addrs.Slot, ds.Name)); sp == nil || sp.Status != state.StatusDone {
		return false
	}
	if pd := b.prior(b.addr(addrs.PostData, ds.Name)); pd != nil && pd.Status == state.StatusDone {
		// The snapshot finished once and sync may be streaming: a table
		// that joined the scope since is not a resumed copy (a running
		// applier reads table starts only when it connects).
		return false
	}
	for _, ts := range ds.Tables {
		if ts.SchemaOnly {
			continue
		}
		if r := b.prior(b.addr(addrs.Table, ts.Ref.String())); r != nil && r.Status == state.StatusDone {
			return true
		}
	}
	return false
}

// reportResumed says which tables a resumed snapshot keeps and which it
// copies again.
func (b *builder) reportResumed(ds *DatabaseScope, slot addrs.Addr) {
	var kept, again []string
	for _, ts := range ds.Tables {
		if ts.SchemaOnly {
			continue
		}
		if r := b.prior(b.addr(addrs.Table, ts.Ref.String())); r != nil && r.Status == state.StatusDone {
			kept = append(kept, ts.Ref.String())
		} else {
			again = append(again, ts.Ref.String())
		}
	}
	b.diags.AddWarning(CodeSnapshotResumed, slot.String(), "The interrupted snapshot resumes",
		"An earlier apply stopped before every table of %q was copied. The slot is kept; %d table(s) copied in its snapshot are kept (%s); %d table(s) are copied again in a new snapshot (%s), and the stream applies their changes from that snapshot's consistent point on (docs/sync.md).",
		ds.Name, len(kept), strings.Join(kept, ", "), len(again), strings.Join(again, ", "))
}

// targetSubscription returns the subscription of ds that exists on the
// target, or nil.
func (b *builder) targetSubscription(ds *DatabaseScope) *catalog.Subscription {
	tdb := b.dst.Database(ds.Name)
	if tdb == nil {
		return nil
	}
	return tdb.Subscription(b.r.Sync.Subscription)
}

// subscriptionLost reports whether the subscription of a database was
// recorded as done but no longer exists on the target: its replication
// origin (how far the target had applied) is gone with it.
func (b *builder) subscriptionLost(ds *DatabaseScope) bool {
	sub := b.prior(b.addr(addrs.Subscription, ds.Name))
	if sub == nil || sub.Status != state.StatusDone {
		return false
	}
	tdb := b.dst.Database(ds.Name)
	if tdb == nil {
		return false // the database itself is recreated
	}
	var name string
	if sa := priorOf[*plans.SubscriptionAttrs](b, b.addr(addrs.Subscription, ds.Name)); sa != nil {
		name = sa.Name
	}
	return tdb.Subscription(name) == nil
}

// subscribeDDLLog plans the subscription of the DDL capture's log when the
// capture joins a subscription that already streams (policy.capture_ddl
// turned on later): the publication adds the log, and the subscription is
// refreshed without copying it (REFRESH PUBLICATION WITH (copy_data =
// false)): its rows are statements already run on the source, and copying
// them would replay them out of stream order. It records it in the
// change's subscribe_ddl_log attribute and returns the reason for an
// update, or "". One refresh cannot both copy new tables and leave the log
// uncopied: with tables for the table sync in the same plan, it refuses.
func (b *builder) subscribeDDLLog(ds *DatabaseScope, actual *catalog.Subscription, after *plans.SubscriptionAttrs) string {
	capture := b.addr(addrs.DDLCapture, ds.Name)
	if !b.desired[capture.String()] {
		return ""
	}
	for _, t := range actual.Tables {
		if t.Schema == plans.DDLLogSchema && t.Name == plans.DDLLogTable {
			return ""
		}
	}
	if len(after.RefreshPublication) > 0 {
		b.diags.AddError(CodeDDLCaptureUnsupported, capture.String(), "DDL capture cannot join the subscription together with new tables",
			"%q already streams, and turning capture_ddl on subscribes its log without a copy (REFRESH PUBLICATION WITH (copy_data = false)), while %s need the table sync's copy (copy_data = true); one refresh cannot do both. Apply the new tables first (without capture_ddl), then turn capture_ddl on.",
			ds.Name, strings.Join(refStrings(after.RefreshPublication), ", "))
		return ""
	}
	after.SubscribeDDLLog = true
	return fmt.Sprintf("the DDL capture's log %s.%s joined the publication: REFRESH PUBLICATION WITH (copy_data = false) subscribes it without copying its rows (DDL run before the refresh is left to schema drift repair)",
		plans.DDLLogSchema, plans.DDLLogTable)
}

// applierFilters reports whether the stream engine's applier filters rows
// itself: before PostgreSQL 15 publications carry no row filters.
func (b *builder) applierFilters() bool {
	return b.method == lang.SyncStream && b.src.VersionNum < 150000
}
