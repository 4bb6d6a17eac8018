package rowfilter

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// systemColumns are the columns a publication's row filter may not use.
var systemColumns = map[string]bool{
	"ctid": true, "xmin": true, "xmax": true, "cmin": true, "cmax": true, "tableoid": true,
}

// sqlValueFunctions are the SQL-standard niladic functions, printed in
// upper case without parentheses; none is immutable.
var sqlValueFunctions = map[string]bool{
	"CURRENT_DATE": true, "CURRENT_TIME": true, "CURRENT_TIMESTAMP": true, "LOCALTIME": true,
	"LOCALTIMESTAMP": true, "CURRENT_ROLE": true, "CURRENT_USER": true, "USER": true,
	"SESSION_USER": true, "CURRENT_CATALOG": true, "CURRENT_SCHEMA": true, "SYSTEM_USER": true,
}

// planFacts is what the plan of "SELECT 1 FROM table WHERE (filter)"
// tells about the filter.
type planFacts struct {
	// subquery is true when the plan has a subplan or a join.
	subquery bool
	// columns are the columns the filter's conditions use, sorted; "*"
	// for a whole-row reference.
	columns []string
	// functions are the functions called, as (schema, name); schema is
	// "" when the name is printed unqualified.
	functions [][2]string
	// niladic are SQL value functions such as CURRENT_DATE.
	niladic []string
}

// readPlan reads the lines of EXPLAIN (VERBOSE, COSTS OFF) output. In
// VERBOSE mode PostgreSQL prints every column qualified by its relation
// (items.n), a function name qualified when its schema is not on the
// search path, and quotes names that need it.
func readPlan(plan []string) planFacts {
	var f planFacts
	cols := map[string]bool{}
	funcs := map[[2]string]bool{}
	nil_ := map[string]bool{}
	for _, line := range plan {
		l := strings.TrimSpace(line)
		l = strings.TrimSpace(strings.TrimPrefix(l, "->"))
		if strings.HasPrefix(l, "SubPlan") || strings.HasPrefix(l, "InitPlan") ||
			strings.Contains(l, " Join") || strings.HasPrefix(l, "Nested Loop") {
			f.subquery = true
		}
		label, cond, ok := strings.Cut(l, ": ")
		if !ok || !(strings.HasSuffix(label, "Filter") || strings.HasSuffix(label, "Cond")) {
			continue
		}
		toks := tokenize(cond)
		for i, t := range toks {
			prevCast := i > 0 && toks[i-1].text == "::"
			switch {
			case t.kind == tokIdent && !t.quoted && sqlValueFunctions[t.text]:
				nil_[t.text] = true
			case t.kind == tokIdent && i+2 < len(toks) && toks[i+1].text == "." && !prevCast && !after(toks, i, "OPERATOR"):
				// relation.column, relation.*, or schema.function(
				n := toks[i+2]
				switch {
				case n.text == "*" && n.kind == tokPunct:
					cols["*"] = true
				case n.kind == tokIdent && i+3 < len(toks) && toks[i+3].text == "(":
					funcs[[2]string{t.text, n.text}] = true
				case n.kind == tokIdent:
					cols[n.text] = true
				}
			case t.kind == tokIdent && i+1 < len(toks) && toks[i+1].text == "(" && !prevCast &&
				(t.quoted || t.text == strings.ToLower(t.text)) && !(i > 0 && toks[i-1].text == "."):
				// A function printed by name: lower case or quoted; SQL
				// syntax (COALESCE, EXTRACT, ...) prints in upper case.
				if t.text == "varying" {
					continue // the type character varying(10) or bit varying(5)
				}
				funcs[[2]string{"", t.text}] = true
			}
		}
	}
	for c := range cols {
		f.columns = append(f.columns, c)
	}
	sort.Strings(f.columns)
	for fn := range funcs {
		f.functions = append(f.functions, fn)
	}
	sort.Slice(f.functions, func(i, j int) bool {
		return f.functions[i][0]+"."+f.functions[i][1] < f.functions[j][0]+"."+f.functions[j][1]
	})
	for n := range nil_ {
		f.niladic = append(f.niladic, n)
	}
	sort.Strings(f.niladic)
	return f
}

// after reports whether toks[i] directly follows "KEYWORD(".
func after(toks []token, i int, keyword string) bool {
	return i >= 2 && toks[i-1].text == "(" && toks[i-2].kind == tokIdent && !toks[i-2].quoted && toks[i-2].text == keyword
}

