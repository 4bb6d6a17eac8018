package globals

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/conninfo"
	"github.com/database-replicator/database-replicator/providers/postgres/connstr"
	"github.com/database-replicator/database-replicator/providers/postgres/pgtool"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Result is what Copy did.
type Result struct {
	// Applied is the number of statements that ran on the target.
	Applied int `json:"applied"`
	// Skipped is the number of statements left out on purpose.
	Skipped int `json:"skipped"`
	// Failed is the number of statements the target rejected.
	Failed int `json:"failed"`
	// RolesCreated are the roles created on the target, sorted.
	RolesCreated []string `json:"roles_created,omitempty"`
	// RolesUpdated are roles that existed on the target and were altered
	// to match the source, sorted.
	RolesUpdated []string `json:"roles_updated,omitempty"`
	// RolesSkipped are the source's roles left out, sorted.
	RolesSkipped []string `json:"roles_skipped,omitempty"`
	// PasswordsCopied is false when the source did not let us read role
	// passwords (no superuser): the roles then exist without a password.
	PasswordsCopied bool `json:"passwords_copied"`
	// Warnings say what was skipped or failed and why; they never hold a
	// password or a password verifier.
	Warnings []string `json:"warnings,omitempty"`
}

// providerRolePrefixes are role names (prefixes) that managed services
// create for themselves; a target cannot, and must not, create them.
var providerRolePrefixes = []string{"rds", "cloudsql", "azure", "alloydb", "google", "aurora"}

// Copy copies roles, their attributes, passwords, settings and
// memberships from the source server to the target server: it runs
// `pg_dumpall --globals-only` on the source (with --no-role-passwords
// when the source user is not a superuser, with a warning), and applies
// the statements one by one on the target, leaving out, with a warning:
// superuser roles, pg_* roles, provider roles (rds*, cloudsql*, azure*,
// alloydb*, google*, aurora*), the target's connecting user, roles that
// are superusers on the target, and tablespaces. A role that already
// exists on the target is altered instead of created. A statement the
// target rejects is a warning, not an error; only a failure to run
// pg_dumpall or to reach the target is. log receives every warning as it
// happens (may be nil).
func Copy(ctx context.Context, src, dst conninfo.Info, log func(msg string)) (Result, error) {
	res := Result{PasswordsCopied: true}
	warn := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		res.Warnings = append(res.Warnings, msg)
		if log != nil {
			log(msg)
		}
	}

	// Source: who are we, may we read passwords?
	srcConn, err := conninfo.Connect(ctx, src)
	if err != nil {
		return res, fmt.Errorf("copy globals: source: %w", err)
	}
	var srcSuper bool
	var srcVersion int
	err = srcConn.QueryRow(ctx, `SELECT rolsuper, pg_catalog.current_setting('server_version_num')::int
		FROM pg_catalog.pg_roles WHERE rolname = current_user`).Scan(&srcSuper, &srcVersion)
	srcConn.Close(context.Background())
	if err != nil {
		return res, fmt.Errorf("copy globals: source: read role attributes: %w", err)
	}
	dumpall, err := pgtool.FindDumpTool(ctx, "pg_dumpall", srcVersion)
	if err != nil {
		return res, fmt.Errorf("copy globals: %w", err)
	}
	args := []string{"--globals-only", "--quote-all-identifiers"}
	if !srcSuper {
		args = append(args, "--no-role-passwords")
		res.PasswordsCopied = false
		warn("source user %q is not a superuser, so role passwords cannot be read (pg_authid): roles are copied without passwords; set them on the target, or run with a superuser source", src.User())
	}
	var dump bytes.Buffer
	if err := pgtool.Run(ctx, pgtool.Command{Path: dumpall, Name: "pg_dumpall", Info: src, Args: args, Stdout: &dump}); err != nil {
		return res, fmt.Errorf("copy globals: %w", err)
	}

	// Target: who are we, which roles exist?
	dstConn, err := conninfo.Connect(ctx, dst)
	if err != nil {
		return res, fmt.Errorf("copy globals: target: %w", err)
	}
	defer dstConn.Close(context.Background())
	var dstUser string
	var dstSuper bool
	if err := dstConn.QueryRow(ctx, `SELECT current_user, rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user`).Scan(&dstUser, &dstSuper); err != nil {
		return res, fmt.Errorf("copy globals: target: read role attributes: %w", err)
	}
	rows, err := dstConn.Query(ctx, `SELECT rolname, rolsuper FROM pg_catalog.pg_roles`)
	if err != nil {
		return res, fmt.Errorf("copy globals: target: list roles: %w", err)
	}
	dstRoles := map[string]bool{} // name → superuser
	var name string
	var super bool
	if _, err := pgx.ForEachRow(rows, []any{&name, &super}, func() error { dstRoles[name] = super; return nil }); err != nil {
		return res, fmt.Errorf("copy globals: target: list roles: %w", err)
	}

	plan := planGlobals(splitSQL(dump.String()), globalsContext{
		targetUser: dstUser, targetSuper: dstSuper, targetRoles: dstRoles,
	})
	for _, w := range plan.warnings {
		warn("%s", w)
	}
	res.Skipped = plan.skipped
	res.RolesSkipped = plan.rolesSkipped
	created := map[string]bool{}
	updated := map[string]bool{}
	for _, st := range plan.statements {
		if _, err := dstConn.Exec(ctx, st.sql); err != nil {
			if isConnectionLost(dstConn, err) || ctx.Err() != nil {
				return res, fmt.Errorf("copy globals: target %s: %s: %w", dst.Redacted(), st.describe(), errors.New(pgtool.RedactOutput(err.Error(), "")))
			}
			res.Failed++
			warn("target rejected %s: %s", st.describe(), pgtool.RedactOutput(err.Error(), ""))
			continue
		}
		res.Applied++
		if st.role != "" {
			if st.create {
				created[st.role] = true
			} else if st.alter && hasKey(dstRoles, st.role) {
				updated[st.role] = true
			}
		}
	}
	res.RolesCreated = sortedKeys(created)
	res.RolesUpdated = sortedKeys(updated)
	return res, nil
}

