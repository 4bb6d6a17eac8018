package plans

import "github.com/database-replicator/database-replicator/planner/addrs"

// DatabaseAttrs describe a target database.
type DatabaseAttrs struct {
	// Name is the database name; Server the target endpoint ("target.x").
	Name, Server string
	// Encoding is the database's encoding.
	Encoding string
	// Locale is what the database is created with; nil for an existing
	// database, whose locale is not planned.
	Locale *Locale
	// Tables is how many tables an existing database holds (shown when a
	// database is dropped and recreated); 0 when not counted.
	Tables int
	// DropData is set on the delete of destroy --drop-data: the database
	// itself is dropped.
	DropData bool
}

// DatabaseProperties are the properties of a database that live outside
// it (pg_dump without --create leaves them out): owner, settings, ACL
// and comment. Post-data sets them on the target as on the source.
type DatabaseProperties struct {
	// Owner is the owning role, "" when not planned (the role is missing
	// on the target).
	Owner string
	// Settings are "name=value" (ALTER DATABASE ... SET), sorted.
	Settings []string
	// ACL are aclitem texts without their grantor ("grantee=privileges",
	// "" as grantee for PUBLIC), sorted; nil for the default.
	ACL []string
	// Comment is the comment, "" if none.
	Comment string
}

func (p *DatabaseProperties) encode(m map[string]any) {
	if p == nil {
		return
	}
	if p.Owner != "" {
		m["database_owner"] = p.Owner
	}
	if p.Settings != nil {
		m["database_settings"] = list(p.Settings)
	}
	if p.ACL != nil {
		m["database_acl"] = list(p.ACL)
	}
	if p.Comment != "" {
		m["database_comment"] = p.Comment
	}
}

func decodeDatabaseProperties(f *fields) *DatabaseProperties {
	if !f.has("database_owner") && !f.has("database_settings") && !f.has("database_acl") && !f.has("database_comment") {
		return nil
	}
	return &DatabaseProperties{Owner: f.str("database_owner"), Settings: f.strs("database_settings"),
		ACL: f.strs("database_acl"), Comment: f.str("database_comment")}
}

// Locale is the collation and character classification of a database.
type Locale struct {
	Collate, CType string
}

// Kind implements Attrs.
func (*DatabaseAttrs) Kind() addrs.Kind { return addrs.Database }

func (a *DatabaseAttrs) encode() map[string]any {
	m := map[string]any{}
	for k, v := range map[string]string{"name": a.Name, "encoding": a.Encoding, "server": a.Server} {
		if v != "" {
			m[k] = v
		}
	}
	if a.Locale != nil {
		m["collate"], m["ctype"] = a.Locale.Collate, a.Locale.CType
	}
	if a.Tables > 0 {
		m["tables"] = number(a.Tables)
	}
	if a.DropData {
		m["drop_data"] = true
	}
	return m
}

func decodeDatabase(f *fields) *DatabaseAttrs {
	a := &DatabaseAttrs{Name: f.str("name"), Encoding: f.str("encoding"), Server: f.str("server"),
		Tables: int(f.integer("tables")), DropData: f.boolean("drop_data")}
	if f.has("collate") || f.has("ctype") {
		a.Locale = &Locale{Collate: f.str("collate"), CType: f.str("ctype")}
	}
	return a
}

// GlobalsAttrs describe the copy of roles and grants.
type GlobalsAttrs struct {
	// From and To are the source and target endpoints.
	From, To string
	// Skipped says which roles are not copied.
	Skipped string
	// RolesCreated and RolesSkipped are recorded by apply.
	RolesCreated, RolesSkipped *int
}

// Kind implements Attrs.
func (*GlobalsAttrs) Kind() addrs.Kind { return addrs.Globals }

func (a *GlobalsAttrs) encode() map[string]any {
	m := map[string]any{"from": a.From, "to": a.To, "skipped": a.Skipped}
	if a.RolesCreated != nil {
		m["roles_created"] = number(*a.RolesCreated)
	}
	if a.RolesSkipped != nil {
		m["roles_skipped"] = number(*a.RolesSkipped)
	}
	return m
}

func decodeGlobals(f *fields) *GlobalsAttrs {
	return &GlobalsAttrs{From: f.str("from"), To: f.str("to"), Skipped: f.str("skipped"),
		RolesCreated: f.optInt("roles_created"), RolesSkipped: f.optInt("roles_skipped")}
}
