package lang

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// CheckRowFilterSyntax checks, without a server, that a row filter
// (where, --table-filter, TOML table_filters) can be placed inside
// "WHERE (" + filter + ")" and stay one expression there: outside string
// literals and quoted identifiers it holds no statement separator (;),
// no comment (-- or /*), no dollar quote or parameter ($), and its
// parentheses balance without ever closing the one around it. Literals
// are read both as standard_conforming_strings = on and off would read
// them, so a backslash cannot make the server see the end of a literal
// where this check does not. The server still decides whether the text
// is a valid boolean expression over its table.
func CheckRowFilterSyntax(filter string) error {
	if strings.TrimSpace(filter) == "" {
		return errors.New("the filter is empty")
	}
	if !utf8.ValidString(filter) {
		return errors.New("the filter is not valid UTF-8")
	}
	if strings.ContainsRune(filter, 0) {
		return errors.New("the filter contains a NUL byte")
	}
	if err := scanFilter(filter, false); err != nil {
		return err
	}
	return scanFilter(filter, true)
}

// scanFilter is one lexical pass of CheckRowFilterSyntax; backslashes
// escape in plain '...' literals when backslashEscapes is true (as with
// standard_conforming_strings = off). E'...' literals always use them.
func scanFilter(s string, backslashEscapes bool) error {
	depth := 0
	// identStart, identEnd delimit the last unquoted word, which may be
	// the prefix of a literal (E'...', B'...', X'...', N'...').
	identStart, identEnd := -1, -1
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'':
			prefix := ""
			if identEnd == i {
				prefix = strings.ToUpper(s[identStart:identEnd])
			}
			var escapes bool
			switch {
			case prefix == "E":
				escapes = true
			case prefix == "B" || prefix == "X" || identEnd == i-1 && s[i-1] == '&' && strings.EqualFold(s[identStart:identEnd], "U"):
				escapes = false
			default:
				escapes = backslashEscapes
			}
			end, err := skipQuoted(s, i, '\'', escapes, "a string literal is not closed (')")
			if err != nil {
				return err
			}
			i = end
			continue
		case c == '"':
			end, err := skipQuoted(s, i, '"', false, `a quoted identifier is not closed (")`)
			if err != nil {
				return err
			}
			i = end
			continue
		case isIdentStart(c):
			identStart = i
			for i < len(s) && isIdentCont(s[i]) {
				i++
			}
			identEnd = i
			continue
		case c == ';':
			return errors.New("the filter holds a statement separator (;): a row filter is one expression")
		case c == '-' && i+1 < len(s) && s[i+1] == '-', c == '/' && i+1 < len(s) && s[i+1] == '*':
			return errors.New("the filter holds an SQL comment (-- or /*): remove it")
		case c == '$':
			return errors.New("the filter holds a dollar quote or parameter ($): use '...' literals")
		case c == '\\':
			return errors.New(`the filter holds a backslash (\) outside a literal`)
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return errors.New("the filter closes a parenthesis it did not open: a row filter is one expression")
			}
		}
		i++
	}
	if depth != 0 {
		return fmt.Errorf("the filter leaves %d parenthesis(es) open", depth)
	}
	return nil
}

// skipQuoted returns the index just after the quoted text that starts at
// s[start] with quote q; a doubled quote stands for one, and a backslash
// escapes the next byte when escapes is true.
func skipQuoted(s string, start int, q byte, escapes bool, unclosed string) (int, error) {
	for i := start + 1; i < len(s); i++ {
		switch {
		case escapes && s[i] == '\\':
			i++
		case s[i] == q:
			if i+1 < len(s) && s[i+1] == q {
				i++
				continue
			}
			return i + 1, nil
		}
	}
	return 0, errors.New(unclosed)
}

// isIdentStart reports whether c starts an unquoted identifier or
// keyword (bytes of multi-byte UTF-8 characters included, as PostgreSQL
// does).
func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

// isIdentCont reports whether c continues an unquoted identifier; digits
// and $ do.
func isIdentCont(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$'
}
