// Package client is the CLI's side of the agent API: submit a job, follow
// its log, read and cancel jobs.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/database-replicator/database-replicator/agent/api"
	"github.com/database-replicator/database-replicator/agent/store"
)

// Client talks to one agent.
type Client struct {
	Base string
	Key  string
	HTTP *http.Client
}

// New returns a client of the agent at base with key.
func New(base, key string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--remote %q: want the agent's URL, e.g. https://agent.internal:8443", base)
	}
	if key == "" {
		return nil, errors.New("--remote needs an API key in REPLICATOR_API_KEY ('database-replicator agent keys create' issues one)")
	}
	return &Client{Base: strings.TrimRight(base, "/"), Key: key, HTTP: &http.Client{Timeout: time.Minute}}, nil
}

// StatusError is an error response of the agent.
type StatusError struct {
	Code    int
	Message string
	TraceID string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("agent: %s (HTTP %d, trace %s)", e.Message, e.Code, e.TraceID)
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return fmt.Errorf("agent request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("reach the agent at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read the agent's response: %w", err)
	}
	if resp.StatusCode >= 300 {
		var eb struct {
			Error   string `json:"error"`
			TraceID string `json:"trace_id"`
		}
		_ = json.Unmarshal(data, &eb)
		if eb.Error == "" {
			eb.Error = strings.TrimSpace(string(data))
		}
		return &StatusError{Code: resp.StatusCode, Message: eb.Error, TraceID: resp.Header.Get(api.TraceHeader)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode the agent's response: %w", err)
	}
	return nil
}

// Submit queues a job.
func (c *Client) Submit(ctx context.Context, req *api.SubmitRequest) (*store.Job, error) {
	var out api.JobResponse
	if err := c.do(ctx, http.MethodPost, "/v1/jobs", req, &out); err != nil {
		return nil, err
	}
	return out.Job, nil
}

// Job reads one job.
func (c *Client) Job(ctx context.Context, id string) (*store.Job, error) {
	var out api.JobResponse
	if err := c.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return out.Job, nil
}

// Jobs lists the newest jobs.
func (c *Client) Jobs(ctx context.Context, limit int) ([]*store.Job, error) {
	var out struct {
		Jobs []*store.Job `json:"jobs"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/jobs?limit="+strconv.Itoa(limit), nil, &out); err != nil {
		return nil, err
	}
	return out.Jobs, nil
}

// Cancel asks the agent to cancel a job.
func (c *Client) Cancel(ctx context.Context, id string) (*store.Job, error) {
	var out api.JobResponse
	if err := c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(id)+"/cancel", nil, &out); err != nil {
		return nil, err
	}
	return out.Job, nil
}

// Logs reads the log lines of a job after seq.
func (c *Client) Logs(ctx context.Context, id string, after int64) (*api.LogsResponse, error) {
	var out api.LogsResponse
	if err := c.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id)+"/logs?after="+strconv.FormatInt(after, 10), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Follow prints a job's log lines (stdout lines to stdout, the others to
// stderr) until the job is over, and returns the finished job. It follows
// the job's NDJSON log stream (GET /v1/jobs/ID/stream); when the stream
// cannot be opened or breaks before the job is over (a proxy cutting long
// responses, an agent restarting), it polls the log from the last line it
// printed, so no line is lost or printed twice. With follow false it
// prints what there is and returns.
func (c *Client) Follow(ctx context.Context, id string, stdout, stderr io.Writer, follow bool) (*store.Job, error) {
	var after int64
	if follow {
		job, err := c.stream(ctx, id, &after, stdout, stderr)
		if err == nil {
			return job, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return c.poll(ctx, id, after, stdout, stderr, follow)
}

// printLine writes one log line to the writer of its stream.
func printLine(l store.LogLine, stdout, stderr io.Writer) {
	w := stderr
	if l.Stream == "stdout" {
		w = stdout
	}
	fmt.Fprintln(w, l.Line)
}

// stream prints the lines of job id's log stream after *after, keeping
// *after at the last line printed, and returns the job once the stream
// reports it over; an error when the stream cannot be read to its end.
func (c *Client) stream(ctx context.Context, id string, after *int64, stdout, stderr io.Writer) (*store.Job, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/v1/jobs/"+url.PathEscape(id)+"/stream?after="+strconv.FormatInt(*after, 10), nil)
	if err != nil {
		return nil, fmt.Errorf("agent request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	// A stream lasts as long as the job: no overall timeout (c.HTTP has
	// one), the context ends it.
	hc := &http.Client{}
	if c.HTTP != nil {
		hc.Transport = c.HTTP.Transport
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach the agent at %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Code: resp.StatusCode, Message: "log stream refused", TraceID: resp.Header.Get(api.TraceHeader)}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		var msg struct {
			Job *store.Job `json:"job"`
			store.LogLine
		}
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil {
			return nil, fmt.Errorf("decode the log stream of job %s: %w", id, err)
		}
		if msg.Job != nil {
			return msg.Job, nil
		}
		if msg.Seq <= *after {
			continue
		}
		printLine(msg.LogLine, stdout, stderr)
		*after = msg.Seq
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the log stream of job %s: %w", id, err)
	}
	return nil, fmt.Errorf("the log stream of job %s ended before the job", id)
}

// poll prints job id's log lines after after, polling every 0.5 s until
// the job is over (or once, with follow false).
func (c *Client) poll(ctx context.Context, id string, after int64, stdout, stderr io.Writer, follow bool) (*store.Job, error) {
	for {
		page, err := c.Logs(ctx, id, after)
		if err != nil {
			return nil, err
		}
		for _, l := range page.Lines {
			printLine(l, stdout, stderr)
			after = l.Seq
		}
		if len(page.Lines) > 0 {
			continue // there may be more right away
		}
		if !follow || store.Final(page.Job.Status) {
			// Lines stored before the final status are all read: the
			// worker flushes them before it records the outcome.
			return page.Job, nil
		}
		select {
		case <-ctx.Done():
			return page.Job, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