// hasKey reports whether m holds k.
func hasKey(m map[string]bool, k string) bool { _, ok := m[k]; return ok }

// sortedKeys returns the keys of m, sorted.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// isConnectionLost tells a broken connection from a rejected statement.
func isConnectionLost(conn *pgx.Conn, err error) bool {
	if conn.IsClosed() {
		return true
	}
	var pgErr *pgconn.PgError
	return !errors.As(err, &pgErr)
}

// globalsContext is what the target looks like.
type globalsContext struct {
	targetUser  string
	targetSuper bool
	targetRoles map[string]bool // name → rolsuper
}

// globalStmt is one statement to run on the target.
type globalStmt struct {
	sql    string
	role   string // the role a CREATE/ALTER ROLE is about
	create bool   // CREATE ROLE
	alter  bool   // ALTER ROLE ... WITH
	toks   []sqlToken
}

// describe names a statement for messages: its first words, with any
// password literal replaced.
func (s globalStmt) describe() string { return describeStatement(s.toks) }

// globalsPlan is the filtered list of statements.
type globalsPlan struct {
	statements   []globalStmt
	skipped      int
	rolesSkipped []string
	warnings     []string
}

// planGlobals decides, statement by statement, what to run on the target.
func planGlobals(stmts []string, gc globalsContext) globalsPlan {
	var p globalsPlan
	parsed := make([][]sqlToken, len(stmts))
	// Pass 1: the source's superusers (ALTER ROLE r WITH ... SUPERUSER).
	sourceSuper := map[string]bool{}
	for i, s := range stmts {
		parsed[i] = tokenizeSQL(s)
		t := parsed[i]
		if matchWords(t, "ALTER", "ROLE") && len(t) > 3 && t[3].isWord("WITH") {
			for _, tok := range t[4:] {
				if tok.isWord("SUPERUSER") {
					sourceSuper[t[2].ident()] = true
				}
			}
		}
	}
	skipReason := map[string]string{}
	skipWhy := func(r string) string {
		if why, ok := skipReason[r]; ok {
			return why
		}
		why := ""
		lower := strings.ToLower(r)
		switch {
		case strings.HasPrefix(r, "pg_"):
			why = "pg_ names are reserved for built-in roles"
		case sourceSuper[r]:
			why = "it is a superuser on the source (create superusers on the target yourself if you need them)"
		case r == gc.targetUser:
			why = "it is the user the target connection runs as"
		case gc.targetRoles[r]:
			why = "it is a superuser on the target, which must not be changed"
		default:
			for _, pre := range providerRolePrefixes {
				if strings.HasPrefix(lower, pre) {
					why = "it looks like a role of a managed service (" + pre + "*), which the target cannot and must not create"
					break
				}
			}
		}
		skipReason[r] = why
		return why
	}
	warned := map[string]bool{}
	// roleSkip reports a role to leave out, warning once per role.
	roleSkip := func(r string) (string, bool) {
		why := skipWhy(r)
		if why != "" && !warned[r] && !strings.HasPrefix(r, "pg_") {
			warned[r] = true
			p.rolesSkipped = append(p.rolesSkipped, r)
			p.warnings = append(p.warnings, fmt.Sprintf("skipping role %s: %s", pgx.Identifier{r}.Sanitize(), why))
		}
		return why, why != ""
	}
	// willExist reports a role the target has after this run.
	willExist := func(r string) bool { return hasKey(gc.targetRoles, r) || skipWhy(r) == "" }
	tablespaces := map[string]bool{}
	skip := func() { p.skipped++ }
	for i, s := range stmts {
		t := parsed[i]
		if len(t) == 0 {
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(s), `\`) { // psql meta-command
			if !strings.HasPrefix(strings.TrimSpace(s), `\restrict`) && !strings.HasPrefix(strings.TrimSpace(s), `\unrestrict`) {
				p.warnings = append(p.warnings, "skipping psql command "+strings.Fields(s)[0])
			}
			skip()
			continue
		}
		// Tablespaces: never (their directories belong to the source host).
		if ts, ok := tablespaceOf(t); ok {
			if !tablespaces[ts] {
				tablespaces[ts] = true
				p.warnings = append(p.warnings, fmt.Sprintf("skipping tablespace %s: tablespaces are tied to the source's file system; create it on the target yourself if you need it", pgx.Identifier{ts}.Sanitize()))
			}
			skip()
			continue
		}
		switch {
		case matchWords(t, "CREATE", "ROLE") && len(t) > 2:
			r := t[2].ident()
			if _, sk := roleSkip(r); sk {
				skip()
				continue
			}
			if hasKey(gc.targetRoles, r) { // exists: the ALTER ROLE that follows updates it
				skip()
				continue
			}
			p.statements = append(p.statements, globalStmt{sql: s, role: r, create: true, toks: t})
		case matchWords(t, "ALTER", "ROLE") && len(t) > 2:
			r := t[2].ident()
			if _, sk := roleSkip(r); sk {
				skip()
				continue
			}
			st := globalStmt{sql: s, role: r, toks: t}
			if len(t) > 3 && t[3].isWord("WITH") {
				st.alter = true
				if !gc.targetSuper {
					var dropped []string
					st.toks, dropped = stripSuperuserOnlyOptions(t)
					st.sql = renderTokens(st.toks)
					if len(dropped) > 0 {
						p.warnings = append(p.warnings, fmt.Sprintf("role %s: the target user is not a superuser, so %s cannot be set", pgx.Identifier{r}.Sanitize(), strings.Join(dropped, ", ")))
					}
				}
			}
			p.statements = append(p.statements, st)
		case (matchWords(t, "COMMENT", "ON", "ROLE") && len(t) > 3) || (matchWords(t, "SECURITY", "LABEL") && roleAfterOnRole(t) != ""):
			r := roleAfterOnRole(t)
			if _, sk := roleSkip(r); sk {
				skip()
				continue
			}
			p.statements = append(p.statements, globalStmt{sql: s, toks: t})
		case t[0].isWord("GRANT") || t[0].isWord("REVOKE"):
			granted, members, grantor, isMembership := parseGrant(t)
			bad := false
			for _, m := range members {
				if _, sk := roleSkip(m); sk {
					bad = true
				}
			}
			if isMembership && !bad {
				for _, g := range granted {
					if !willExist(g) {
						bad = true
						p.warnings = append(p.warnings, fmt.Sprintf("leaving out %s: role %s is not copied to the target (%s)",
							describeStatement(t), pgx.Identifier{g}.Sanitize(), skipWhy(g)))
						break
					}
				}
			}
			if bad {
				skip()
				continue
			}
			st := globalStmt{sql: s, toks: t}
			if grantor != "" && (!willExist(grantor) || !gc.targetSuper) {
				st.toks = stripGrantedBy(t)
				st.sql = renderTokens(st.toks)
			}
			p.statements = append(p.statements, st)
		default:
			p.statements = append(p.statements, globalStmt{sql: s, toks: t})
		}
	}
	sort.Strings(p.rolesSkipped)
	return p
}

// roleAfterOnRole returns the role of COMMENT ON ROLE r / SECURITY LABEL
// [FOR p] ON ROLE r, or "".
func roleAfterOnRole(t []sqlToken) string {
	for i := 0; i+2 < len(t); i++ {
		if t[i].isWord("ON") && t[i+1].isWord("ROLE") {
			return t[i+2].ident()
		}
	}
	return ""
}

// tablespaceOf reports statements about a tablespace and its name.
func tablespaceOf(t []sqlToken) (string, bool) {
	for i := 0; i+1 < len(t); i++ {
		if t[i].isWord("TABLESPACE") && (i == 1 || (i > 0 && t[i-1].isWord("ON"))) {
			return t[i+1].ident(), true
		}
	}
	return "", false
}

// parseGrant splits GRANT a, b TO m [WITH ...] [GRANTED BY g] into its
// roles. isMembership is false for privilege grants (GRANT ... ON ...),
// whose members are still the grantees.
func parseGrant(t []sqlToken) (granted, members []string, grantor string, isMembership bool) {
	isMembership = true
	to := -1
	for i, tok := range t {
		if tok.isWord("ON") && to < 0 {
			isMembership = false
		}
		if (tok.isWord("TO") || tok.isWord("FROM")) && to < 0 {
			to = i
		}
	}
	if to < 0 {
		return nil, nil, "", false
	}
	for _, tok := range t[1:to] {
		if tok.kind == tokWord || tok.kind == tokIdent {
			granted = append(granted, tok.ident())
		}
	}
	for i := to + 1; i < len(t); i++ {
		tok := t[i]
		if tok.isWord("WITH") || tok.isWord("GRANTED") || tok.isWord("CASCADE") || tok.isWord("RESTRICT") {
			break
		}
		if tok.kind == tokWord && tok.isWord("GROUP") {
			continue
		}
		if tok.kind == tokWord || tok.kind == tokIdent {
			members = append(members, tok.ident())
		}
	}
	for i := 0; i+2 < len(t); i++ {
		if t[i].isWord("GRANTED") && t[i+1].isWord("BY") {
			grantor = t[i+2].ident()
		}
	}
	return granted, members, grantor, isMembership
}

// stripGrantedBy removes GRANTED BY r from a statement.
func stripGrantedBy(t []sqlToken) []sqlToken {
	out := make([]sqlToken, 0, len(t))
	for i := 0; i < len(t); i++ {
		if i+2 < len(t) && t[i].isWord("GRANTED") && t[i+1].isWord("BY") {
			i += 2
			continue
		}
		out = append(out, t[i])
	}
	return out
}

// stripSuperuserOnlyOptions removes from ALTER ROLE r WITH ... the options
// only a superuser may give (even the negative ones, before PostgreSQL
// 16): [NO]SUPERUSER, [NO]REPLICATION, [NO]BYPASSRLS. It returns the
// positive ones it dropped.
func stripSuperuserOnlyOptions(t []sqlToken) ([]sqlToken, []string) {
	var out []sqlToken
	var dropped []string
	for i, tok := range t {
		if i > 3 && tok.kind == tokWord {
			switch strings.ToUpper(tok.text) {
			case "NOSUPERUSER", "NOREPLICATION", "NOBYPASSRLS":
				continue
			case "SUPERUSER", "REPLICATION", "BYPASSRLS":
				dropped = append(dropped, strings.ToUpper(tok.text))
				continue
			}
		}
		out = append(out, tok)
	}
	return out, dropped
}

// sqlToken is one lexical token of a SQL statement.
type sqlToken struct {
	kind byte   // tokWord, tokIdent, tokString, tokPunct
	text string // as written
}

// Token kinds.
const (
	tokWord   byte = 'w' // keyword or unquoted identifier
	tokIdent  byte = 'i' // "quoted identifier"
	tokString byte = 's' // 'string' or E'string'
	tokPunct  byte = 'p' // anything else, one character (or ::)
)

// isWord reports a keyword, case-insensitively.
func (t sqlToken) isWord(w string) bool { return t.kind == tokWord && strings.EqualFold(t.text, w) }

// ident returns the identifier's value: unquoted, or folded to lower case.
func (t sqlToken) ident() string {
	if t.kind == tokIdent {
		return strings.ReplaceAll(t.text[1:len(t.text)-1], `""`, `"`)
	}
	return strings.ToLower(t.text)
}

// matchWords reports whether the statement starts with these keywords.
func matchWords(t []sqlToken, words ...string) bool {
	if len(t) < len(words) {
		return false
	}
	for i, w := range words {
		if !t[i].isWord(w) {
			return false
		}
	}
	return true
}

// splitSQL splits a script into statements at semicolons outside quotes
// and comments. Comment-only and blank pieces are dropped; psql
// meta-commands (lines starting with a backslash) are statements of their
// own.
func splitSQL(script string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		st := strings.TrimSpace(cur.String())
		cur.Reset()
		if len(tokenizeSQL(st)) > 0 {
			out = append(out, st)
		}
	}
	i := 0
	atLineStart := true
	for i < len(script) {
		c := script[i]
		switch {
		case atLineStart && c == '\\' && strings.TrimSpace(cur.String()) == "":
			end := strings.IndexByte(script[i:], '\n')
			if end < 0 {
				end = len(script) - i
			}
			out = append(out, strings.TrimSpace(script[i:i+end]))
			i += end
			continue
		case c == '-' && i+1 < len(script) && script[i+1] == '-':
			end := strings.IndexByte(script[i:], '\n')
			if end < 0 {
				end = len(script) - i
			}
			i += end
			continue
		case c == '\'' || c == '"':
			end := quotedEnd(script, i)
			cur.WriteString(script[i:end])
			i = end
			atLineStart = false
			continue
		case c == ';':
			cur.WriteByte(';')
			flush()
			i++
			continue
		}
		cur.WriteByte(c)
		atLineStart = c == '\n' || (atLineStart && (c == ' ' || c == '\t'))
		i++
	}
	flush()
	return out
}

