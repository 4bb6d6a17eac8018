package conninfo

import (
	"regexp"
	"strings"
)

// redacted replaces every password that is printed or stored.
const Mask = "xxxxx"

var (
	// urlUserinfo matches scheme://user:password@ up to the LAST '@' of the
	// text, so that an unencoded '@' or '/' in a password stays covered.
	urlUserinfo = regexp.MustCompile(`(?is)([a-z][a-z0-9+.-]*://[^:/@\s]*:).*@`)
	// keywordPassword matches password=... up to the next whitespace (in
	// a URL query that may cover more than the password: fine for text
	// that does not parse).
	keywordPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'?|(?:[^\s\\]|\\.)*\\?)`)
)

// RedactURL returns a connection string (libpq URL or key=value) with its
// password replaced by xxxxx: in the userinfo, in a password= keyword or in
// a ?password= query parameter. A string that parses is rendered again from
// its parsed settings (so nothing of the password can survive); anything
// else is masked by pattern, generously. It never panics.
func RedactURL(s string) string {
	if cs, err := parseConnString(s); err == nil && plausible(cs, s) {
		return cs.renderRedacted()
	}
	s = urlUserinfo.ReplaceAllString(s, "${1}"+Mask+"@")
	return keywordPassword.ReplaceAllString(s, "${1}"+Mask)
}

// plausible rejects parses where libpq's reading likely differs from what
// the user meant, e.g. postgres://u:pa/ss@host with an unencoded '/' in
// the password, which libpq reads as host "u", port "pa": such strings are
// masked by pattern instead.
func plausible(cs *connSettings, s string) bool {
	if cs.form != formURL {
		return true
	}
	if port, ok := cs.get("port"); ok {
		for _, p := range strings.Split(port, ",") {
			if strings.Trim(p, "0123456789") != "" {
				return false
			}
		}
	}
	if host, _ := cs.get("host"); strings.Contains(host, "@") {
		return false
	}
	if _, hasUser := cs.get("user"); !hasUser {
		if db, _ := cs.get("dbname"); strings.Contains(db, "@") {
			return false
		}
	}
	return true
}
