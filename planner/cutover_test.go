package planner

import (
	"testing"

	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/state"
)

// TestCutOverDatabaseIsNotPlanned: after a cutover the target is the
// primary. A plan of the same replication must not recreate the slot and
// copy the old primary over it, nor drop what the state records: it is
// refused. An interrupted cutover is refused too, pointing at cutover.
func TestCutOverDatabaseIsNotPlanned(t *testing.T) {
	for _, tt := range []struct {
		phase string
		code  diag.Code
	}{
		{plans.CutoverDone, CodeCutOver},
		{plans.CutoverFenced, CodeCutoverInProgress},
		{plans.CutoverDetaching, CodeCutoverInProgress},
	} {
		t.Run(tt.phase, func(t *testing.T) {
			src, dst, st := applied()
			// The detach dropped the subscription, the slot and the publication.
			dst.Database("app").Subscriptions = nil
			src.Slots = nil
			src.Database("app").Publications = nil
			st.SetResource(&state.Resource{Address: `replication.main.cutover["app"]`, Kind: "cutover", Status: state.StatusDone,
				Attributes: plans.EncodeAttrs(&plans.CutoverAttrs{Phase: tt.phase, FencedAt: "2026-11-30T12:00:00Z"})})
			p, diags := Build(Input{Config: loadConfig(t, ""), Servers: servers(src, dst), Prior: st})
			if !hasCode(diags, diag.Error, tt.code) {
				t.Fatalf("no %s error: %v", tt.code, errorsOf(diags))
			}
			if got := changes(p); len(got) > 0 {
				t.Fatalf("changes planned for a database that was cut over: %v", got)
			}
		})
	}
}