// publishable fills res.NotPublishable and res.OutsideReplicaIdentity
// from the plan of the filter and the catalogs, read-only.
func (c *checker) publishable(ctx context.Context, table string, plan []string, res *Result) error {
	f := readPlan(plan)
	ri, err := c.replicaIdentity(ctx, table)
	if err != nil {
		return err
	}
	var outside []string
	for _, col := range f.columns {
		switch {
		case systemColumns[col]:
			res.NotPublishable = fmt.Sprintf("system column %q: system columns are not allowed", col)
		case ri.full:
		case col == "*" || !ri.columns[col]:
			outside = append(outside, fmt.Sprintf("%q", col))
		}
	}
	if len(outside) > 0 {
		res.OutsideReplicaIdentity = "column " + strings.Join(outside, ", ") + " not in the replica identity"
	}
	switch {
	case res.NotPublishable != "":
	case f.subquery:
		res.NotPublishable = "subqueries are not allowed"
	case len(f.niladic) > 0:
		res.NotPublishable = fmt.Sprintf("%s is not immutable: only columns, constants, built-in operators and immutable built-in functions are allowed", f.niladic[0])
	default:
		for _, fn := range f.functions {
			why, err := c.functionRefused(ctx, fn[0], fn[1])
			if err != nil {
				return err
			}
			if why != "" {
				res.NotPublishable = why
				break
			}
		}
	}
	return nil
}

// identity is a table's replica identity.
type identity struct {
	full    bool
	columns map[string]bool
}

// replicaIdentity reads which columns identify a row of table in UPDATE
// and DELETE messages: the primary key (default), the chosen index, all
// columns (full), or none.
func (c *checker) replicaIdentity(ctx context.Context, table string) (identity, error) {
	var kind string
	var cols []string
	err := c.tx.QueryRow(ctx, `SELECT c.relreplident::text,
		COALESCE((SELECT pg_catalog.array_agg(a.attname::text)
			FROM pg_catalog.pg_index i
			JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
			WHERE i.indrelid = c.oid AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))), '{}')
		FROM pg_catalog.pg_class c WHERE c.oid = $1::regclass`, table).Scan(&kind, &cols)
	if err != nil {
		return identity{}, fmt.Errorf("read the replica identity of %s: %w", table, err)
	}
	id := identity{full: kind == "f", columns: map[string]bool{}}
	for _, col := range cols {
		id.columns[col] = true
	}
	return id, nil
}

// functionRefused says why a publication refuses a function of this name
// ("" when it does not, or when overloads differ and the server must
// decide at apply): publications allow only immutable built-in functions.
func (c *checker) functionRefused(ctx context.Context, schema, name string) (string, error) {
	var n int
	var anyOK bool
	err := c.tx.QueryRow(ctx, `SELECT count(*)::int,
		COALESCE(bool_or(p.oid < 16384 AND p.provolatile = 'i'), false)
		FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
		WHERE p.proname = $1 AND CASE WHEN $2 = '' THEN pg_catalog.pg_function_is_visible(p.oid) ELSE n.nspname = $2 END`,
		name, schema).Scan(&n, &anyOK)
	if err != nil {
		return "", fmt.Errorf("read function %s: %w", name, err)
	}
	shown := name
	if schema != "" {
		shown = schema + "." + name
	}
	if n == 0 || anyOK {
		return "", nil
	}
	return fmt.Sprintf("function %s() is user-defined or not immutable: only immutable built-in functions are allowed", shown), nil
}

// Token kinds of the plan's expression text.
const (
	tokIdent = iota
	tokLiteral
	tokNumber
	tokPunct
)

// token is one lexical unit of an expression printed by PostgreSQL.
type token struct {
	kind   int
	text   string // an identifier's name, unquoted; a literal as printed
	quoted bool   // a "quoted" identifier
}

// tokenize splits an expression as EXPLAIN prints it: identifiers
// (quoted ones decoded), literals ('...', E'...'), numbers, and
// punctuation, with "::" as one token.
func tokenize(s string) []token {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '\'':
			escapes := len(out) > 0 && out[len(out)-1].kind == tokIdent && !out[len(out)-1].quoted &&
				(out[len(out)-1].text == "E" || out[len(out)-1].text == "e")
			j := i + 1
			for ; j < len(s); j++ {
				if escapes && s[j] == '\\' {
					j++
					continue
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j++
						continue
					}
					break
				}
			}
			end := min(j+1, len(s))
			out = append(out, token{kind: tokLiteral, text: s[i:end]})
			i = end
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '"' {
					if j+1 < len(s) && s[j+1] == '"' {
						b.WriteByte('"')
						j++
						continue
					}
					break
				}
				b.WriteByte(s[j])
			}
			out = append(out, token{kind: tokIdent, text: b.String(), quoted: true})
			i = min(j+1, len(s))
		case c == '_' || c >= 0x80 || (c|0x20 >= 'a' && c|0x20 <= 'z'):
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '$' || s[j] >= 0x80 || (s[j]|0x20 >= 'a' && s[j]|0x20 <= 'z') || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			out = append(out, token{kind: tokIdent, text: s[i:j]})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && ((s[j] >= '0' && s[j] <= '9') || s[j] == '.' || s[j] == 'e' || s[j] == 'E') {
				j++
			}
			out = append(out, token{kind: tokNumber, text: s[i:j]})
			i = j
		case c == ':' && i+1 < len(s) && s[i+1] == ':':
			out = append(out, token{kind: tokPunct, text: "::"})
			i += 2
		default:
			out = append(out, token{kind: tokPunct, text: string(c)})
			i++
		}
	}
	return out
}
