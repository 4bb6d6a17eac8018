package state

import (
	"encoding/json"
	"fmt"
	"math"
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

// Int returns the integer attribute key. It accepts Go integers, integral
// floats and json.Number, and reports false when the attribute is absent
// or not an integer.
func (r *Resource) Int(key string) (int64, bool) {
	if r == nil {
		return 0, false
	}
	switch v := r.Attributes[key].(type) {
	case int:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case uint32:
		return int64(v), true
	case uint64:
		if v > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return 0, false
		}
		return int64(v), true
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	}
	return 0, false
}

// Uint returns the unsigned integer attribute key (LSNs, 64-bit XIDs),
// accepting the same forms as Int.
func (r *Resource) Uint(key string) (uint64, bool) {
	if r == nil {
		return 0, false
	}
	switch v := r.Attributes[key].(type) {
	case uint64:
		return v, true
	case json.Number:
		n, err := strconv.ParseUint(v.String(), 10, 64)
		return n, err == nil
	}
	n, ok := r.Int(key)
	if !ok || n < 0 {
		return 0, false
	}
	return uint64(n), true
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

// StringList reads a list-of-strings attribute value, as written ([]string)
// or as read back from JSON ([]any); other values give nil.
func StringList(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
