package lang

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Limits on numeric settings.
const (
	maxJobs      = 1024
	maxBatchSize = 1_000_000
	// maxIdentLen is PostgreSQL's identifier length limit (NAMEDATALEN-1).
	maxIdentLen = 63
)

var replicationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "source"},
		{Name: "target"},
		{Name: "databases"},
		{Name: "exclude_databases"},
		{Name: "include_tables"},
		{Name: "exclude_tables"},
		{Name: "schema_only"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "table", LabelNames: []string{"ref"}},
		{Type: "schema", LabelNames: []string{"ref"}},
		{Type: "snapshot"},
		{Type: "sync"},
		{Type: "policy"},
	},
}

var tableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "where"}, {Name: "replica_identity"}, {Name: "target"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "time_window"}},
}

var schemaBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "target", Required: true}},
}

var timeWindowSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "column"}, {Name: "last"}},
}

var snapshotSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "jobs"}, {Name: "index_jobs"}, {Name: "globals"}, {Name: "drop_existing"}, {Name: "split_larger_than"},
	},
}

var syncSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "method"}, {Name: "interval"}, {Name: "reconcile_interval"}, {Name: "batch_size"}, {Name: "publication"}, {Name: "subscription"}, {Name: "subscription_password"}, {Name: "enabled"},
	},
}

var policySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "on_schema_drift"}, {Name: "max_lag"}, {Name: "prevent_destroy"}, {Name: "capture_ddl"}},
}

// DefaultSnapshot returns the snapshot settings used when a replication has
// no snapshot block: jobs = min(8, 2 × CPUs), index_jobs = min(4, CPUs).
func DefaultSnapshot() Snapshot {
	cpus := runtime.NumCPU()
	return Snapshot{
		Jobs:            max(1, min(8, 2*cpus)),
		IndexJobs:       max(1, min(4, cpus)),
		Globals:         true,
		SplitLargerThan: DefaultSplitLargerThan,
	}
}

// DefaultSync returns the sync settings used when a replication has no sync block.
func DefaultSync() Sync {
	return Sync{
		Method:            SyncAuto,
		Interval:          DefaultSyncInterval,
		ReconcileInterval: DefaultReconcileInterval,
		BatchSize:         DefaultBatchSize,
		Publication:       DefaultPublication,
		Subscription:      DefaultSubscription,

		SubscriptionPassword: SubscriptionPasswordURL,
	}
}

// DefaultPolicy returns the policy used when a replication has no policy block.
func DefaultPolicy() Policy {
	return Policy{OnSchemaDrift: DriftApply, MaxLag: DefaultMaxLag}
}

// replInfo keeps source positions of one replication for the rules that
// relate several attributes or blocks.
type replInfo struct {
	attrs hcl.Attributes
	// tableRanges are the element ranges of each table list attribute.
	tableRanges map[string][]hcl.Range
	// tables are the table blocks with their positions.
	tables []tableInfo
	// remaps are the target attributes of table and schema blocks.
	remaps []remapInfo
}

// remapInfo is one decoded target attribute: what it moves, where to.
type remapInfo struct {
	attr *hcl.Attribute
	// what is "table db.s1.t" or "schema db.s1", for messages.
	what string
	// to is the target table (Table "" for a schema block).
	to TableRef
}

type tableInfo struct {
	cfg        *TableConfig
	labelRange hcl.Range
	// filterRange points at the where attribute or time_window block.
	filterRange *hcl.Range
	filterName  string
	// targetAttr is the target attribute, when the block remaps the table.
	targetAttr *hcl.Attribute
}

