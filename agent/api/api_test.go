package api

import (
	"strings"
	"testing"
)

func TestCheckNoPasswordArgs(t *testing.T) {
	for _, ok := range [][]string{
		{"--source", "postgres://app@db/shop", "--target=postgres://t/db"},
		{"-y", "--include-databases", "shop"},
	} {
		if err := checkNoPasswordArgs(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range [][]string{
		{"--source", "postgres://app:pw@db/shop"},
		{"--target=postgres://t:pw@db/shop"},
		{"--source", "host=db password=pw dbname=shop"},
	} {
		err := checkNoPasswordArgs(bad)
		if err == nil || strings.Contains(err.Error(), "pw@") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestTraceIDKeptOrMade(t *testing.T) {
	if got := traceID("tr_abcdef0123"); got != "tr_abcdef0123" {
		t.Errorf("a well-formed trace ID was replaced: %q", got)
	}
	for _, bad := range []string{"", "short", "has space in it", strings.Repeat("x", 65)} {
		if got := traceID(bad); got == bad || !strings.HasPrefix(got, "tr_") {
			t.Errorf("traceID(%q) = %q", bad, got)
		}
	}
}