// quotedEnd returns the index after the quoted token starting at s[i]
// ('...', E'...' when s[i-1] is E, "..."); doubled quotes stay inside.
func quotedEnd(s string, i int) int {
	q := s[i]
	backslash := q == '\'' && i > 0 && (s[i-1] == 'E' || s[i-1] == 'e') && (i < 2 || !isIdentChar(s[i-2]))
	j := i + 1
	for j < len(s) {
		switch {
		case backslash && s[j] == '\\':
			j += 2
			continue
		case s[j] == q:
			if j+1 < len(s) && s[j+1] == q {
				j += 2
				continue
			}
			return j + 1
		}
		j++
	}
	return len(s)
}

// isIdentChar reports a byte of an unquoted identifier.
func isIdentChar(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// tokenizeSQL splits one statement into tokens, without comments and the
// final semicolon.
func tokenizeSQL(s string) []sqlToken {
	var out []sqlToken
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			end := strings.IndexByte(s[i:], '\n')
			if end < 0 {
				return out
			}
			i += end
		case (c == 'E' || c == 'e') && i+1 < len(s) && s[i+1] == '\'':
			end := quotedEnd(s, i+1)
			out = append(out, sqlToken{tokString, s[i:end]})
			i = end
		case c == '\'':
			end := quotedEnd(s, i)
			out = append(out, sqlToken{tokString, s[i:end]})
			i = end
		case c == '"':
			end := quotedEnd(s, i)
			out = append(out, sqlToken{tokIdent, s[i:end]})
			i = end
		case isIdentChar(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			out = append(out, sqlToken{tokWord, s[i:j]})
			i = j
		case c == ';' && strings.TrimSpace(s[i+1:]) == "":
			return out
		case c == ':' && i+1 < len(s) && s[i+1] == ':':
			out = append(out, sqlToken{tokPunct, "::"})
			i += 2
		default:
			out = append(out, sqlToken{tokPunct, string(c)})
			i++
		}
	}
	return out
}

// renderTokens writes tokens back as one statement.
func renderTokens(t []sqlToken) string {
	var b strings.Builder
	for i, tok := range t {
		if i > 0 && tok.text != "," && tok.text != ")" && t[i-1].text != "(" {
			b.WriteByte(' ')
		}
		b.WriteString(tok.text)
	}
	b.WriteByte(';')
	return b.String()
}

// describeStatement renders a statement for a message: at most its first
// twelve tokens, with every string literal after PASSWORD (a password or
// its SCRAM verifier) replaced.
func describeStatement(t []sqlToken) string {
	shown := make([]sqlToken, 0, len(t))
	for i, tok := range t {
		if tok.kind == tokString && i > 0 && t[i-1].isWord("PASSWORD") {
			tok = sqlToken{tokString, "'" + connstr.Mask + "'"}
		}
		shown = append(shown, tok)
	}
	more := ""
	if len(shown) > 12 {
		shown, more = shown[:12], " ..."
	}
	s := renderTokens(shown)
	return "statement \"" + strings.TrimSuffix(s, ";") + more + "\""
}