// decodeReplication decodes one replication block.
func (d *decoder) decodeReplication(b *hcl.Block, ctx *hcl.EvalContext) {
	name := b.Labels[0]
	if !hclsyntax.ValidIdentifier(name) {
		d.errorf(CodeInvalidName, b.LabelRanges[0].Ptr(), "Invalid replication name",
			"%q cannot be used in the address replication.%s: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", name, name)
		return
	}
	for _, r := range d.cfg.Replications {
		if r.Name == name {
			d.errorf(CodeDuplicateBlock, b.DefRange.Ptr(), "Duplicate replication",
				"replication %q is already declared at %s. Rename one of the two blocks.", name, rangeLoc(r.DeclRange))
			return
		}
	}
	r := &Replication{
		Name:      name,
		Snapshot:  DefaultSnapshot(),
		Sync:      DefaultSync(),
		Policy:    DefaultPolicy(),
		DeclRange: b.DefRange,
	}
	d.cfg.Replications = append(d.cfg.Replications, r)

	content, diags := b.Body.Content(replicationSchema)
	d.diags = append(d.diags, diags...)
	attrs := content.Attributes
	info := &replInfo{attrs: attrs, tableRanges: map[string][]hcl.Range{}}

	r.Source, _ = d.endpointRef(b, attrs["source"], KindSource)
	r.Target, _ = d.endpointRef(b, attrs["target"], KindTarget)
	if a, ok := attrs["target"]; ok {
		d.targetAttrs[r] = a
	}

	d.exclusive(attrs, "databases", "exclude_databases",
		"databases lists the only databases to replicate; exclude_databases replicates every database but the listed ones. Keep one of the two.")
	d.exclusive(attrs, "include_tables", "exclude_tables",
		"include_tables lists the only tables to replicate; exclude_tables replicates every table but the listed ones. Keep one of the two.")

	if a, ok := attrs["databases"]; ok {
		r.Databases = d.databaseList(a, ctx, true)
	}
	if a, ok := attrs["exclude_databases"]; ok {
		r.ExcludeDatabases = d.databaseList(a, ctx, false)
	}
	for _, n := range []string{"include_tables", "exclude_tables", "schema_only"} {
		a, ok := attrs[n]
		if !ok {
			continue
		}
		refs, ranges := d.tableList(a, ctx, r, n == "include_tables")
		info.tableRanges[n] = ranges
		switch n {
		case "include_tables":
			r.IncludeTables = refs
		case "exclude_tables":
			r.ExcludeTables = refs
		case "schema_only":
			r.SchemaOnly = refs
		}
	}

	seen := map[string]*hcl.Block{}
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "table":
			if ti, ok := d.decodeTable(blk, ctx, r); ok {
				r.Tables = append(r.Tables, ti.cfg)
				info.tables = append(info.tables, ti)
			}
			continue
		case "schema":
			d.decodeSchemaBlock(blk, ctx, r, info)
			continue
		}
		if prev, ok := seen[blk.Type]; ok {
			d.errorf(CodeDuplicateBlock, blk.DefRange.Ptr(), fmt.Sprintf("Duplicate %s block", blk.Type),
				"A replication has at most one %s block; the first is at %s. Merge the two.", blk.Type, rangeLoc(prev.DefRange))
			continue
		}
		seen[blk.Type] = blk
		switch blk.Type {
		case "snapshot":
			d.decodeSnapshot(blk, ctx, &r.Snapshot)
		case "sync":
			d.decodeSync(blk, ctx, &r.Sync)
		case "policy":
			d.decodePolicy(blk, ctx, &r.Policy)
		}
	}
	d.checkTableRules(r, info)
	d.checkRemaps(r, info)
}

