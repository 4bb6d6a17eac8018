package postgres

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted replaces every password that is printed or stored.
const redacted = "xxxxx"

var (
	// userinfoPassword matches the password in scheme://user:password@host.
	userinfoPassword = regexp.MustCompile(`(?i)(postgres(?:ql)?://[^:/@\s]*:)([^@]*)(@)`)
	// keywordPassword matches password=... in key=value strings and queries.
	keywordPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)`)
)

// RedactURL replaces the password in a libpq URL or key=value connection
// string (userinfo, password= keyword, ?password= parameter) with xxxxx.
// It never fails: text it cannot parse is scanned for password patterns.
func RedactURL(s string) string {
	if u, err := url.Parse(s); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") && u.Opaque == "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", redacted)
			u.RawQuery = q.Encode()
		}
		return strings.Replace(u.String(), url.QueryEscape(redacted), redacted, 1)
	}
	out := userinfoPassword.ReplaceAllString(s, "${1}"+redacted+"${3}")
	return keywordPassword.ReplaceAllString(out, "${1}"+redacted)
}
