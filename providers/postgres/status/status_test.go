package status

import (
	"strings"
	"testing"
	"time"
)

func TestUnhealthy(t *testing.T) {
	now := time.Now()
	cycled := []XminTable{{Table: "public.t", LastCycleAt: &now}}
	for _, tc := range []struct {
		name   string
		rows   []Row
		maxLag time.Duration
		want   string // substring; "" means healthy
	}{
		{"nothing", nil, time.Second, ""},
		{"streaming, no lag", []Row{{Method: "logical", State: StateStreaming}}, time.Second, ""},
		{"not streaming", []Row{{Replication: "main", Database: "app", Method: "logical", State: StateNotConnected}}, 0, `replication.main database "app" is not streaming (not connected)`},
		{"no subscription even without --max-lag", []Row{{Method: "logical", State: StateNoSubscription}}, 0, "is not streaming (no subscription)"},
		{"lags in seconds and bytes", []Row{{Method: "logical", State: StateStreaming, LagSeconds: 5, LagBytes: 10}}, 2 * time.Second, "lags 5.0s (max 2s)"},
		{"old confirmation but nothing pending", []Row{{Method: "logical", State: StateStreaming, LagSeconds: 500, LagBytes: 0}}, 2 * time.Second, ""},
		{"lag not checked without --max-lag", []Row{{Method: "logical", State: StateStreaming, LagSeconds: 500, LagBytes: 10}}, 0, ""},
		{"xmin before its first cycle", []Row{{Replication: "main", Database: "app", Method: "xmin"}}, 0, "has had no xmin sync cycle yet"},
		{"xmin cursor without a cycle", []Row{{Method: "xmin", Xmin: []XminTable{{Table: "t"}}}}, 0, "no xmin sync cycle yet"},
		{"xmin recent", []Row{{Method: "xmin", Xmin: cycled, LagSeconds: 3}}, 10 * time.Second, ""},
		{"xmin too old", []Row{{Method: "xmin", Xmin: cycled, LagSeconds: 30}}, 10 * time.Second, "last xmin cycle 30s ago (max 10s)"},
		{"none is never unhealthy", []Row{{Method: "none", State: "whatever"}}, time.Second, ""},
		{"first bad row wins", []Row{{Method: "logical", State: StateStreaming}, {Database: "b", Method: "logical", State: StateDisabled}, {Database: "c", Method: "xmin"}}, 0, `"b" is not streaming (disabled)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Unhealthy(tc.rows, tc.maxLag)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("Unhealthy = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestFinishLogical: every broken state is a state other than streaming
// with a problem, and has no lag (no fake 0.0).
func TestFinishLogical(t *testing.T) {
	for _, tc := range []struct {
		name                                string
		slot, lost, exists, enabled, active bool
		want                                string
	}{
		{"slot missing", false, false, true, true, false, StateSlotMissing},
		{"slot lost", true, true, true, true, true, StateSlotLost},
		{"no subscription", true, false, false, false, true, StateNoSubscription},
		{"disabled", true, false, true, false, true, StateDisabled},
		{"not connected", true, false, true, true, false, StateNotConnected},
		{"streaming", true, false, true, true, true, StateStreaming},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row := Row{Method: "logical", SlotActive: tc.active, LagBytes: 100}
			if tc.lost {
				row.WALStatus = "lost"
			}
			finishLogical(&row, tc.slot, tc.exists, tc.enabled, 7)
			if row.State != tc.want {
				t.Fatalf("state %q, want %q", row.State, tc.want)
			}
			broken := tc.want != StateStreaming
			if broken != (row.Problem != "") {
				t.Errorf("problem %q for state %s", row.Problem, row.State)
			}
			if broken && Unhealthy([]Row{row}, 0) == "" {
				t.Errorf("%s is not unhealthy", row.State)
			}
			wantLag := tc.slot && !tc.lost && tc.exists && tc.enabled
			if row.LagKnown != wantLag || (!wantLag && (row.LagSeconds != 0 || row.LagBytes != 0)) {
				t.Errorf("lag known %v (%d bytes, %.1fs), want known %v", row.LagKnown, row.LagBytes, row.LagSeconds, wantLag)
			}
			if row.Enabled != (tc.exists && tc.enabled) {
				t.Errorf("enabled %v", row.Enabled)
			}
		})
	}
	if lagSeconds(4, 0) != 0 || lagSeconds(4, 1) != 4 {
		t.Error("lag in seconds counts only while bytes are pending")
	}
}

// TestRetainedOver checks the --max-retained rule: only a slot retaining
// more than the limit is reported, and no limit reports nothing.
func TestRetainedOver(t *testing.T) {
	rows := []Row{{Replication: "main", Database: "a", Slot: "s_a", RetainedWAL: 10 << 20}, {Replication: "main", Database: "b", Slot: "s_b", RetainedWAL: 300 << 20}}
	if got := RetainedOver(rows, 0); got != "" {
		t.Errorf("no limit: %q", got)
	}
	if got := RetainedOver(rows, 1<<30); got != "" {
		t.Errorf("under the limit: %q", got)
	}
	got := RetainedOver(rows, 100<<20)
	if !strings.Contains(got, `database "b"`) || !strings.Contains(got, "300 MB") || !strings.Contains(got, "max 100 MB") {
		t.Errorf("over the limit: %q", got)
	}
}
