package connstr

import (
	"regexp"
	"strings"
)

// Mask replaces every password that is printed or stored.
const Mask = "xxxxx"

var (
	// urlUserinfo matches scheme://user:password@, the password running to
	// the last '@' before the next whitespace or quote (so that an
	// unencoded '@', ':' or '/' in it stays covered), else, generously, to
	// the next '@' at all (an unencoded space).
	urlUserinfo = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://[^:/@\s'"]*:)(?:[^\s'"]*|[^@]*)@`)
	// keywordPassword matches password=... (libpq keyword, URL query
	// parameter, sslpassword, PGPASSWORD=): a libpq-quoted value inside an
	// SQL literal (''...'' with \'' escapes), a libpq-quoted value (also
	// unterminated), or a bare word up to whitespace or a quote.
	keywordPassword = regexp.MustCompile(`(?i)(password\s*=\s*)` +
		`(''(?:\\''|\\[^']|[^'\\])*''|'(?:[^'\\]|\\.)*'?|(?:[^\s'"\\]|\\.)*\\?)`)
	// jsonPassword matches "password": "..." (also sslpassword,
	// pgpassword) inside JSON text.
	jsonPassword = regexp.MustCompile(`(?i)("(?:pg)?(?:ssl)?password"\s*:\s*")((?:[^"\\]|\\.)*)(")`)
)

// RedactURL returns a connection string (libpq URL or key=value) with its
// password replaced by xxxxx: in the userinfo, in a password= keyword or in
// a ?password= query parameter. A string that parses is rendered again from
// its parsed settings (so nothing of the password can survive); anything
// else is masked by RedactText. It never panics.
func RedactURL(s string) string {
	if cs, err := Parse(s); err == nil && Plausible(cs, s) {
		return cs.RenderRedacted()
	}
	return RedactText(s)
}

// RedactText masks, by pattern, every password in free text (log lines,
// error messages, SQL, JSON, state attributes): the userinfo password of
// every URL, every password=... keyword (quoted, SQL-quoted or bare, also
// sslpassword= and PGPASSWORD=) and every "password": "..." JSON member.
// Text without such patterns is returned unchanged, and a text that is
// exactly one URL is redacted as RedactURL does. Use RedactURL for a
// string that is one connection string of either form.
func RedactText(s string) string {
	if !strings.Contains(s, "://") && !strings.Contains(strings.ToLower(s), "password") {
		return s
	}
	// A text that is one URL is rendered again from its settings, which
	// keeps the rest of a ?password=...&... query intact.
	if cs, err := Parse(s); err == nil && cs.Form == FormURL && Plausible(cs, s) {
		return cs.RenderRedacted()
	}
	s = urlUserinfo.ReplaceAllString(s, "${1}"+Mask+"@")
	s = jsonPassword.ReplaceAllString(s, "${1}"+Mask+"${3}")
	return keywordPassword.ReplaceAllStringFunc(s, func(m string) string {
		sub := keywordPassword.FindStringSubmatch(m)
		if sub[2] == "" || sub[2] == Mask {
			return m
		}
		return sub[1] + Mask
	})
}

// Plausible rejects parses where libpq's reading likely differs from what
// the user meant, e.g. postgres://u:pa/ss@host with an unencoded '/' in
// the password, which libpq reads as host "u", port "pa": such strings are
// masked by pattern instead.
func Plausible(cs *Settings, s string) bool {
	if cs.Form != FormURL {
		return true
	}
	if port, ok := cs.Get("port"); ok {
		for _, p := range strings.Split(port, ",") {
			if strings.Trim(p, "0123456789") != "" {
				return false
			}
		}
	}
	if host, _ := cs.Get("host"); strings.Contains(host, "@") {
		return false
	}
	if _, hasUser := cs.Get("user"); !hasUser {
		if db, _ := cs.Get("dbname"); strings.Contains(db, "@") {
			return false
		}
	}
	return true
}
