package planner

import (
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
	"github.com/database-replicator/database-replicator/planner/addrs"
	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/state"
)

// syncPaused reports whether continuous sync of the replication being
// planned is paused: Input.Paused when it names the replication (the
// pause and resume commands), else what the state records in flag mode
// (no file says it there), else sync { enabled = false }.
func (b *builder) syncPaused() bool {
	if v, ok := b.in.Paused[b.r.Name]; ok {
		return v
	}
	if flagMode(b.in.Config) {
		return PausedInState(b.in.Prior, b.r.Name)
	}
	return b.r.Sync.Paused
}

// PausedInState reports whether the state records continuous sync of the
// replication named as paused: a subscription recorded disabled or an
// xmin cursor recorded paused.
func PausedInState(st *state.State, replication string) bool {
	if st == nil {
		return false
	}
	for _, s := range st.Addresses() {
		a, err := addrs.Parse(s)
		if err != nil || a.Replication != replication || (a.Kind != addrs.Subscription && a.Kind != addrs.Xmin) {
			continue
		}
		attrs, err := plans.DecodeAttrs(a.Kind, st.Resource(s).Attributes)
		if err != nil {
			continue
		}
		switch t := attrs.(type) {
		case *plans.SubscriptionAttrs:
			if !t.Enabled {
				return true
			}
		case *plans.XminAttrs:
			if t.Paused {
				return true
			}
		}
	}
	return false
}

// pauseDrift returns the reasons to update an existing subscription
// whose enabled flag differs from the pause setting: a pause, a resume,
// or a subscription disabled outside database-replicator, which is drift
// (a warning: sync refuses to enable it silently; apply and resume do).
func (b *builder) pauseDrift(a addrs.Addr, enabled, paused bool) []string {
	recorded, _ := b.priorAttrs(a).(*plans.SubscriptionAttrs)
	switch {
	case enabled && paused:
		return []string{hclOrFlags(b.in.Config, "sync { enabled = false }", "paused (database-replicator pause)") +
			": disable the subscription; its slot keeps the source's changes until sync is enabled again"}
	case !enabled && !paused && b.r.Policy.OnSchemaDrift == lang.DriftPlan && b.driftForReview[a.Key] != "":
		return []string{"sync paused the subscription for the schema drift above (policy.on_schema_drift = \"plan\"): enable it once the DDL ran"}
	case !enabled && !paused && b.r.Policy.OnSchemaDrift == lang.DriftPlan:
		return []string{"enable the subscription: sync pauses it while schema drift awaits a reviewed plan (policy.on_schema_drift = \"plan\"), and none is left"}
	case !enabled && !paused && recorded != nil && !recorded.Enabled:
		return []string{hclOrFlags(b.in.Config, "sync { enabled = true }", "resumed (database-replicator resume)") +
			": enable the subscription; it applies what the slot kept since the pause"}
	case !enabled && !paused:
		b.diags.AddWarning(CodeSubscriptionDisabled, a.String(), "Subscription disabled outside database-replicator",
			"Subscription %q on %s is disabled, and nothing disabled it here (%s): nothing is applied and the source's slot retains WAL. sync does not enable it silently. %s",
			b.r.Sync.Subscription, b.dstName, hclOrFlags(b.in.Config, "sync.enabled is true", "the state records no pause"),
			hclOrFlags(b.in.Config, "apply enables it; to keep it paused, set sync { enabled = false }.",
				"database-replicator resume enables it; database-replicator pause keeps it paused and records that."))
		return []string{"the subscription is disabled: enable it (it was disabled outside database-replicator)"}
	case recorded != nil && recorded.Enabled != !paused:
		return []string{"record the " + map[bool]string{true: "pause", false: "resume"}[paused] + " in the state"}
	}
	return nil
}

// DisabledByHand lists the addresses of the subscriptions that diags
// report disabled outside database-replicator (CodeSubscriptionDisabled):
// sync refuses to enable them silently.
func DisabledByHand(diags diag.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		if d.Code == CodeSubscriptionDisabled {
			out = append(out, d.Address)
		}
	}
	return out
}
