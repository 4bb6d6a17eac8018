package lang

import "testing"

func TestCheckRowFilterSyntax(t *testing.T) {
	ok := []string{
		"n > 0",
		"created_at > now() - interval '90 days'",
		"(a = 1) AND (b = 2 OR (c IS NULL))",
		`"Weird;Col" = 'x;y--z/*w'`,
		`name = 'it''s (open'`,
		`"a""b" = 1`,
		`path = E'C:\\dir\'s' AND x = 1`,
		`path LIKE 'C:%'`,
		`n = E'\'); drop table y; --'`, // one E literal
		"tag = ANY ('{a,b}'::text[])",
		"amount::numeric > 1e5",
		"b'101' = b'101'",
		"ts > '10:00'::time",
		"col$1 > 0",
		"n = 'é;'",
	}
	for _, f := range ok {
		if err := CheckRowFilterSyntax(f); err != nil {
			t.Errorf("%q refused: %v", f, err)
		}
	}
	bad := []string{
		"",
		"   ",
		"1=1); commit; drop table y; --",
		"1=1); drop table if exists y; --",
		"1=1) OR (1=1",
		"true; drop table y",
		"n > 0 -- comment",
		"n > 0 /* comment */",
		"(n > 0",
		"n > 0)",
		"n = $1",
		"n = $$x$$",
		"n = 'open",
		`"open = 1`,
		// With standard_conforming_strings = off the backslash escapes
		// the quote and the semicolon is outside any literal.
		`n = '\'; drop table y; select '`,
		// An E'' literal always escapes: \\ is a backslash, then the
		// literal ends.
		`n = E'\\'); drop table y; --'`,
		// With standard_conforming_strings = on the literal ends at \'.
		`n = 'a\'); drop table y; --'`,
		`n = 1 \ 2`,
		"n = 1\x00",
	}
	for _, f := range bad {
		if err := CheckRowFilterSyntax(f); err == nil {
			t.Errorf("%q accepted", f)
		}
	}
}
