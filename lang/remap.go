package lang

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// decodeTableTarget decodes a table block's target = "schema.table" (or
// "table": the source schema is kept).
func (d *decoder) decodeTableTarget(a *hcl.Attribute, ctx *hcl.EvalContext, tc *TableConfig, ti *tableInfo) {
	s, ok := d.nonEmptyStringAttr(a, ctx)
	if !ok {
		return
	}
	parts, err := SplitQualifiedName(s)
	if err == nil && len(parts) > 2 {
		err = fmt.Errorf("%q has %d dotted parts; a table is remapped within its database: write \"schema.table\" or \"table\"", s, len(parts))
	}
	if err == nil {
		for _, p := range parts {
			if len(p) > maxIdentLen {
				err = fmt.Errorf("%q is longer than PostgreSQL's %d-byte names", p, maxIdentLen)
			}
		}
	}
	if err != nil {
		d.attrErrorf(CodeInvalidRemapTarget, a, "Invalid table target", "The target of %s: %s.", tc.Ref, err)
		return
	}
	schema, table := tc.Ref.Schema, parts[0]
	if len(parts) == 2 {
		schema, table = parts[0], parts[1]
	}
	if schema == tc.Ref.Schema && table == tc.Ref.Table {
		d.attrErrorf(CodeInvalidRemapTarget, a, "Table remapped onto itself",
			"The target of %s is its own name: remove target, or write the schema.table it should have on the target.", tc.Ref)
		return
	}
	tc.TargetSchema, tc.TargetTable = schema, table
	ti.targetAttr = a
}

// decodeSchemaBlock decodes a `schema "db.schema" { target = "s2" }` block.
func (d *decoder) decodeSchemaBlock(b *hcl.Block, ctx *hcl.EvalContext, r *Replication, info *replInfo) {
	label := b.Labels[0]
	parts, err := SplitQualifiedName(label)
	if err == nil && len(parts) != 2 {
		err = fmt.Errorf("schema reference %q has %d dotted parts: write \"db.schema\"", label, len(parts))
	}
	if err != nil {
		d.errorf(CodeInvalidTableReference, b.LabelRanges[0].Ptr(), "Invalid schema reference", "In the schema block label: %s.", err)
		return
	}
	db, schema := parts[0], parts[1]
	if !d.checkInScope(r, TableRef{Database: db, Schema: schema}, label, b.LabelRanges[0]) {
		return
	}
	for _, s := range r.Schemas {
		if s.Database == db && s.Schema == schema {
			d.errorf(CodeDuplicateBlock, b.DefRange.Ptr(), "Duplicate schema block",
				"Schema %s already has a schema block at %s. Merge the two blocks into one.", label, rangeLoc(s.DeclRange))
			return
		}
	}
	content, diags := b.Body.Content(schemaBlockSchema)
	d.diags = append(d.diags, diags...)
	a, ok := content.Attributes["target"]
	if !ok {
		return // hcl reported the missing required attribute
	}
	target, ok := d.nonEmptyStringAttr(a, ctx)
	if !ok {
		return
	}
	tparts, err := SplitQualifiedName(target)
	if err == nil && len(tparts) != 1 {
		err = fmt.Errorf("%q has %d dotted parts: write the schema name alone, in double quotes if it contains a dot", target, len(tparts))
	}
	if err == nil && len(tparts[0]) > maxIdentLen {
		err = fmt.Errorf("%q is longer than PostgreSQL's %d-byte names", tparts[0], maxIdentLen)
	}
	if err != nil {
		d.attrErrorf(CodeInvalidRemapTarget, a, "Invalid schema target", "The target of schema %s: %s.", label, err)
		return
	}
	if tparts[0] == schema {
		d.attrErrorf(CodeInvalidRemapTarget, a, "Schema remapped onto itself",
			"The target of schema %s is its own name: remove the schema block, or write the schema its tables should land in.", label)
		return
	}
	sc := &SchemaConfig{Database: db, Schema: schema, Target: tparts[0], DeclRange: b.DefRange}
	r.Schemas = append(r.Schemas, sc)
	info.remaps = append(info.remaps, remapInfo{attr: a, what: "schema " + label, to: TableRef{Database: db, Schema: sc.Target}})
}

// checkRemaps relates the remappings of one replication: two sources onto
// one target name are an error, and so is remapping with a sync method
// that cannot apply changes under another name.
func (d *decoder) checkRemaps(r *Replication, info *replInfo) {
	remaps := info.remaps
	for _, ti := range info.tables {
		if ti.targetAttr != nil && ti.cfg.TargetTable != "" {
			to := r.TargetOf(ti.cfg.Ref)
			remaps = append(remaps, remapInfo{attr: ti.targetAttr, what: "table " + ti.cfg.Ref.String(), to: to})
		}
	}
	if len(remaps) == 0 {
		return
	}
	if r.Sync.Method != SyncStream {
		first := remaps[0]
		why := ""
		switch r.Sync.Method {
		case SyncLogical:
			why = "A native logical subscription applies every change to the table of the same schema and name on the target; it cannot remap."
		case SyncXmin:
			why = "The xmin engine does not remap: its upserts, reconciliation and change tracking address the target table by the source's name."
		case SyncNone:
			why = "Without a sync engine nothing keeps the remapped tables up to date; the copy alone does not remap."
		default:
			why = fmt.Sprintf("sync.method = %q may choose logical or xmin, neither of which remaps.", r.Sync.Method)
		}
		d.attrErrorf(CodeRemapNeedsStream, first.attr, "Remapping needs the stream engine",
			"The %s is remapped, but sync.method is %q. %s Set method = \"stream\" in the sync block (the tool applies the change stream itself and writes under the target names), or remove target.", first.what, r.Sync.Method, why)
	}
	// Two sources onto one target name. Table remaps collide by table;
	// schema remaps by schema (two schemas merged into one could hold the
	// same table name: remap their tables one by one instead).
	seen := map[TableRef]remapInfo{}
	for _, m := range remaps {
		if prev, ok := seen[m.to]; ok {
			name := m.to.Schema
			if m.to.Table != "" {
				name += "." + m.to.Table
			}
			fix := "Give each its own target."
			if m.to.Table == "" {
				fix = "Give each schema its own target, or remap the tables of one of them one by one with table blocks."
			}
			d.attrErrorf(CodeRemapCollision, m.attr, "Two sources remapped onto one target",
				"The %s and the %s (at %s) both land in %s on database %q. %s", m.what, prev.what, rangeLoc(prev.attr.Range), quoteName(name), m.to.Database, fix)
			continue
		}
		seen[m.to] = m
	}
}

// quoteName renders a dotted name in double quotes for a message.
func quoteName(s string) string { return `"` + s + `"` }