// endpointRef decodes `source = source.NAME` or `target = target.NAME` by
// looking at the expression's traversal.
func (d *decoder) endpointRef(b *hcl.Block, a *hcl.Attribute, kind EndpointKind) (string, bool) {
	set, other := d.cfg.Sources, KindTarget
	if kind == KindTarget {
		set, other = d.cfg.Targets, KindSource
	}
	declared := sortedKeys(set)
	example := "NAME"
	if len(declared) > 0 {
		example = declared[0]
	}
	write := fmt.Sprintf("write %s = %s.%s", kind, kind, example)
	if len(declared) == 0 {
		write = fmt.Sprintf("declare a %s \"%s\" { url = ... } block and write %s = %s.%s", kind, example, kind, kind, example)
	}
	if a == nil {
		d.errorf(CodeMissingEndpoint, b.DefRange.Ptr(), fmt.Sprintf("Missing %s", kind),
			"A replication needs a %s: %s.", kind, write)
		return "", false
	}
	tr, diags := hcl.AbsTraversalForExpr(a.Expr)
	if diags.HasErrors() {
		what := "an expression"
		if _, ok := a.Expr.(*hclsyntax.TemplateExpr); ok {
			what = "a string"
		}
		d.attrErrorf(CodeInvalidEndpointReference, a, fmt.Sprintf("Invalid %s reference", kind),
			"%s must be a reference to a %s block, not %s: %s.", kind, kind, what, write)
		return "", false
	}
	if tr.RootName() == string(other) {
		d.attrErrorf(CodeInvalidEndpointReference, a, fmt.Sprintf("Invalid %s reference", kind),
			"%s refers to a %s block, but %s must name a %s block: %s.", tr.RootName()+traversalSuffix(tr), other, kind, kind, write)
		return "", false
	}
	var name string
	if len(tr) == 2 {
		switch step := tr[1].(type) {
		case hcl.TraverseAttr:
			name = step.Name
		case hcl.TraverseIndex:
			if step.Key.Type() == cty.String && step.Key.IsKnown() && !step.Key.IsNull() {
				name = step.Key.AsString()
			}
		}
	}
	if tr.RootName() != string(kind) || name == "" {
		d.attrErrorf(CodeInvalidEndpointReference, a, fmt.Sprintf("Invalid %s reference", kind),
			"%s must be a reference of the form %s.NAME: %s.", kind, kind, write)
		return "", false
	}
	if _, ok := set[name]; !ok {
		detail := fmt.Sprintf("No %s %q is declared. ", kind, name)
		if len(declared) == 0 {
			detail += fmt.Sprintf("Declare it with %s %q { url = ... }.", kind, name)
		} else {
			if s := suggest(name, declared); s != "" {
				detail += fmt.Sprintf("Did you mean %s = %s.%s? ", kind, kind, s)
			}
			detail += fmt.Sprintf("Declared %ss: %s. Write %s = %s.NAME with one of them, or declare %s %q { url = ... }.", kind, strings.Join(declared, ", "), kind, kind, kind, name)
		}
		d.attrErrorf(CodeUndeclaredEndpoint, a, fmt.Sprintf("Reference to undeclared %s", kind), "%s", detail)
		return "", false
	}
	return name, true
}

// traversalSuffix renders the steps after the root of a traversal.
func traversalSuffix(tr hcl.Traversal) string {
	var b strings.Builder
	for _, s := range tr[1:] {
		if a, ok := s.(hcl.TraverseAttr); ok {
			b.WriteString("." + a.Name)
		} else {
			b.WriteString("[...]")
		}
	}
	return b.String()
}

// exclusive reports the later of two mutually exclusive attributes.
func (d *decoder) exclusive(attrs hcl.Attributes, a, b, why string) {
	x, okA := attrs[a]
	y, okB := attrs[b]
	if !okA || !okB {
		return
	}
	first, second := x, y
	if y.Range.Start.Byte < x.Range.Start.Byte {
		first, second = y, x
	}
	d.errorf(CodeMutuallyExclusive, second.NameRange.Ptr(), fmt.Sprintf("%s and %s are mutually exclusive", a, b),
		"%s is already set at line %d. %s", first.Name, first.Range.Start.Line, why)
}

