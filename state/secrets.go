package state

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/database-replicator/database-replicator/providers/postgres/connstr"
)

// Redacted replaces every password Scrub removes (connstr.Mask).
const Redacted = connstr.Mask

// credentialKeys are attribute names (or their last _, - or . separated
// word) that Scrub refuses: their values are credentials by name.
var credentialKeys = map[string]bool{"password": true, "passwd": true, "pgpassword": true, "secret": true, "token": true}

// SecretError reports an attribute that Scrub refuses to store.
type SecretError struct {
	// Address is the resource address.
	Address string
	// Path is the attribute path, e.g. connection.password.
	Path string
}

// Error implements error; it never contains the value.
func (e *SecretError) Error() string {
	return fmt.Sprintf("refusing to store attribute %s of %s in state: it looks like a credential, and state never holds secrets", e.Path, e.Address)
}

// RedactString replaces every password in s with Redacted; it is
// connstr.RedactText, the one redaction of free text (URL userinfo,
// password=... keywords, "password": "..." JSON members).
func RedactString(s string) string { return connstr.RedactText(s) }

// Scrub returns a deep copy of s that is safe to store: every string
// (addresses, kinds, statuses and attribute values at any depth) has its
// passwords redacted with RedactString, and attribute values are
// normalised to JSON types. An attribute whose key names a credential
// (password, passwd, secret, token, or a key ending in _password and the
// like) is refused with a *SecretError rather than stored.
func Scrub(s *State) (*State, error) {
	if s == nil {
		return nil, fmt.Errorf("scrub state: nil state")
	}
	out := &State{Version: s.Version, Lineage: s.Lineage, Serial: s.Serial,
		Resources: make(map[string]*Resource, len(s.Resources))}
	for _, addr := range sortedKeys(s.Resources) {
		r := s.Resources[addr]
		if r == nil {
			return nil, fmt.Errorf("scrub state: resource %s is nil", addr)
		}
		c := &Resource{Address: RedactString(r.Address), Kind: RedactString(r.Kind),
			Status: RedactString(r.Status), UpdatedAt: r.UpdatedAt}
		if r.Attributes != nil {
			v, err := scrubValue(r.Address, "", r.Attributes)
			if err != nil {
				return nil, err
			}
			c.Attributes = v.(map[string]any)
		}
		out.Resources[RedactString(addr)] = c
	}
	return out, nil
}

// scrubValue returns a scrubbed copy of v found at path in resource addr.
func scrubValue(addr, path string, v any) (any, error) {
	switch v := v.(type) {
	case nil, bool, json.Number, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return v, nil
	case string:
		return RedactString(v), nil
	case map[string]any:
		m := make(map[string]any, len(v))
		for _, k := range sortedKeys(v) {
			p := joinPath(path, k)
			if isCredentialKey(k) {
				return nil, &SecretError{Address: addr, Path: p}
			}
			e, err := scrubValue(addr, p, v[k])
			if err != nil {
				return nil, err
			}
			m[k] = e
		}
		return m, nil
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			c, err := scrubValue(addr, fmt.Sprintf("%s[%d]", path, i), e)
			if err != nil {
				return nil, err
			}
			s[i] = c
		}
		return s, nil
	}
	n, err := normalize(v)
	if err != nil {
		return nil, fmt.Errorf("attribute %s of %s: %w", path, addr, err)
	}
	// n holds only generic JSON types, which the cases above all handle.
	return scrubValue(addr, path, n)
}

// isCredentialKey reports whether an attribute key names a credential.
func isCredentialKey(k string) bool {
	k = strings.ToLower(k)
	if i := strings.LastIndexAny(k, "_-."); i >= 0 {
		k = k[i+1:]
	}
	return credentialKeys[k]
}

// joinPath appends key k to an attribute path.
func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
