package planner

import (
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

// identityFull reports whether the configuration asks for REPLICA
// IDENTITY FULL on a table of a database (a table block, from HCL, TOML or
// --replica-identity-full), whether or not the table is in scope.
func (b *builder) identityFull(db string, t *catalog.Table) bool {
	full := false
	for _, tc := range b.r.Tables {
		if refMatches(tc.Ref, db, t.Schema, t.Name) && tc.ReplicaIdentity != "" {
			full = tc.ReplicaIdentity == catalog.ReplicaIdentityFull
		}
	}
	return full
}

// publishedWithInheritance returns the published tables of a database
// and, after them, the inheritance descendants each one takes into the
// publication (ALTER PUBLICATION ... ADD TABLE without ONLY publishes
// them too), each once. via maps a descendant to the published table it
// comes with.
func publishedWithInheritance(ds *DatabaseScope, tables []*TableScope) (out []*catalog.Table, via map[*catalog.Table]string) {
	via = map[*catalog.Table]string{}
	seen := map[catalog.RelName]bool{}
	for _, ts := range tables {
		seen[catalog.RelName{Schema: ts.Ref.Schema, Name: ts.Ref.Table}] = true
		out = append(out, ts.Source)
	}
	for i := 0; i < len(out); i++ {
		parent := catalog.RelName{Schema: out[i].Schema, Name: out[i].Name}
		for _, t := range ds.Source.Tables {
			k := catalog.RelName{Schema: t.Schema, Name: t.Name}
			if seen[k] {
				continue
			}
			for _, p := range t.Inherits {
				if p == parent {
					seen[k] = true
					out = append(out, t)
					via[t] = parent.Schema + "." + parent.Name
					if v := via[out[i]]; v != "" {
						via[t] = v
					}
					break
				}
			}
		}
	}
	return out, via
}

// replicaIdentity checks that every table the publication of a database
// carries (inheritance children included) keeps UPDATE and DELETE
// working on the source once published, and returns the tables to set to
// REPLICA IDENTITY FULL on the source and on the target (configured
// "full" but not yet so on either side). A table without a usable
// replica identity is an error listing every such table with the
// choices: the tool never leaves a source table whose application
// UPDATE/DELETE fail (issue 12).
func (b *builder) replicaIdentity(ds *DatabaseScope, tables []*TableScope, a addrs.Addr) []plans.TableName {
	all, via := publishedWithInheritance(ds, tables)
	tdb := b.dst.Database(ds.Name)
	var full []plans.TableName
	var missing, refs []string
	for _, t := range all {
		want := b.identityFull(ds.Name, t)
		if want {
			var tt *catalog.Table
			if tdb != nil {
				tt = tdb.Table(t.Schema, t.Name)
			}
			if t.ReplicaIdentity != catalog.ReplicaIdentityFull || (tt != nil && tt.ReplicaIdentity != catalog.ReplicaIdentityFull) {
				full = append(full, plans.TableName{Schema: t.Schema, Table: t.Name})
			}
			continue
		}
		if t.UsableReplicaIdentity() {
			continue
		}
		ref := lang.TableRef{Database: ds.Name, Schema: t.Schema, Table: t.Name}
		why := "no primary key"
		if t.ReplicaIdentity == catalog.ReplicaIdentityNothing {
			why = "REPLICA IDENTITY NOTHING"
		}
		if v := via[t]; v != "" {
			why += ", inherits from " + v + " and is published with it"
		}
		missing = append(missing, fmt.Sprintf("%s (%s)", ref.String(), why))
		refs = append(refs, ref.String())
	}
	if len(missing) > 0 {
		var blocks []string
		for _, r := range refs {
			blocks = append(blocks, fmt.Sprintf("  table %q {\n    replica_identity = \"full\"\n  }", r))
		}
		b.diags.AddError(CodeNoReplicaIdentity, a.String(), "Tables without a usable replica identity",
			"Publishing %d table(s) of %q on %s would make the application's UPDATE and DELETE on them fail on the source (\"cannot update table ... because it does not have a replica identity and publishes updates\"): %s. Choose for each:\n"+
				"- REPLICA IDENTITY FULL on the source and the target: add to the configuration\n%s\n  (flags: --replica-identity-full=%s);\n"+
				"- leave it out: exclude_tables = [%s] (flags: --exclude-tables=%s); an inheritance child is published with its parent, so exclude the parent too or give the child a primary key;\n"+
				"- or sync %q by another method: sync { method = \"xmin\" };\n"+
				"or add a primary key to the table on the source.",
			len(missing), ds.Name, b.srcName, strings.Join(missing, ", "), strings.Join(blocks, "\n"), strings.Join(refs, ","),
			quotedList(refs), strings.Join(refs, ","), ds.Name)
	}
	plans.SortTableNames(full)
	return full
}

// quotedList renders strings as an HCL list body: "a", "b".
func quotedList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