// databaseList decodes databases or exclude_databases.
func (d *decoder) databaseList(a *hcl.Attribute, ctx *hcl.EvalContext, include bool) []string {
	list, ranges, ok := d.stringListAttr(a, ctx, a.Name+` = ["myapp", "analytics"]`)
	if !ok {
		return nil
	}
	if include && len(list) == 0 {
		d.attrErrorf(CodeEmptyList, a, "Empty databases list",
			"databases = [] would replicate nothing: list the databases to replicate, or remove databases to replicate every non-template database.")
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for i, n := range list {
		if strings.TrimSpace(n) == "" {
			d.errorf(CodeEmptyValue, ranges[i].Ptr(), "Empty database name", "Every entry of %s must name a database: remove the empty string.", a.Name)
			continue
		}
		if seen[n] {
			d.warnf(CodeDuplicateEntry, ranges[i].Ptr(), "Duplicate database", "%q is listed twice in %s: remove one.", n, a.Name)
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	if out == nil {
		return []string{}
	}
	return out
}

// tableList decodes a list of table references and checks each against
// the databases in scope. It returns the references and their ranges.
func (d *decoder) tableList(a *hcl.Attribute, ctx *hcl.EvalContext, r *Replication, include bool) ([]TableRef, []hcl.Range) {
	list, ranges, ok := d.stringListAttr(a, ctx, a.Name+` = ["myapp.users", "myapp.sales.orders"]`)
	if !ok {
		return nil, nil
	}
	if include && len(list) == 0 {
		d.attrErrorf(CodeEmptyList, a, "Empty include_tables list",
			"include_tables = [] would replicate no table: list the tables to replicate, or remove include_tables to replicate every table.")
		return nil, nil
	}
	var refs []TableRef
	var outRanges []hcl.Range
	seen := map[TableRef]bool{}
	for i, s := range list {
		ref, err := ParseTableRef(s)
		if err != nil {
			d.errorf(CodeInvalidTableReference, ranges[i].Ptr(), "Invalid table reference", "In %s: %s.", a.Name, err)
			continue
		}
		if !d.checkInScope(r, ref, s, ranges[i]) {
			continue
		}
		if seen[ref] {
			d.warnf(CodeDuplicateEntry, ranges[i].Ptr(), "Duplicate table", "%s is listed twice in %s: remove one.", ref, a.Name)
			continue
		}
		seen[ref] = true
		refs = append(refs, ref)
		outRanges = append(outRanges, ranges[i])
	}
	return refs, outRanges
}

// checkInScope reports a table reference whose database the replication
// does not copy.
func (d *decoder) checkInScope(r *Replication, ref TableRef, text string, rng hcl.Range) bool {
	if r.Databases != nil {
		for _, db := range r.Databases {
			if db == ref.Database {
				return true
			}
		}
		d.errorf(CodeTableNotInDatabases, rng.Ptr(), "Table outside the replicated databases",
			"%q names database %q, which is not in databases = [%s]. Add %q to databases, or fix the database part of the reference.",
			text, ref.Database, quoteList(r.Databases), ref.Database)
		return false
	}
	for _, db := range r.ExcludeDatabases {
		if db == ref.Database {
			d.errorf(CodeTableInExcludedDatabase, rng.Ptr(), "Table in an excluded database",
				"%q names database %q, which exclude_databases leaves out. Remove %q from exclude_databases, or remove this table reference.",
				text, ref.Database, ref.Database)
			return false
		}
	}
	return true
}

// quoteList renders strings as a comma-separated list of quoted strings.
func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// decodeTable decodes a table block.
func (d *decoder) decodeTable(b *hcl.Block, ctx *hcl.EvalContext, r *Replication) (tableInfo, bool) {
	label := b.Labels[0]
	ti := tableInfo{labelRange: b.LabelRanges[0]}
	ref, err := ParseTableRef(label)
	if err != nil {
		d.errorf(CodeInvalidTableReference, b.LabelRanges[0].Ptr(), "Invalid table reference", "In the table block label: %s.", err)
		return ti, false
	}
	if !d.checkInScope(r, ref, label, b.LabelRanges[0]) {
		return ti, false
	}
	for _, t := range r.Tables {
		if t.Ref == ref {
			d.errorf(CodeDuplicateBlock, b.DefRange.Ptr(), "Duplicate table block",
				"Table %s already has a table block at %s. Merge the two blocks into one.", ref, rangeLoc(t.DeclRange))
			return ti, false
		}
	}
	tc := &TableConfig{Ref: ref, DeclRange: b.DefRange}
	ti.cfg = tc
	content, diags := b.Body.Content(tableSchema)
	d.diags = append(d.diags, diags...)
	where, hasWhere := content.Attributes["where"]
	if hasWhere {
		if s, _, ok := d.stringAttr(where, ctx); ok {
			if strings.TrimSpace(s) == "" {
				d.attrErrorf(CodeEmptyValue, where, "Empty where",
					"where is empty: write a SQL condition such as where = \"created_at > now() - interval '90 days'\", or remove it to copy every row.")
			} else if err := CheckRowFilterSyntax(s); err != nil {
				d.attrErrorf(CodeInvalidFilter, where, "Invalid where",
					"The row filter of %s is not one SQL expression: %s. Write a boolean condition over the table's columns, such as where = \"created_at > now() - interval '90 days'\".", ref, err)
			} else {
				tc.Where = s
			}
		}
		ti.filterRange, ti.filterName = where.NameRange.Ptr(), "where"
	}
	if a, ok := content.Attributes["replica_identity"]; ok {
		if s, ok := d.enumAttr(a, ctx, []string{"default", "full"}); ok {
			tc.ReplicaIdentity = s
		}
	}
	if a, ok := content.Attributes["target"]; ok {
		d.decodeTableTarget(a, ctx, tc, &ti)
	}
	var firstTW *hcl.Block
	for _, blk := range content.Blocks {
		if firstTW != nil {
			d.errorf(CodeDuplicateBlock, blk.DefRange.Ptr(), "Duplicate time_window block",
				"A table has at most one time_window; the first is at %s. Remove one.", rangeLoc(firstTW.DefRange))
			continue
		}
		firstTW = blk
		if hasWhere {
			d.errorf(CodeMutuallyExclusive, blk.DefRange.Ptr(), "where and time_window are mutually exclusive",
				"Table %s already has where at line %d. Keep one row filter: either where = \"SQL condition\" or a time_window block.", ref, where.Range.Start.Line)
			continue
		}
		tc.TimeWindow = d.decodeTimeWindow(blk, ctx)
		ti.filterRange, ti.filterName = blk.DefRange.Ptr(), "time_window"
	}
	return ti, true
}

// decodeTimeWindow decodes a time_window block; nil after errors.
func (d *decoder) decodeTimeWindow(b *hcl.Block, ctx *hcl.EvalContext) *TimeWindow {
	content, diags := b.Body.Content(timeWindowSchema)
	d.diags = append(d.diags, diags...)
	tw := &TimeWindow{}
	ok := true
	if a, has := content.Attributes["column"]; has {
		s, good := d.nonEmptyStringAttr(a, ctx)
		tw.Column, ok = s, ok && good
	} else {
		d.errorf(CodeMissingAttribute, b.DefRange.Ptr(), "Missing column in time_window",
			"A time_window needs the timestamp column it filters on: write column = \"created_at\".")
		ok = false
	}
	if a, has := content.Attributes["last"]; has {
		if s, _, good := d.stringAttr(a, ctx); good {
			w, err := ParseWindow(s)
			if err != nil {
				d.attrErrorf(CodeInvalidTimeWindow, a, "Invalid time window", "%s.", err)
				ok = false
			}
			tw.Last = w
		} else {
			ok = false
		}
	} else {
		d.errorf(CodeMissingAttribute, b.DefRange.Ptr(), "Missing last in time_window",
			"A time_window needs its length: write last = \"90 days\" (units: seconds, minutes, hours, days, weeks, months, years).")
		ok = false
	}
	if !ok {
		return nil
	}
	return tw
}

// decodeSnapshot decodes a snapshot block over the defaults.
func (d *decoder) decodeSnapshot(b *hcl.Block, ctx *hcl.EvalContext, s *Snapshot) {
	content, diags := b.Body.Content(snapshotSchema)
	d.diags = append(d.diags, diags...)
	attrs := content.Attributes
	if a, ok := attrs["jobs"]; ok {
		if n, ok := d.intAttr(a, ctx, 1, maxJobs, "jobs = 8"); ok {
			s.Jobs = int(n)
		}
	}
	if a, ok := attrs["index_jobs"]; ok {
		if n, ok := d.intAttr(a, ctx, 1, maxJobs, "index_jobs = 4"); ok {
			s.IndexJobs = int(n)
		}
	}
	if a, ok := attrs["globals"]; ok {
		if v, ok := d.boolAttr(a, ctx); ok {
			s.Globals = v
		}
	}
	if a, ok := attrs["drop_existing"]; ok {
		if v, ok := d.boolAttr(a, ctx); ok {
			s.DropExisting = v
		}
	}
	if a, ok := attrs["split_larger_than"]; ok {
		if n, ok := d.sizeAttr(a, ctx); ok {
			s.SplitLargerThan = n
		}
	}
}

// sizeAttr decodes split_larger_than: a string for ParseSize, a number of
// bytes, or 0 / "off" for never.
func (d *decoder) sizeAttr(a *hcl.Attribute, ctx *hcl.EvalContext) (int64, bool) {
	val, ok := d.eval(a.Expr, ctx)
	if !ok {
		return 0, false
	}
	val, _ = val.UnmarkDeep()
	if !val.IsNull() && val.Type() == cty.Number {
		return d.intAttr(a, ctx, 0, 1<<62, `split_larger_than = "8GiB" (or 0 for never)`)
	}
	s, _, ok := d.stringAttr(a, ctx)
	if !ok {
		return 0, false
	}
	if t := strings.TrimSpace(s); strings.EqualFold(t, "off") || t == "0" {
		return 0, true
	}
	n, err := ParseSize(s)
	if err != nil {
		d.attrErrorf(CodeInvalidSize, a, "Invalid size for split_larger_than", "%s.", err)
		return 0, false
	}
	return n, true
}

// decodeSync decodes a sync block over the defaults.
func (d *decoder) decodeSync(b *hcl.Block, ctx *hcl.EvalContext, s *Sync) {
	content, diags := b.Body.Content(syncSchema)
	d.diags = append(d.diags, diags...)
	attrs := content.Attributes
	if a, ok := attrs["method"]; ok {
		allowed := []string{string(SyncAuto), string(SyncLogical), string(SyncXmin), string(SyncStream), string(SyncNone)}
		if v, ok := d.enumAttr(a, ctx, allowed); ok {
			s.Method = SyncMethod(v)
		}
	}
	if a, ok := attrs["interval"]; ok {
		if v, ok := d.boundedIntervalAttr(a, ctx, false, CheckSyncInterval); ok {
			s.Interval = v
		}
	}
	if a, ok := attrs["reconcile_interval"]; ok {
		if v, ok := d.boundedIntervalAttr(a, ctx, true, CheckSyncInterval); ok {
			s.ReconcileInterval = v
		}
	}
	if a, ok := attrs["batch_size"]; ok {
		if n, ok := d.intAttr(a, ctx, 1, maxBatchSize, "batch_size = 10000"); ok {
			s.BatchSize = int(n)
		}
	}
	if a, ok := attrs["subscription_password"]; ok {
		if v, ok := d.enumAttr(a, ctx, []string{string(SubscriptionPasswordURL), string(SubscriptionPasswordNone)}); ok {
			s.SubscriptionPassword = SubscriptionPassword(v)
		}
	}
	if a, ok := attrs["enabled"]; ok {
		if v, ok := d.boolAttr(a, ctx); ok {
			s.Paused = !v
		}
	}
	for _, n := range []string{"publication", "subscription"} {
		a, ok := attrs[n]
		if !ok {
			continue
		}
		v, ok := d.nonEmptyStringAttr(a, ctx)
		if !ok {
			continue
		}
		if len(v) > maxIdentLen {
			d.attrErrorf(CodeNameTooLong, a, fmt.Sprintf("%s name too long", n),
				"PostgreSQL names are at most %d bytes; %q has %d. Write a shorter name.", maxIdentLen, v, len(v))
			continue
		}
		if n == "publication" {
			s.Publication = v
		} else {
			s.Subscription = v
		}
	}
}

// decodePolicy decodes a policy block over the defaults.
func (d *decoder) decodePolicy(b *hcl.Block, ctx *hcl.EvalContext, p *Policy) {
	content, diags := b.Body.Content(policySchema)
	d.diags = append(d.diags, diags...)
	attrs := content.Attributes
	if a, ok := attrs["on_schema_drift"]; ok {
		if v, ok := d.enumAttr(a, ctx, []string{string(DriftApply), string(DriftPlan), string(DriftFail), string(DriftIgnore)}); ok {
			p.OnSchemaDrift = SchemaDriftPolicy(v)
		}
	}
	if a, ok := attrs["max_lag"]; ok {
		if v, ok := d.intervalAttr(a, ctx, false); ok {
			p.MaxLag = v
		}
	}
	if a, ok := attrs["prevent_destroy"]; ok {
		if v, ok := d.boolAttr(a, ctx); ok {
			p.PreventDestroy = v
		}
	}
	if a, ok := attrs["capture_ddl"]; ok {
		if v, ok := d.boolAttr(a, ctx); ok {
			p.CaptureDDL = v
		}
	}
}
