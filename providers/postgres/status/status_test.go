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

func TestLogicalState(t *testing.T) {
	for _, tc := range []struct {
		exists, enabled, active bool
		want                    string
		wantEnabled             bool
	}{
		{false, false, true, StateNoSubscription, false},
		{true, false, true, StateDisabled, false},
		{true, true, false, StateNotConnected, true},
		{true, true, true, StateStreaming, true},
	} {
		if got, en := logicalState(tc.exists, tc.enabled, tc.active); got != tc.want || en != tc.wantEnabled {
			t.Errorf("logicalState(%v, %v, %v) = %s %v, want %s %v", tc.exists, tc.enabled, tc.active, got, en, tc.want, tc.wantEnabled)
		}
	}
	if lagSeconds(4, 0) != 0 || lagSeconds(4, 1) != 4 {
		t.Error("lag in seconds counts only while bytes are pending")
	}
}
