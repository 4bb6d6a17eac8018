package planner

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/state"
)

// TestVersionRefusals: a target older than the source and a local pg_dump
// older than the source are errors of the plan, with the fix; equal and
// newer versions (or an unknown pg_dump) plan without them.
func TestVersionRefusals(t *testing.T) {
	for _, tc := range []struct {
		name            string
		src, dst, dump  int
		want, wantNotIn string
	}{
		{"target older", 150018, 120022, 15, "Target is older than the source: target.replica runs PostgreSQL 12 and source.prod runs PostgreSQL 15", ""},
		{"pg_dump older", 160014, 180004, 15, "Local pg_dump is older than the source: source.prod runs PostgreSQL 16 and the local pg_dump is 15 (pg_dump 15 < source 16); pg_dump refuses a newer server. Fix: install the PostgreSQL 16 client tools or newer", ""},
		{"upgrade", 120022, 180004, 15, "", "older"},
		{"same", 150018, 150004, 15, "", "older"},
		{"pg_dump unknown", 160014, 160014, 0, "", "older"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := sourceServer(), emptyTarget()
			src.VersionNum, dst.VersionNum = tc.src, tc.dst
			_, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: state.New(), PgDumpMajor: tc.dump})
			errs := strings.Join(errorsOf(diags), "\n")
			if tc.want != "" && !strings.Contains(errs, tc.want) {
				t.Errorf("errors lack %q:\n%s", tc.want, errs)
			}
			if tc.wantNotIn != "" && strings.Contains(errs, tc.wantNotIn) {
				t.Errorf("errors mention %q:\n%s", tc.wantNotIn, errs)
			}
		})
	}
}
