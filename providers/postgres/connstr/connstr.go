package connstr

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Form is how a connection string was written.
type Form int

const (
	FormKV  Form = iota // host=h user=u ...
	FormURL             // postgres://u@h/db?...
)

// Settings is a connection string parsed the way libpq parses it:
// canonical keyword names (dbname, not database), values decoded once, and
// the order in which the keywords first appeared (for rendering).
type Settings struct {
	Form   Form
	Scheme string // "postgres" or "postgresql" for URLs
	// Keys lists the keywords in the order they first appeared.
	Keys []string
	// Values maps canonical keywords to their decoded values.
	Values map[string]string
	// PwInQuery: a URL's password came from ?password= (rendered there).
	PwInQuery bool
}

// Get returns a setting and whether it was given.
func (s *Settings) Get(key string) (string, bool) {
	v, ok := s.Values[key]
	return v, ok
}

// Set sets a setting, keeping the position of an existing key.
func (s *Settings) Set(key, value string) {
	if s.Values == nil {
		s.Values = map[string]string{}
	}
	if _, ok := s.Values[key]; !ok {
		s.Keys = append(s.Keys, key)
	}
	s.Values[key] = value
}

// Delete removes a setting.
func (s *Settings) Delete(key string) {
	if _, ok := s.Values[key]; !ok {
		return
	}
	delete(s.Values, key)
	for i, k := range s.Keys {
		if k == key {
			s.Keys = append(s.Keys[:i:i], s.Keys[i+1:]...)
			break
		}
	}
	if key == "password" {
		s.PwInQuery = false
	}
}

// Clone returns an independent copy.
func (s *Settings) Clone() *Settings {
	c := &Settings{Form: s.Form, Scheme: s.Scheme, PwInQuery: s.PwInQuery, Keys: append([]string(nil), s.Keys...), Values: map[string]string{}}
	for k, v := range s.Values {
		c.Values[k] = v
	}
	return c
}

// CanonicalKey maps keyword aliases to libpq's names.
func CanonicalKey(k string) string {
	if k == "database" {
		return "dbname"
	}
	return k
}

// urlScheme matches the start of a URL of any scheme.
var urlScheme = regexp.MustCompile(`^\s*[a-zA-Z][a-zA-Z0-9+.-]*://`)

// Parse parses a libpq URL (postgres:// or postgresql://) or a
// key=value string. Errors never quote the input (it may hold a password).
func Parse(s string) (*Settings, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, errors.New("forbidden NUL byte in connection string")
	}
	for _, scheme := range []string{"postgresql", "postgres"} {
		if rest, ok := strings.CutPrefix(s, scheme+"://"); ok {
			return parseURLSettings(scheme, rest)
		}
	}
	if urlScheme.MatchString(s) {
		return nil, errors.New("unsupported URL Scheme: use postgres:// or postgresql://")
	}
	return parseKVSettings(s)
}

// parseURLSettings parses what follows Scheme:// with libpq's rules: the
// userinfo ends at the first '@' before any '/', hosts and ports are
// comma-separated lists, every component is percent-decoded exactly once.
func parseURLSettings(scheme, p string) (*Settings, error) {
	cs := &Settings{Form: FormURL, Scheme: scheme}
	if i := strings.IndexAny(p, "@/"); i >= 0 && p[i] == '@' {
		user, password, hasPassword := strings.Cut(p[:i], ":")
		p = p[i+1:]
		if user != "" {
			v, err := uriDecode(user, "user name")
			if err != nil {
				return nil, err
			}
			cs.Set("user", v)
		}
		if hasPassword && password != "" {
			v, err := uriDecode(password, "password")
			if err != nil {
				return nil, err
			}
			cs.Set("password", v)
		}
	}
	var hosts, ports []string
	sawPort := false
	for {
		var host string
		if strings.HasPrefix(p, "[") {
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return nil, errors.New(`missing "]" after IPv6 host address in URL`)
			}
			if end == 1 {
				return nil, errors.New("empty IPv6 host address in URL")
			}
			host = p[1:end]
			p = p[end+1:]
			if p != "" && !strings.ContainsRune(":/?,", rune(p[0])) {
				return nil, errors.New(`unexpected character after IPv6 host address in URL (expected ":" or "/")`)
			}
		} else {
			i := strings.IndexAny(p, ":/?,")
			if i < 0 {
				i = len(p)
			}
			host, p = p[:i], p[i:]
		}
		port := ""
		if strings.HasPrefix(p, ":") {
			sawPort = true
			i := strings.IndexAny(p[1:], "/?,")
			if i < 0 {
				i = len(p) - 1
			}
			port, p = p[1:1+i], p[1+i:]
		}
		hosts, ports = append(hosts, host), append(ports, port)
		if !strings.HasPrefix(p, ",") {
			break
		}
		p = p[1:]
	}
	if joined := strings.Join(hosts, ","); joined != "" {
		v, err := uriDecode(joined, "host")
		if err != nil {
			return nil, err
		}
		cs.Set("host", v)
	}
	if sawPort {
		v, err := uriDecode(strings.Join(ports, ","), "port")
		if err != nil {
			return nil, err
		}
		cs.Set("port", v)
	}
	if strings.HasPrefix(p, "/") {
		db := p[1:]
		p = ""
		if i := strings.IndexByte(db, '?'); i >= 0 {
			db, p = db[:i], db[i:]
		}
		if db != "" {
			v, err := uriDecode(db, "database name")
			if err != nil {
				return nil, err
			}
			cs.Set("dbname", v)
		}
	}
	if strings.HasPrefix(p, "?") {
		if err := parseURLQuery(cs, p[1:]); err != nil {
			return nil, err
		}
	} else if p != "" {
		return nil, errors.New("unexpected text after host in URL")
	}
	return cs, nil
}

