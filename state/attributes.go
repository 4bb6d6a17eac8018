package state

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// String returns the string attribute key, or "" when it is absent or not
// a string.
func (r *Resource) String(key string) string {
	if r == nil {
		return ""
	}
	s, _ := r.Attributes[key].(string)
	return s
}

// Int returns the integer attribute key, and false when it is absent or
// not an integer. Attributes hold numbers as json.Number: Decode reads them
// so, and the plan's attribute encoding (plans.EncodeAttrs) writes them so;
// a typed reader decodes a resource's attributes with plans.DecodeAttrs.
func (r *Resource) Int(key string) (int64, bool) {
	if r == nil {
		return 0, false
	}
	n, ok := r.Attributes[key].(json.Number)
	if !ok {
		return 0, false
	}
	v, err := n.Int64()
	return v, err == nil
}

// Uint returns the unsigned integer attribute key (LSNs, 64-bit XIDs),
// as Int does.
func (r *Resource) Uint(key string) (uint64, bool) {
	if r == nil {
		return 0, false
	}
	n, ok := r.Attributes[key].(json.Number)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(n.String(), 10, 64)
	return v, err == nil
}

// copyValue deep-copies a JSON-like value. Values of other types are
// normalised through a JSON round trip; values that cannot be encoded are
// shared as they are.
func copyValue(v any) any {
	switch v := v.(type) {
	case nil, string, bool, json.Number,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return v
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = copyValue(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = copyValue(e)
		}
		return s
	case []string:
		return append([]string(nil), v...)
	case map[string]string:
		m := make(map[string]string, len(v))
		for k, e := range v {
			m[k] = e
		}
		return m
	}
	n, err := normalize(v)
	if err != nil {
		return v
	}
	return n
}

// normalize converts v into the generic JSON types (map[string]any, []any,
// string, bool, json.Number, nil) by encoding and decoding it.
func normalize(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("value of type %T is not JSON-able: %w", v, err)
	}
	var out any
	if err := decodeJSON(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}
