package planner

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/catalog"
)

// databaseProperties returns the properties the target database should
// have: the source's owner, settings, ACL and comment. A role that does
// not exist on the target (and that no globals copy of this plan creates)
// is left out with a warning, so that the plan converges.
func (b *builder) databaseProperties(ds *DatabaseScope, a addrs.Addr) *plans.DatabaseProperties {
	src := ds.Source
	globalsPending := b.r.Snapshot.Globals && b.prior(addrs.Addr{Replication: b.r.Name, Kind: addrs.Globals}) == nil
	roleOK := func(role string) bool {
		return role == "" || globalsPending || slices.Contains(b.dst.Roles, role)
	}
	p := &plans.DatabaseProperties{Settings: src.Settings, Comment: src.Comment}
	var missing []string
	if roleOK(src.Owner) {
		p.Owner = src.Owner
	} else {
		missing = append(missing, fmt.Sprintf("%q (owner)", src.Owner))
	}
	for _, item := range normalizeACL(src.ACL) {
		grantee := aclGrantee(item)
		if !roleOK(grantee) {
			missing = append(missing, fmt.Sprintf("%q (grantee of %s)", grantee, item))
			continue
		}
		p.ACL = append(p.ACL, item)
	}
	if src.ACL != nil && p.ACL == nil {
		p.ACL = []string{}
	}
	if len(missing) > 0 {
		b.diags.AddWarning(CodeDatabaseRoleMissing, a.String(), "Database role missing on the target",
			"The properties of %q on %s name roles that %s does not have: %s. They are not set on the target; create the roles there%s and plan again.",
			ds.Name, b.srcName, b.dstName, strings.Join(missing, ", "), hclOrFlags(b.in.Config, " (or set snapshot { globals = true })", ""))
	}
	return p
}

// propertiesDiffer names the properties of the target database that
// differ from want, or returns nil.
func propertiesDiffer(want *plans.DatabaseProperties, tdb *catalog.Database) []string {
	var out []string
	if want.Owner != "" && tdb.Owner != want.Owner {
		out = append(out, fmt.Sprintf("owner %s (target: %s)", want.Owner, tdb.Owner))
	}
	if !slices.Equal(want.Settings, tdb.Settings) {
		out = append(out, fmt.Sprintf("settings [%s] (target: [%s])", strings.Join(want.Settings, ", "), strings.Join(tdb.Settings, ", ")))
	}
	if want.ACL != nil && !slices.Equal(want.ACL, normalizeACL(tdb.ACL)) {
		out = append(out, fmt.Sprintf("ACL [%s] (target: [%s])", strings.Join(want.ACL, ", "), strings.Join(normalizeACL(tdb.ACL), ", ")))
	}
	if want.Comment != tdb.Comment {
		out = append(out, "comment")
	}
	return out
}

// normalizeACL drops the grantor of aclitem texts and sorts them: the
// grantor is the owner on each side, and the items compare by grantee
// and privileges. nil stays nil (the default ACL).
func normalizeACL(acl []string) []string {
	if acl == nil {
		return nil
	}
	out := make([]string, 0, len(acl))
	for _, item := range acl {
		if i := strings.LastIndexByte(item, '/'); i >= 0 {
			item = item[:i]
		}
		out = append(out, item)
	}
	sort.Strings(out)
	return out
}

// aclGrantee returns the role of an aclitem text, unquoted; "" for PUBLIC.
func aclGrantee(item string) string {
	i := strings.LastIndexByte(item, '=')
	if i < 0 {
		return ""
	}
	g := item[:i]
	if strings.HasPrefix(g, `"`) && strings.HasSuffix(g, `"`) && len(g) >= 2 {
		g = strings.ReplaceAll(g[1:len(g)-1], `""`, `"`)
	}
	return g
}

// describeProperties names the planned properties for a reason, "" when
// none is planned.
func describeProperties(p *plans.DatabaseProperties) string {
	var out []string
	if p.Owner != "" {
		out = append(out, "owner ("+p.Owner+")")
	}
	if len(p.Settings) > 0 {
		out = append(out, "settings ("+strings.Join(p.Settings, ", ")+")")
	}
	if p.ACL != nil {
		out = append(out, "ACL")
	}
	if p.Comment != "" {
		out = append(out, "comment")
	}
	return strings.Join(out, ", ")
}
