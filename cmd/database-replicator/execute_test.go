package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestWithResumeHint(t *testing.T) {
	restart := &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}
	for _, tc := range []struct {
		err  error
		want string // "" when the error must stay as it is
	}{
		{fmt.Errorf(`replication.main.table["app.public.big"]: create: copy: source: %w`, restart), "a server connection was lost during the step(s) above"},
		{fmt.Errorf(`replication.main.table["a"]: create: copy: %w`, io.ErrUnexpectedEOF), "run apply again to resume"},
		{errors.New("pg_dump: error: query failed: server closed the connection unexpectedly"), "run apply again to resume"},
		{fmt.Errorf("apply interrupted: %w", context.Canceled), "the state records what finished: run apply again to resume"},
		{errors.New("apply interrupted; the state records the progress, run apply again to resume: context canceled"), ""},
		{errors.New(`replication.main.table["a"]: create: relation "x" does not exist`), ""},
	} {
		got := withResumeHint("apply", tc.err).Error()
		switch {
		case tc.want == "" && got != tc.err.Error():
			t.Errorf("withResumeHint(%q) = %q, want it unchanged", tc.err, got)
		case tc.want != "" && (!strings.Contains(got, tc.want) || strings.Count(got, "run apply again to resume") != 1):
			t.Errorf("withResumeHint(%q) = %q, want one hint containing %q", tc.err, got, tc.want)
		}
	}
}
