package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/database-replicator/database-replicator/agent/api"
	"github.com/database-replicator/database-replicator/agent/store"
)

// logAgent serves a job's log of four lines the way the agent does, except
// that its stream breaks after breakAfter lines (never when negative).
func logAgent(t *testing.T, breakAfter int, streams, polls *atomic.Int32) *httptest.Server {
	t.Helper()
	lines := []store.LogLine{{Seq: 1, Stream: "stdout", Line: "one"}, {Seq: 2, Stream: "stderr", Line: "two"},
		{Seq: 3, Stream: "stdout", Line: "three"}, {Seq: 4, Stream: "stdout", Line: "four"}}
	code := 0
	done := &store.Job{ID: "job_1", Status: store.StatusSucceeded, ExitCode: &code}
	after := func(r *http.Request) []store.LogLine {
		n, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		return lines[n:]
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/jobs/job_1/stream", func(w http.ResponseWriter, r *http.Request) {
		streams.Add(1)
		enc := json.NewEncoder(w)
		for i, l := range after(r) {
			if i == breakAfter {
				return // the stream ends without the job
			}
			_ = enc.Encode(l)
		}
		_ = enc.Encode(api.JobResponse{Job: done})
	})
	mux.HandleFunc("GET /v1/jobs/job_1/logs", func(w http.ResponseWriter, r *http.Request) {
		polls.Add(1)
		_ = json.NewEncoder(w).Encode(api.LogsResponse{Job: done, Lines: after(r)})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestFollowStreamsAndFallsBackToPolling(t *testing.T) {
	for _, c := range []struct {
		name       string
		breakAfter int
		wantPolls  bool
	}{{"stream to the end", -1, false}, {"stream breaks after two lines", 2, true}} {
		t.Run(c.name, func(t *testing.T) {
			var streams, polls atomic.Int32
			srv := logAgent(t, c.breakAfter, &streams, &polls)
			cl, err := New(srv.URL, "drk_test_key")
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			job, err := cl.Follow(context.Background(), "job_1", &stdout, &stderr, true)
			if err != nil || job == nil || job.Status != store.StatusSucceeded {
				t.Fatalf("Follow = %+v, %v", job, err)
			}
			// Every line once, on its stream, in order.
			if stdout.String() != "one\nthree\nfour\n" || stderr.String() != "two\n" {
				t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
			}
			if streams.Load() != 1 || (polls.Load() > 0) != c.wantPolls {
				t.Errorf("%d stream(s), %d poll(s); want 1 stream, polling %v", streams.Load(), polls.Load(), c.wantPolls)
			}
		})
	}
}
