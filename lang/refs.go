package lang

import (
	"fmt"
	"strings"
)

// TableRef names one table: database, schema and table. Names are literal
// (case-sensitive, never folded); in the dotted text form a part that
// contains a dot or a double quote is written in double quotes.
type TableRef struct {
	// Database is empty for flag-form names written without one: a
	// filter then applies to every database in scope, and a table-list
	// entry to the one database in scope that has the table.
	Database string
	Schema   string
	Table    string
}

// String renders the reference as "db.schema.table", quoting parts that
// need it, so that ParseTableRef(r.String()) == r.
func (r TableRef) String() string {
	if r.Database == "" {
		return quotePart(r.Schema) + "." + quotePart(r.Table)
	}
	return quotePart(r.Database) + "." + quotePart(r.Schema) + "." + quotePart(r.Table)
}

// SQLName renders schema and table as a quoted SQL identifier.
func (r TableRef) SQLName() string { return QuoteIdent(r.Schema) + "." + QuoteIdent(r.Table) }

// Less orders references by database, schema, then table.
func (r TableRef) Less(o TableRef) bool {
	if r.Database != o.Database {
		return r.Database < o.Database
	}
	if r.Schema != o.Schema {
		return r.Schema < o.Schema
	}
	return r.Table < o.Table
}

// ParseTableRef parses "db.table" (schema public) or "db.schema.table".
func ParseTableRef(s string) (TableRef, error) {
	parts, err := SplitQualifiedName(s)
	if err != nil {
		return TableRef{}, err
	}
	switch len(parts) {
	case 2:
		return TableRef{Database: parts[0], Schema: "public", Table: parts[1]}, nil
	case 3:
		return TableRef{Database: parts[0], Schema: parts[1], Table: parts[2]}, nil
	case 1:
		return TableRef{}, fmt.Errorf("table reference %q names no database: write \"DATABASE.%s\" or \"DATABASE.SCHEMA.%s\"", s, s, s)
	default:
		return TableRef{}, fmt.Errorf("table reference %q has %d dotted parts: write \"db.table\" or \"db.schema.table\", and put a name that contains a dot in double quotes", s, len(parts))
	}
}

// SplitQualifiedName splits a dotted name into its parts. A part may be
// written in double quotes ("" inside quotes is one quote), which lets it
// contain dots. Empty parts are an error.
func SplitQualifiedName(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty name: write \"db.table\" or \"db.schema.table\"")
	}
	var parts []string
	var cur strings.Builder
	quoted, inQuotes, afterQuote := false, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuotes:
			if c == '"' {
				if i+1 < len(s) && s[i+1] == '"' {
					cur.WriteByte('"')
					i++
					continue
				}
				inQuotes, afterQuote = false, true
				continue
			}
			cur.WriteByte(c)
		case c == '.':
			if cur.Len() == 0 && !quoted {
				return nil, fmt.Errorf("name %q has an empty part: remove the extra dot", s)
			}
			parts = append(parts, cur.String())
			cur.Reset()
			quoted, afterQuote = false, false
		case c == '"':
			if cur.Len() > 0 || quoted {
				return nil, fmt.Errorf("name %q has a quote inside a part: quote the whole part, as in \"my\"\"name\"", s)
			}
			quoted, inQuotes = true, true
		default:
			if afterQuote {
				return nil, fmt.Errorf("name %q has text after a closing quote: put a dot between parts", s)
			}
			cur.WriteByte(c)
		}
	}
	if inQuotes {
		return nil, fmt.Errorf("name %q has an unterminated quote: close it with \"", s)
	}
	if cur.Len() == 0 && !quoted {
		return nil, fmt.Errorf("name %q has an empty part: remove the trailing dot", s)
	}
	parts = append(parts, cur.String())
	return parts, nil
}

// quotePart writes one name part, in double quotes when it would not
// survive SplitQualifiedName unquoted.
func quotePart(s string) string {
	if s == "" || strings.ContainsAny(s, `."`) {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// QuoteIdent quotes a PostgreSQL identifier for use in SQL.
func QuoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
