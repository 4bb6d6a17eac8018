package planner

import (
	"strings"
	"unicode"
)

// FiltersEqual reports whether two row filters mean the same, ignoring
// what PostgreSQL changes when it stores a filter: white space, the case
// of keywords and unquoted names, and redundant outer parentheses. When
// deparsed is non-empty it is the server's own rendering of a, which then
// stands in for a.
func FiltersEqual(a, b, deparsed string) bool {
	if deparsed != "" {
		a = deparsed
	}
	return NormalizeFilter(a) == NormalizeFilter(b)
}

// NormalizeFilter renders a SQL expression in a canonical spelling: text
// inside single or double quotes is kept as is; outside quotes, letters are
// lower-cased and white space is dropped except between two word
// characters; balanced outer parentheses are removed.
func NormalizeFilter(s string) string {
	var b strings.Builder
	var quote rune
	pendingSpace := false
	var last rune
	for _, r := range s {
		if quote != 0 {
			b.WriteRune(r)
			if r == quote {
				quote = 0
			}
			last = r
			continue
		}
		if unicode.IsSpace(r) {
			pendingSpace = true
			continue
		}
		if pendingSpace && isWord(last) && isWord(r) {
			b.WriteByte(' ')
		}
		pendingSpace = false
		if r == '\'' || r == '"' {
			quote = r
			b.WriteRune(r)
			last = r
			continue
		}
		r = unicode.ToLower(r)
		b.WriteRune(r)
		last = r
	}
	out := b.String()
	for len(out) >= 2 && out[0] == '(' && out[len(out)-1] == ')' && balanced(out[1:len(out)-1]) {
		out = out[1 : len(out)-1]
	}
	return out
}

func isWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// balanced reports whether parentheses outside quotes never close more
// than they opened, and end balanced.
func balanced(s string) bool {
	depth := 0
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '(':
			depth++
		case r == ')':
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}
