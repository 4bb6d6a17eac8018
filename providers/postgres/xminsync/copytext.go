package xminsync

import (
	"bytes"
	"errors"
	"strconv"
)

// copyFields splits one line of COPY text format (without or with its
// trailing newline) into its fields, unescaped. A NULL field (\N) is
// returned as nil.
func copyFields(line []byte) ([][]byte, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	raw := bytes.Split(line, []byte{'\t'})
	out := make([][]byte, len(raw))
	for i, f := range raw {
		if bytes.Equal(f, []byte(`\N`)) {
			continue
		}
		v, err := unescapeCopy(f)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// unescapeCopy decodes the backslash escapes of the COPY text format.
func unescapeCopy(f []byte) ([]byte, error) {
	if bytes.IndexByte(f, '\\') < 0 {
		return append([]byte{}, f...), nil
	}
	out := make([]byte, 0, len(f))
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(f) {
			return nil, errors.New("COPY text: backslash at the end of a field")
		}
		switch e := f[i]; e {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, '\v')
		case 'x':
			j := i + 1
			for j < len(f) && j < i+3 && isHex(f[j]) {
				j++
			}
			if j == i+1 {
				out = append(out, 'x')
				continue
			}
			n, _ := strconv.ParseUint(string(f[i+1:j]), 16, 8)
			out = append(out, byte(n))
			i = j - 1
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(f) && j < i+3 && f[j] >= '0' && f[j] <= '7' {
				j++
			}
			n, _ := strconv.ParseUint(string(f[i:j]), 8, 16)
			out = append(out, byte(n))
			i = j - 1
		default:
			out = append(out, e)
		}
	}
	return out, nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
