package planner

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/planner/plans"
	"github.com/database-replicator/database-replicator/state"
)

const subAddr = `replication.main.subscription["app"]`

// recordSubscriptionEnabled sets the enabled flag the state records for
// the subscription, as a pause (false) or resume (true) leaves it.
func recordSubscriptionEnabled(t *testing.T, st *state.State, enabled bool) {
	t.Helper()
	r := st.Resource(subAddr)
	attrs, err := plans.DecodeAttrs("subscription", r.Attributes)
	if err != nil {
		t.Fatal(err)
	}
	attrs.(*plans.SubscriptionAttrs).Enabled = enabled
	r.Attributes = plans.EncodeAttrs(attrs)
}

// TestPauseAndResume: sync { enabled = false } disables the subscription,
// enabled = true enables what the state records as paused, a subscription
// disabled by hand is drift with a warning (which sync refuses on), and
// flag mode follows the state unless the pause or resume command says.
func TestPauseAndResume(t *testing.T) {
	type want struct {
		action  plans.Action
		enabled bool
		reason  string
		byHand  bool
	}
	for _, tt := range []struct {
		name        string
		extra       string
		flagMode    bool
		override    map[string]bool
		dstDisabled bool
		recordedOff bool
		want        want
	}{
		{name: "pause in HCL", extra: "sync {\n enabled = false\n}", want: want{plans.Update, false, "sync { enabled = false }: disable the subscription", false}},
		{name: "paused stays paused", extra: "sync {\n enabled = false\n}", dstDisabled: true, recordedOff: true, want: want{plans.NoOp, false, "", false}},
		{name: "resume in HCL", dstDisabled: true, recordedOff: true, want: want{plans.Update, true, "sync { enabled = true }: enable the subscription", false}},
		{name: "disabled by hand", dstDisabled: true, want: want{plans.Update, true, "disabled outside database-replicator", true}},
		{name: "disabled by hand, kept paused in HCL", extra: "sync {\n enabled = false\n}", dstDisabled: true, want: want{plans.Update, false, "record the pause in the state", false}},
		{name: "flag mode follows the state", flagMode: true, dstDisabled: true, recordedOff: true, want: want{plans.NoOp, false, "", false}},
		{name: "flag mode resume command", flagMode: true, override: map[string]bool{"main": false}, dstDisabled: true, recordedOff: true,
			want: want{plans.Update, true, "resumed (database-replicator resume)", false}},
		{name: "flag mode pause command", flagMode: true, override: map[string]bool{"main": true}, want: want{plans.Update, false, "paused (database-replicator pause)", false}},
		{name: "flag mode disabled by hand", flagMode: true, dstDisabled: true, want: want{plans.Update, true, "disabled outside database-replicator", true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, dst, st := applied()
			dst.Database("app").Subscriptions[0].Enabled = !tt.dstDisabled
			if tt.recordedOff {
				recordSubscriptionEnabled(t, st, false)
			}
			cfg := loadConfig(t, tt.extra)
			cfg.FlagMode = tt.flagMode
			p, diags := Build(Input{Config: cfg, Servers: servers(src, dst), Prior: st, Paused: tt.override})
			if errs := errorsOf(diags); len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			var c *plans.Change
			for _, ch := range p.Changes {
				if ch.Addr.String() == subAddr {
					c = ch
				} else if ch.Action != plans.NoOp {
					t.Errorf("%s: %s, want no change", ch.Addr, ch.Action)
				}
			}
			if c == nil {
				t.Fatal("no subscription change")
			}
			if c.Action != tt.want.action || c.After.(*plans.SubscriptionAttrs).Enabled != tt.want.enabled || !strings.Contains(c.Reason, tt.want.reason) {
				t.Errorf("subscription: %s enabled=%v (%q); want %s enabled=%v (%q)", c.Action, c.After.(*plans.SubscriptionAttrs).Enabled, c.Reason,
					tt.want.action, tt.want.enabled, tt.want.reason)
			}
			if got := DisabledByHand(diags); (len(got) == 1 && got[0] == subAddr) != tt.want.byHand || len(got) > 1 {
				t.Errorf("DisabledByHand = %v, want the subscription: %v", got, tt.want.byHand)
			}
		})
	}
}

// TestPausedInState reads the pause from either kind of record.
func TestPausedInState(t *testing.T) {
	_, _, st := applied()
	if PausedInState(st, "main") {
		t.Fatal("an applied replication reads as paused")
	}
	recordSubscriptionEnabled(t, st, false)
	if !PausedInState(st, "main") || PausedInState(st, "other") {
		t.Fatal("a subscription recorded disabled does not read as paused (or reads so for another replication)")
	}
	xmin := state.New()
	xmin.SetResource(&state.Resource{Address: `replication.w.xmin["app.public.t"]`, Kind: "xmin",
		Attributes: plans.EncodeAttrs(&plans.XminAttrs{Interval: "1h", BatchSize: 1, Paused: true})})
	if !PausedInState(xmin, "w") {
		t.Fatal("an xmin cursor recorded paused does not read as paused")
	}
}
