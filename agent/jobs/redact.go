package jobs

import (
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/connstr"
)

// redactor removes submitted secret values and URL passwords from a line.
type redactor struct{ secrets []string }

func newRedactor(vars map[string]string) *redactor {
	r := &redactor{}
	for _, v := range vars {
		if len(v) >= 4 {
			r.secrets = append(r.secrets, v)
			// The password part of a URL value on its own too.
			if red := connstr.RedactURL(v); red != v {
				if pw := urlPassword(v); pw != "" && len(pw) >= 4 {
					r.secrets = append(r.secrets, pw)
				}
			}
		}
	}
	// Longest first, so a URL goes before the password inside it.
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	return r
}

// line returns s without secrets.
func (r *redactor) line(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "[redacted]")
	}
	return connstr.RedactText(s)
}

// urlPassword is the password of a postgres:// URL, or "".
func urlPassword(u string) string {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	userinfo, _, ok := strings.Cut(rest, "@")
	if !ok {
		return ""
	}
	_, pw, ok := strings.Cut(userinfo, ":")
	if !ok {
		return ""
	}
	return pw
}
