package connstr

import (
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:s3cret@h:5432/db":                            "postgres://u:xxxxx@h:5432/db",
		"postgresql://u:p%40ss@h/db?sslmode=require":               "postgresql://u:xxxxx@h/db?sslmode=require",
		"postgres://u@h/db?password=s3cret&sslmode=disable":        "postgres://u@h/db?password=xxxxx&sslmode=disable",
		"postgres://u:s3cret@h1:5432,h2:5433/db":                   "postgres://u:xxxxx@h1:5432,h2:5433/db",
		"host=h user=u password=s3cret dbname=db":                  "host=h user=u password=xxxxx dbname=db",
		`host=h password = 'with space\' quote' dbname=db`:         "host=h password=xxxxx dbname=db",
		"postgres://u@h/db":                                        "postgres://u@h/db",
		"postgres://u:pa/ss@host/db":                               "postgres://u:xxxxx@host/db",
		"postgres://u:p@ss@host/db":                                "postgres://u:xxxxx@host/db",
		"not a url postgres://u:s3cret@h and password=s3cret":      "not a url postgres://u:xxxxx@h and password=xxxxx",
		"garbage password='unterminated secret":                    "garbage password=xxxxx",
		"":                                                         "",
		"postgres://u:s3cret@[::1]:5432/db?application_name=a%20b": "postgres://u:xxxxx@[::1]:5432/db?application_name=a%20b",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRedactText covers free text: several URLs, SQL-quoted libpq
// values, JSON members, unencoded '@' and spaces in a URL password.
func TestRedactText(t *testing.T) {
	for in, want := range map[string]string{
		"copied from postgres://u:s3cret@src/db to postgres://u:other@dst/db":   "copied from postgres://u:xxxxx@src/db to postgres://u:xxxxx@dst/db",
		"CONNECTION 'host=src password=''s3 cr\\''et'' dbname=d' PUBLICATION p": "CONNECTION 'host=src password=xxxxx dbname=d' PUBLICATION p",
		`{"host": "src", "sslPassword": "s3\"cret"}`:                            `{"host": "src", "sslPassword": "xxxxx"}`,
		"dial postgres://u:p@ss@host/db: refused":                               "dial postgres://u:xxxxx@host/db: refused",
		"dial postgres://u:with space@host/db: refused":                         "dial postgres://u:xxxxx@host/db: refused",
		"PGPASSWORD=s3cret pg_dump":                                             "PGPASSWORD=xxxxx pg_dump",
		"region = 'eu' AND password_hint IS NULL":                               "region = 'eu' AND password_hint IS NULL",
	} {
		if got := RedactText(in); got != want {
			t.Errorf("RedactText(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRedactURL checks that RedactURL never panics, that a password in a
// parseable URL never survives it (the output does not depend on the
// password at all), and that ParseURL decodes the password exactly once.
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"postgres://u:s3cret@h:5432/db", "host=h password=s3cret", "postgres://u@h/db?password=abc", "%", "postgres://:@/", "db", "a b"} {
		f.Add(s, "s3cretpw")
	}
	f.Fuzz(func(t *testing.T, s, pw string) {
		out := RedactURL(s)
		if cs, err := Parse(s); err == nil && Plausible(cs, s) {
			if p := cs.Values["password"]; p != "" {
				again, err := Parse(out)
				if err != nil || again.Values["password"] != Mask {
					t.Fatalf("RedactURL(%q) = %q: does not parse back with a redacted password (%v)", s, out, err)
				}
			}
		}
		// A URL built from parts: the output must not depend on the password.
		u1 := "postgres://user:" + escapeURL(pw) + "@host:5432/" + escapeURL(s) + "?application_name=" + escapeURL(s)
		u2 := "postgres://user:" + escapeURL("other-password") + "@host:5432/" + escapeURL(s) + "?application_name=" + escapeURL(s)
		kv1 := "host=h password=" + QuoteKV(pw) + " dbname=" + QuoteKV(s)
		kv2 := "host=h password=" + QuoteKV("other-password") + " dbname=" + QuoteKV(s)
		for _, pair := range [][2]string{{u1, u2}, {kv1, kv2}} {
			r1, r2 := RedactURL(pair[0]), RedactURL(pair[1])
			if _, err := Parse(pair[0]); err == nil && pw != "" && r1 != r2 {
				t.Fatalf("redaction depends on the password: %q vs %q", r1, r2)
			}
			// Unparseable (a NUL byte): masked by pattern, still no password.
			for _, x := range []string{pw, escapeURL(pw)} {
				if len(pw) >= 4 && strings.Contains(r1, x) && !strings.Contains(r2, x) {
					t.Fatalf("password %q survives in %q", pw, r1)
				}
			}
		}
		if strings.ContainsRune(pw, 0) || strings.ContainsRune(s, 0) || pw == "" {
			return
		}
		cs, err := Parse(u1)
		if err != nil {
			t.Fatalf("parse %q: %v", u1, err)
		}
		if cs.Values["password"] != pw {
			t.Fatalf("password %q decoded as %q", pw, cs.Values["password"])
		}
	})
}