// parseURLQuery parses key=value&... query parameters into cs.
func parseURLQuery(cs *Settings, q string) error {
	for q != "" {
		pair := q
		if i := strings.IndexByte(q, '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			q = ""
		}
		rawKey, rawValue, ok := strings.Cut(pair, "=")
		if !ok {
			return errors.New(`missing "=" in a URL query parameter`)
		}
		if strings.IndexByte(rawValue, '=') >= 0 {
			return errors.New(`extra "=" in a URL query parameter value`)
		}
		key, err := uriDecode(rawKey, "query parameter name")
		if err != nil {
			return err
		}
		key = CanonicalKey(key)
		value, err := uriDecode(rawValue, "query parameter "+key)
		if err != nil {
			return err
		}
		if key == "ssl" && value == "true" { // JDBC-style alias libpq accepts
			key, value = "sslmode", "require"
		}
		if key == "password" {
			cs.PwInQuery = true
		}
		cs.Set(key, value)
	}
	return nil
}

// uriDecode percent-decodes one URL component like libpq: %XX only, %00
// forbidden, surrounding spaces dropped, interior spaces rejected. Errors
// name the component, never its value.
func uriDecode(raw, what string) (string, error) {
	raw = strings.Trim(raw, " ")
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == ' ':
			return "", fmt.Errorf("space in the %s of the URL: percent-encode it as %%20", what)
		case c == '%':
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return "", fmt.Errorf("invalid percent-encoding in the %s of the URL", what)
			}
			v := unhex(raw[i+1])<<4 | unhex(raw[i+2])
			if v == 0 {
				return "", fmt.Errorf("forbidden %%00 in the %s of the URL", what)
			}
			b.WriteByte(v)
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// isSpace reports the whitespace libpq skips in key=value strings.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// parseKVSettings parses a libpq key=value string: values may be single
// quoted, and a backslash escapes the next character.
func parseKVSettings(s string) (*Settings, error) {
	cs := &Settings{Form: FormKV}
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return cs, nil
		}
		start := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[start:i]
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if key == "" || i == len(s) || s[i] != '=' {
			return nil, fmt.Errorf("missing \"=\" after %q in connection string", truncate(key, 40))
		}
		i++
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		var val strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				if c == '\'' {
					closed = true
					i++
					break
				}
				val.WriteByte(c)
				i++
			}
			if !closed {
				return nil, errors.New("unterminated quoted string in connection string")
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' {
					i++
					if i == len(s) {
						break
					}
				}
				val.WriteByte(s[i])
				i++
			}
		}
		cs.Set(CanonicalKey(key), val.String())
	}
}

// truncate shortens s for error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// QuoteKV renders a key=value value, quoted when it needs to be.
func QuoteKV(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\v\f'\\") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// RenderKV renders settings as key=value pairs, in order, with the
// password replaced by mask (or left out when mask is "").
func (s *Settings) RenderKV(mask string, skip func(string) bool) string {
	var parts []string
	for _, k := range s.Keys {
		if skip != nil && skip(k) {
			continue
		}
		v := s.Values[k]
		if k == "password" {
			if mask == "" {
				continue
			}
			v = mask
		}
		parts = append(parts, k+"="+QuoteKV(v))
	}
	return strings.Join(parts, " ")
}

// escapeURL percent-encodes everything but unreserved characters.
func escapeURL(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// RenderURL renders settings as a URL with the password replaced by mask
// (or left out when mask is "").
func (s *Settings) RenderURL(mask string) string {
	var b strings.Builder
	scheme := s.Scheme
	if scheme == "" {
		scheme = "postgres"
	}
	b.WriteString(scheme + "://")
	user, hasUser := s.Get("user")
	_, hasPassword := s.Get("password")
	inUserinfo := hasPassword && mask != "" && !s.PwInQuery
	if hasUser || inUserinfo {
		b.WriteString(escapeURL(user))
		if inUserinfo {
			b.WriteString(":" + mask)
		}
		b.WriteString("@")
	}
	hostList, _ := s.Get("host")
	portList, hasPort := s.Get("port")
	hosts := strings.Split(hostList, ",")
	ports := strings.Split(portList, ",")
	if hasPort && len(ports) != len(hosts) {
		// Not expressible in the authority: keep the list as a parameter.
		hosts, ports, hasPort = []string{hostList}, nil, false
	}
	for i, h := range hosts {
		if i > 0 {
			b.WriteString(",")
		}
		if strings.Contains(h, ":") && !strings.HasPrefix(h, "/") {
			b.WriteString("[" + h + "]")
		} else {
			b.WriteString(escapeURL(h))
		}
		if hasPort && ports[i] != "" {
			b.WriteString(":" + escapeURL(ports[i]))
		}
	}
	if db, ok := s.Get("dbname"); ok {
		b.WriteString("/" + escapeURL(db))
	}
	sep := "?"
	if !hasPort && portList != "" {
		b.WriteString(sep + "port=" + escapeURL(portList))
		sep = "&"
	}
	for _, k := range s.Keys {
		switch k {
		case "user", "host", "port", "dbname":
			continue
		}
		v := escapeURL(s.Values[k])
		if k == "password" {
			if mask == "" || !s.PwInQuery {
				continue // left out, or already in the userinfo
			}
			v = mask
		}
		b.WriteString(sep + escapeURL(k) + "=" + v)
		sep = "&"
	}
	return b.String()
}

// RenderRedacted renders the settings in their original form, with the
// password masked.
func (s *Settings) RenderRedacted() string {
	if s.Form == FormURL {
		return s.RenderURL(Mask)
	}
	return s.RenderKV(Mask, nil)
}
