package actions

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/jackc/pgx/v5"
)

// listQuotedSettings are the settings whose value is a list that
// PostgreSQL stores with each element quoted as an identifier where
// needed (GUC_LIST_QUOTE, as pg_dump handles them).
var listQuotedSettings = []string{"local_preload_libraries", "search_path", "session_preload_libraries",
	"shared_preload_libraries", "temp_tablespaces", "unix_socket_directories"}

// setDatabaseProperties gives a target database the planned owner,
// settings, ACL and comment, in one transaction. Roles missing on the
// target were left out by the plan.
func (p *Provider) setDatabaseProperties(ctx context.Context, target conninfo.Info, db string, props *plans.DatabaseProperties) error {
	if props == nil {
		return nil
	}
	conn, err := conninfo.Connect(ctx, target.WithDatabase(db))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var current []string
	if err := conn.QueryRow(ctx, "SELECT datacl::text[] FROM pg_catalog.pg_database WHERE datname = $1", db).Scan(&current); err != nil {
		return fmt.Errorf("read the ACL of database %s: %w", db, err)
	}
	stmts := databasePropertyStatements(db, props, current)
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, sql := range stmts {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fmt.Errorf("target: %s: %w", sql, err)
			}
		}
		p.log.Info("database properties set", "database", db, "statements", len(stmts))
		return nil
	})
}

// databasePropertyStatements renders the statements that set props on
// database db whose ACL is current (aclitem texts, nil for the default).
func databasePropertyStatements(db string, props *plans.DatabaseProperties, current []string) []string {
	d := "DATABASE " + pgx.Identifier{db}.Sanitize()
	var stmts []string
	if props.Owner != "" {
		stmts = append(stmts, "ALTER "+d+" OWNER TO "+pgx.Identifier{props.Owner}.Sanitize())
	}
	stmts = append(stmts, "ALTER "+d+" RESET ALL")
	for _, s := range props.Settings {
		name, value, ok := strings.Cut(s, "=")
		if !ok {
			continue
		}
		stmts = append(stmts, "ALTER "+d+" SET "+settingName(name)+" TO "+settingValue(name, value))
	}
	if props.ACL != nil {
		grantees := []string{""}
		for _, item := range append(append([]string{}, current...), props.ACL...) {
			if g := aclItemGrantee(item); !slices.Contains(grantees, g) {
				grantees = append(grantees, g)
			}
		}
		for _, g := range grantees {
			stmts = append(stmts, "REVOKE ALL ON "+d+" FROM "+granteeSQL(g))
		}
		for _, item := range props.ACL {
			g := aclItemGrantee(item)
			privs := item[strings.LastIndexByte(strings.SplitN(item, "/", 2)[0], '=')+1:]
			privs = strings.SplitN(privs, "/", 2)[0]
			var plain, withOption []string
			names := map[byte]string{'C': "CREATE", 'T': "TEMPORARY", 'c': "CONNECT"}
			for i := 0; i < len(privs); i++ {
				name, ok := names[privs[i]]
				if !ok {
					continue
				}
				if i+1 < len(privs) && privs[i+1] == '*' {
					withOption = append(withOption, name)
					i++
				} else {
					plain = append(plain, name)
				}
			}
			if len(plain) > 0 {
				stmts = append(stmts, "GRANT "+strings.Join(plain, ", ")+" ON "+d+" TO "+granteeSQL(g))
			}
			if len(withOption) > 0 {
				stmts = append(stmts, "GRANT "+strings.Join(withOption, ", ")+" ON "+d+" TO "+granteeSQL(g)+" WITH GRANT OPTION")
			}
		}
	}
	comment := "NULL"
	if props.Comment != "" {
		comment = quoteLiteral(props.Comment)
	}
	stmts = append(stmts, "COMMENT ON "+d+" IS "+comment)
	return stmts
}

// aclItemGrantee returns the role of an aclitem text ("grantee=privs" or
// "grantee=privs/grantor"), unquoted; "" for PUBLIC.
func aclItemGrantee(item string) string {
	item = strings.SplitN(item, "/", 2)[0]
	if strings.HasPrefix(item, `"`) {
		// A quoted name may contain = and /: find its closing quote.
		for i := 1; i < len(item); i++ {
			if item[i] == '"' {
				if i+1 < len(item) && item[i+1] == '"' {
					i++
					continue
				}
				return strings.ReplaceAll(item[1:i], `""`, `"`)
			}
		}
	}
	g, _, _ := strings.Cut(item, "=")
	return g
}

// granteeSQL renders a grantee: PUBLIC for "".
func granteeSQL(g string) string {
	if g == "" {
		return "PUBLIC"
	}
	return pgx.Identifier{g}.Sanitize()
}

// settingName renders a setting's name, each dotted part quoted.
func settingName(name string) string {
	return pgx.Identifier(strings.Split(name, ".")).Sanitize()
}

// settingValue renders a stored setting value as ALTER ... SET takes it:
// one literal, or for a list-quoted setting one literal per element.
func settingValue(name, value string) string {
	if !slices.Contains(listQuotedSettings, strings.ToLower(name)) {
		return quoteLiteral(value)
	}
	var elems []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(value); i++ {
		ch := value[i]
		switch {
		case ch == '"' && quoted && i+1 < len(value) && value[i+1] == '"':
			cur.WriteByte('"')
			i++
		case ch == '"':
			quoted = !quoted
		case ch == ',' && !quoted:
			elems = append(elems, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	elems = append(elems, strings.TrimSpace(cur.String()))
	for i, e := range elems {
		elems[i] = quoteLiteral(e)
	}
	return strings.Join(elems, ", ")
}

// quoteLiteral renders a string as an SQL literal (standard_conforming_strings).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
