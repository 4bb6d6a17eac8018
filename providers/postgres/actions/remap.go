package actions

import (
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/providers/postgres/schemadump"
)

// Remapped tables (a table or schema block's target, stream method only)
// are restored from the source's schema dump under their source names and
// moved, in the same transaction, with ALTER TABLE ... SET SCHEMA and
// RENAME TO: indexes, constraints and owned sequences follow the table.
// The post-data statements, dumped with the source's names, are rewritten
// to the target names before they run.

// moves are the remapped tables of one database: source name -> target
// name.
type moves map[schemadump.QualifiedName]schemadump.QualifiedName

// movesOf returns the remapped tables of a database of a replication.
func (p *Provider) movesOf(replication, db string) moves {
	return p.remaps[key(replication, db)]
}

// targetOf returns a table's name on the target.
func (p *Provider) targetOf(replication, db string, q schemadump.QualifiedName) schemadump.QualifiedName {
	if t, ok := p.remaps[key(replication, db)][q]; ok {
		return t
	}
	return q
}

// sorted returns the moves in a stable order (by source name).
func (m moves) sorted() []schemadump.QualifiedName {
	out := make([]schemadump.QualifiedName, 0, len(m))
	for q := range m {
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Schema != out[j].Schema {
			return out[i].Schema < out[j].Schema
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// renameSQL moves the tables of m (only those in keep, when keep is not
// nil) from their source names to their target names: each target schema
// is created when missing, then ALTER TABLE ... SET SCHEMA and RENAME TO.
func renameSQL(m moves, keep func(schemadump.QualifiedName) bool) string {
	var b strings.Builder
	schemas := map[string]bool{}
	for _, from := range m.sorted() {
		if keep != nil && !keep(from) {
			continue
		}
		to := m[from]
		if to.Schema != from.Schema && !schemas[to.Schema] {
			schemas[to.Schema] = true
			b.WriteString("CREATE SCHEMA IF NOT EXISTS " + pgx.Identifier{to.Schema}.Sanitize() + ";\n")
		}
		cur := from
		if to.Schema != from.Schema {
			b.WriteString("ALTER TABLE " + cur.String() + " SET SCHEMA " + pgx.Identifier{to.Schema}.Sanitize() + ";\n")
			cur.Schema = to.Schema
		}
		if to.Name != from.Name {
			b.WriteString("ALTER TABLE " + cur.String() + " RENAME TO " + pgx.Identifier{to.Name}.Sanitize() + ";\n")
		}
	}
	return b.String()
}

// remapItems rewrites the post-data items of moved tables (and of indexes
// that moved with them) to the target names; items are copied, never
// changed in place.
func remapItems(items []schemadump.PostDataItem, m moves) []schemadump.PostDataItem {
	if len(m) == 0 {
		return items
	}
	names := moves{}
	for from, to := range m {
		names[from] = to
	}
	// An index lives in its table's schema: it moves with it.
	for _, it := range items {
		if it.Kind != "INDEX" {
			continue
		}
		to, ok := m[it.Table]
		if !ok || to.Schema == it.Table.Schema {
			continue
		}
		idx := it.Name
		if i := strings.LastIndexByte(idx, ' '); i >= 0 {
			idx = idx[i+1:]
		}
		names[schemadump.QualifiedName{Schema: it.Table.Schema, Name: idx}] = schemadump.QualifiedName{Schema: to.Schema, Name: idx}
	}
	out := make([]schemadump.PostDataItem, len(items))
	for i, it := range items {
		it.SQL = remapSQL(it.SQL, names)
		if to, ok := m[it.Table]; ok {
			it.Table = to
		}
		out[i] = it
	}
	return out
}

// remapSQL replaces every two-part name schema.name of m in sql (outside
// string literals, quoted or not, not part of a longer dotted name) with
// the target name, quoted.
func remapSQL(sql string, m moves) string {
	var b strings.Builder
	i := 0
	for i < len(sql) {
		c := sql[i]
		switch {
		case c == '\'':
			j := skipString(sql, i)
			b.WriteString(sql[i:j])
			i = j
		case c == '$':
			j := skipDollar(sql, i)
			b.WriteString(sql[i:j])
			i = j
		case c == '"' || isIdentStart(c):
			if i > 0 && (isIdentChar(sql[i-1]) || sql[i-1] == '.') {
				// Inside a word or after a dot: not the start of a name.
				j := skipIdent(sql, i)
				b.WriteString(sql[i:j])
				i = j
				continue
			}
			first, j := readIdent(sql, i)
			if j < len(sql) && sql[j] == '.' && j+1 < len(sql) && (sql[j+1] == '"' || isIdentStart(sql[j+1])) {
				second, k := readIdent(sql, j+1)
				if k >= len(sql) || sql[k] != '.' {
					if to, ok := m[schemadump.QualifiedName{Schema: first, Name: second}]; ok {
						b.WriteString(to.String())
						i = k
						continue
					}
				}
			}
			b.WriteString(sql[i:j])
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$' }

// readIdent reads one identifier at i (quoted, or unquoted and folded to
// lower case) and returns it and the index after it.
func readIdent(s string, i int) (string, int) {
	if s[i] == '"' {
		var b strings.Builder
		j := i + 1
		for j < len(s) {
			if s[j] == '"' {
				if j+1 < len(s) && s[j+1] == '"' {
					b.WriteByte('"')
					j += 2
					continue
				}
				return b.String(), j + 1
			}
			b.WriteByte(s[j])
			j++
		}
		return b.String(), j
	}
	j := i
	for j < len(s) && isIdentChar(s[j]) {
		j++
	}
	return strings.ToLower(s[i:j]), j
}

// skipIdent returns the index after the identifier at i.
func skipIdent(s string, i int) int {
	_, j := readIdent(s, i)
	return j
}

// skipString returns the index after the string literal that starts at i
// (” inside is one quote; a backslash escapes in E” strings, which
// pg_dump does not write for names).
func skipString(s string, i int) int {
	j := i + 1
	for j < len(s) {
		if s[j] == '\'' {
			if j+1 < len(s) && s[j+1] == '\'' {
				j += 2
				continue
			}
			return j + 1
		}
		j++
	}
	return j
}

// skipDollar returns the index after a dollar-quoted string at i, or i+1
// when the dollar sign starts none (a parameter such as $1).
func skipDollar(s string, i int) int {
	j := i + 1
	for j < len(s) && isIdentChar(s[j]) && s[j] != '$' {
		j++
	}
	if j >= len(s) || s[j] != '$' {
		return i + 1
	}
	tag := s[i : j+1]
	end := strings.Index(s[j+1:], tag)
	if end < 0 {
		return len(s)
	}
	return j + 1 + end + len(tag)
}
