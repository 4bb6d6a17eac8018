package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/database-replicator/database-replicator/providers/postgres/pgtest"
)

// agentProc is one agent process started from the built binary.
type agentProc struct {
	id  string
	url string
	cmd *exec.Cmd
	log string
}

// startAgent starts `agent` with env and waits for its URL.
func startAgent(t *testing.T, bin, id, workDir string, env []string, extra ...string) *agentProc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), id+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "agent", "--listen", "127.0.0.1:0", "--work-dir", workDir, "--id", id,
		"--max-jobs", "2", "--lease-ttl", "3s", "--log-level", "debug")
	cmd.Args = append(cmd.Args, extra...)
	cmd.Env = env
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &agentProc{id: id, cmd: cmd, log: logPath}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = logFile.Close()
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "Agent listening on "); ok {
				urls <- u
			}
		}
	}()
	select {
	case p.url = <-urls:
	case <-time.After(2 * time.Minute):
		log, _ := os.ReadFile(logPath)
		t.Fatalf("agent %s did not start:\n%s", id, log)
	}
	return p
}

// testHTTP trusts the test's TLS certificate (testTLS).
var testHTTP = http.DefaultClient

// testTLS writes a self-signed certificate for 127.0.0.1 and its key into
// dir, and makes testHTTP trust it.
func testTLS(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "agent test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	testHTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return certPath, keyPath
}

// apiCall sends a JSON request with key (none when empty) and returns the
// status code and body; every body is kept in bodies for the secret scan.
func apiCall(t *testing.T, bodies *bytes.Buffer, method, url, key string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := testHTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	bodies.Write(data)
	if resp.Header.Get("X-Trace-Id") == "" {
		t.Errorf("%s %s: no X-Trace-Id header", method, url)
	}
	return resp.StatusCode, data
}

// agentJob is the part of a job the test reads.
type agentJob struct {
	ID       string `json:"id"`
	TraceID  string `json:"trace_id"`
	Status   string `json:"status"`
	ExitCode *int   `json:"exit_code"`
	Agent    string `json:"agent"`
	Attempt  int    `json:"attempt"`
}

func getJob(t *testing.T, bodies *bytes.Buffer, base, key, id string) agentJob {
	t.Helper()
	code, data := apiCall(t, bodies, "GET", base+"/v1/jobs/"+id, key, nil)
	if code != 200 {
		t.Fatalf("GET job %s: %d %s", id, code, data)
	}
	var r struct{ Job agentJob }
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return r.Job
}

// waitJob polls job id until cond holds (generous: the machine is shared).
func waitJob(t *testing.T, bodies *bytes.Buffer, base, key, id, what string, cond func(agentJob) bool) agentJob {
	t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	for {
		j := getJob(t, bodies, base, key, id)
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s never %s: %+v", id, what, j)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func final(j agentJob) bool {
	switch j.Status {
	case "succeeded", "failed", "cancelled", "timed_out":
		return true
	}
	return false
}

// TestAgent runs two agent processes on one queue against real clusters:
// authentication and scopes, the quickstart applied remotely with the
// same result as locally, ten jobs spread over both agents, a job timeout
// that leaves the state resumable, kill -9 of the agent running a sync
// and its takeover by the other, and no key or submitted password in the
// agents' logs, the queue tables or any API response.
func TestAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("live test with agent processes")
	}
	bin := buildBinary(t)
	src := pgtest.Start(t, pgtest.UniquePassword())
	dst := pgtest.Start(t, pgtest.UniquePassword())
	local := pgtest.Start(t, pgtest.UniquePassword())
	secret := src.Password() // submitted to the agent in source_url
	if secret == dst.Password() || secret == pgtest.DefaultPassword {
		t.Fatal("the source has no password of its own")
	}
	psql := exec.Command(filepath.Join(src.BinDir(), "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "../../examples/quickstart/seed.sql", src.URL("postgres"))
	if out, err := psql.CombinedOutput(); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	dst.CreateDatabase(t, "agentq")
	queueURL := dst.URL("agentq")
	config, err := filepath.Abs("../../examples/quickstart/replication.hcl")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	baseEnv := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "NO_COLOR=1", "TMPDIR=" + t.TempDir()}
	if d := os.Getenv("REPLICATOR_PG_BINDIR"); d != "" {
		baseEnv = append(baseEnv, "REPLICATOR_PG_BINDIR="+d)
	}
	cli := func(env []string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(append([]string{}, baseEnv...), env...)
		cmd.Dir = home
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	queueEnv := []string{"REPLICATOR_AGENT_STATE_URL=" + queueURL}
	mustKey := func(scope string) string {
		out, code := cli(queueEnv, "agent", "keys", "create", "--name", "test-"+scope, "--scope", scope)
		if code != 0 {
			t.Fatalf("keys create: %d\n%s", code, out)
		}
		m := regexp.MustCompile(`drk_\S+`).FindString(out)
		if m == "" {
			t.Fatalf("no key printed:\n%s", out)
		}
		return m
	}
	runKey, readKey, revokedKey := mustKey("run"), mustKey("read"), mustKey("run")
	out, _ := cli(queueEnv, "agent", "keys", "list")
	revokedID := strings.Split(strings.TrimPrefix(revokedKey, "drk_"), "_")[0]
	if !strings.Contains(out, revokedID) || strings.Contains(out, revokedKey) {
		t.Fatalf("keys list must show the key's ID and never the key:\n%s", out)
	}
	if out, code := cli(queueEnv, "agent", "keys", "revoke", revokedID); code != 0 {
		t.Fatalf("keys revoke: %d\n%s", code, out)
	}

	// The agents model two machines: each has its own work directory
	// (nothing shared on disk but the key file, which every agent of a
	// queue needs), and the configuration they run keeps its state in
	// PostgreSQL (the queue's database, as docs/agent.md suggests), so the
	// agent that takes over a sync or runs the next job reads the state
	// the other wrote. The agents' environment names the target and the
	// state database. agent-b serves HTTPS; the CLI trusts its certificate
	// through SSL_CERT_FILE.
	workDirA, workDirB := t.TempDir(), t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "agent.key")
	quickstart, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	pgConfig := filepath.Join(t.TempDir(), "replication.hcl")
	if err := os.WriteFile(pgConfig, append(quickstart, "\nstate {\n  backend = \"postgres\"\n  url     = env(\"STATE_URL\")\n}\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := testTLS(t, t.TempDir())
	baseEnv = append(baseEnv, "SSL_CERT_FILE="+certPath)
	agentEnv := append(append([]string{}, baseEnv...), "REPLICATOR_AGENT_STATE_URL="+queueURL, "TARGET_URL="+dst.URL("postgres"), "STATE_URL="+queueURL)
	a := startAgent(t, bin, "agent-a", workDirA, agentEnv, "--key-file", keyFile)
	if _, err := os.Stat(keyFile); err != nil {
		t.Fatalf("agent-a did not create its key file: %v", err)
	}
	b := startAgent(t, bin, "agent-b", workDirB, agentEnv, "--key-file", keyFile, "--tls-cert", certPath, "--tls-key", keyPath)
	if !strings.HasPrefix(b.url, "https://") {
		t.Fatalf("agent-b with --tls-cert serves %s", b.url)
	}
	agents := map[string]*agentProc{a.id: a, b.id: b}
	var bodies bytes.Buffer
	submit := map[string]any{"command": "plan", "files": map[string]string{"replication.hcl": "x"}, "vars": map[string]string{"source_url": src.URL("shop")}}

	t.Run("auth", func(t *testing.T) {
		for _, c := range []struct {
			key  string
			want int
		}{{"", 401}, {"drk_0000_wrong", 401}, {runKey + "x", 401}, {revokedKey, 401}, {readKey, 403}} {
			if code, body := apiCall(t, &bodies, "POST", a.url+"/v1/jobs", c.key, submit); code != c.want {
				t.Errorf("submit with key %.8q…: %d, want %d: %s", c.key, code, c.want, body)
			}
		}
		if code, _ := apiCall(t, &bodies, "GET", a.url+"/v1/jobs", "", nil); code != 401 {
			t.Errorf("list without key: %d, want 401", code)
		}
		if code, _ := apiCall(t, &bodies, "GET", a.url+"/v1/jobs", readKey, nil); code != 200 {
			t.Errorf("list with the read key: %d, want 200", code)
		}
		if n := dst.QueryInt(t, "agentq", "SELECT count(*) FROM replicator_agent.jobs"); n != 0 {
			t.Errorf("%d job(s) created by refused requests", n)
		}
		if n := dst.QueryInt(t, "agentq", "SELECT count(*) FROM replicator_agent.river_job"); n != 0 {
			t.Errorf("%d river job(s) created by refused requests", n)
		}
		if code, _ := apiCall(t, &bodies, "GET", a.url+"/healthz", "", nil); code != 200 {
			t.Errorf("healthz: %d", code)
		}
		if _, body := apiCall(t, &bodies, "GET", a.url+"/metrics", "", nil); !bytes.Contains(body, []byte(`replicator_agent_http_requests_total{code="403",route="POST /v1/jobs"} 1`)) {
			t.Errorf("metrics do not count the refused request:\n%s", body)
		}
	})

	remoteEnv := []string{"REPLICATOR_API_KEY=" + runKey, "REPLICATOR_REMOTE=" + b.url} // over HTTPS
	var applyJob []string
	applied := regexp.MustCompile(`Applied (\d+) change\(s\), (\d+) failed`)
	t.Run("remote apply equals local", func(t *testing.T) {
		localOut, localCode := cli([]string{"TARGET_URL=" + local.URL("postgres")}, "-c", config, "--var", "source_url="+src.URL("postgres"), "apply", "-y")
		if localCode != 0 {
			t.Fatalf("local apply: exit %d\n%s", localCode, localOut)
		}
		want, err := tableDigests(context.Background(), local.URL("shop"))
		if err != nil {
			t.Fatal(err)
		}
		// The source's slot and publication go, so the remote apply can
		// create its own with the same names.
		if out, code := cli([]string{"TARGET_URL=" + local.URL("postgres")}, "-c", config, "--var", "source_url="+src.URL("postgres"), "destroy", "-y"); code != 0 {
			t.Fatalf("local destroy: exit %d\n%s", code, out)
		}
		remoteOut, remoteCode := cli(remoteEnv, "-c", pgConfig, "--var", "source_url="+src.URL("postgres"), "apply", "-y")
		t.Logf("remote apply:\n%s", remoteOut)
		if remoteCode != localCode {
			t.Fatalf("remote apply: exit %d, local %d\n%s", remoteCode, localCode, remoteOut)
		}
		applyJob = regexp.MustCompile(`Job (job_[0-9a-f]+) submitted`).FindStringSubmatch(remoteOut)
		if !regexp.MustCompile(`Job job_[0-9a-f]+ submitted to .* \(trace ID tr_[0-9a-f]+\)`).MatchString(remoteOut) || applyJob == nil {
			t.Errorf("remote apply does not print the job and trace IDs:\n%s", remoteOut)
		}
		// The CLI followed the job through its log stream, not by
		// polling the log (the output above is the stream's).
		_, metrics := apiCall(t, &bodies, "GET", b.url+"/metrics", "", nil)
		if !bytes.Contains(metrics, []byte(`replicator_agent_http_requests_total{code="200",route="GET /v1/jobs/{id}/stream"} 1`)) ||
			bytes.Contains(metrics, []byte(`route="GET /v1/jobs/{id}/logs"`)) {
			t.Errorf("the remote apply was not followed through one log stream:\n%s", metrics)
		}
		l, r := applied.FindStringSubmatch(localOut), applied.FindStringSubmatch(remoteOut)
		if l == nil || r == nil || l[0] != r[0] || !strings.Contains(remoteOut, "Apply complete.") {
			t.Errorf("summaries differ: local %q, remote %q", l, r)
		}
		got, err := tableDigests(context.Background(), dst.URL("shop"))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || len(want) < 4 {
			t.Errorf("remote target rows differ from the local target's:\nremote %v\nlocal  %v", got, want)
		}
	})

	t.Run("ten jobs over two agents", func(t *testing.T) {
		cfg, _ := os.ReadFile(pgConfig)
		req := map[string]any{"command": "plan", "files": map[string]string{"replication.hcl": string(cfg)},
			"vars": map[string]string{"source_url": src.URL("postgres")}}
		var ids []string
		for range 10 {
			code, body := apiCall(t, &bodies, "POST", b.url+"/v1/jobs", runKey, req)
			if code != 201 {
				t.Fatalf("submit: %d %s", code, body)
			}
			var r struct{ Job agentJob }
			_ = json.Unmarshal(body, &r)
			ids = append(ids, r.Job.ID)
		}
		ran := map[string]int{}
		for _, id := range ids {
			j := waitJob(t, &bodies, a.url, readKey, id, "finished", final)
			if j.Status != "succeeded" || j.ExitCode == nil || *j.ExitCode != 0 {
				_, logs := apiCall(t, &bodies, "GET", a.url+"/v1/jobs/"+id+"/logs", readKey, nil)
				t.Errorf("job %s: %+v\n%s", id, j, logs)
			}
			ran[j.Agent]++
		}
		t.Logf("jobs per agent: %v", ran)
		if ran["agent-a"] == 0 || ran["agent-b"] == 0 {
			t.Errorf("the jobs did not spread over both agents: %v", ran)
		}
	})

	t.Run("job timeout", func(t *testing.T) {
		out, code := cli(remoteEnv, "-c", pgConfig, "--var", "source_url="+src.URL("postgres"), "--job-timeout", "3s", "sync", "--sync-interval", "1s")
		if code == 0 || !strings.Contains(out, "timed out") || !strings.Contains(out, "resume") {
			t.Fatalf("sync past its job timeout: exit %d\n%s", code, out)
		}
		// The log stream of the finished job: its lines, then the job.
		id := regexp.MustCompile(`Job (job_[0-9a-f]+) submitted`).FindStringSubmatch(out)
		if id == nil {
			t.Fatalf("no job ID:\n%s", out)
		}
		code, body := apiCall(t, &bodies, "GET", b.url+"/v1/jobs/"+id[1]+"/stream", readKey, nil)
		lines := strings.Split(strings.TrimSpace(string(body)), "\n")
		if code != 200 || len(lines) < 2 || !strings.Contains(string(body), "job timeout of 3s reached") || !strings.Contains(lines[len(lines)-1], `"status":"timed_out"`) {
			t.Errorf("log stream: %d\n%s", code, body)
		}
		if code, _ := apiCall(t, &bodies, "GET", b.url+"/v1/jobs/"+id[1]+"/stream", "", nil); code != 401 {
			t.Errorf("log stream without a key: %d, want 401", code)
		}
		// The state is intact: plan shows nothing to do.
		out, code = cli(remoteEnv, "-c", pgConfig, "--var", "source_url="+src.URL("postgres"), "plan")
		if code != 0 || !strings.Contains(out, "No changes") {
			t.Fatalf("plan after the timed-out sync: exit %d\n%s", code, out)
		}
	})

	t.Run("kill -9 of the sync's agent", func(t *testing.T) {
		out, code := cli(remoteEnv, "-c", pgConfig, "--var", "source_url="+src.URL("postgres"), "--detach", "sync", "--sync-interval", "1s")
		if code != 0 {
			t.Fatalf("sync --detach: exit %d\n%s", code, out)
		}
		id := regexp.MustCompile(`(?m)^job_[0-9a-f]+$`).FindString(out)
		if id == "" {
			t.Fatalf("sync --detach printed no job ID:\n%s", out)
		}
		j := waitJob(t, &bodies, a.url, readKey, id, "running", func(j agentJob) bool { return j.Status == "running" && j.Agent != "" })
		holder, other := agents[j.Agent], a
		if holder == a {
			other = b
		}
		src.Exec(t, "shop", `INSERT INTO customers (email) SELECT 'before-kill-' || g || '@example.com' FROM generate_series(1, 50) g`)
		if err := holder.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		src.Exec(t, "shop", `INSERT INTO customers (email) SELECT 'after-kill-' || g || '@example.com' FROM generate_series(1, 50) g`)
		j = waitJob(t, &bodies, other.url, readKey, id, "taken over", func(j agentJob) bool {
			return j.Status == "running" && j.Agent == other.id && j.Attempt == 2
		})
		t.Logf("sync %s taken over by %s", id, j.Agent)
		// customers is copied whole (orders has a time window, audit_log
		// is structure only): every row written around the kill arrives.
		waitRowsEqual(t, src, dst, "shop", "customers")
		// The resumed sync also carries the sequences over, every cycle.
		deadline := time.Now().Add(3 * time.Minute)
		for q := `SELECT last_value FROM customers_id_seq`; src.QueryInt(t, "shop", q) != dst.QueryInt(t, "shop", q); time.Sleep(250 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the resumed sync never carried customers_id_seq over")
			}
		}
		// Nothing of the replication is on either agent's disk: the state
		// is in PostgreSQL.
		for _, dir := range []string{workDirA, workDirB} {
			_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
				if err == nil && strings.Contains(d.Name(), ".state") {
					t.Errorf("a state file on an agent's disk: %s", path)
				}
				return nil
			})
		}
		if n := dst.QueryInt(t, "agentq", "SELECT count(*) FROM replicator.state"); n != 1 {
			t.Errorf("%d state row(s) in the state database, want 1", n)
		}
		env := []string{"REPLICATOR_API_KEY=" + runKey, "REPLICATOR_REMOTE=" + other.url}
		if out, code := cli(env, "-c", pgConfig, "--var", "source_url="+src.URL("postgres"), "verify"); code != 0 {
			t.Fatalf("remote verify after the takeover: exit %d\n%s", code, out)
		}
		// A second continuous sync of the same replication, submitted with
		// a differently written copy of its configuration (state block
		// first, indented otherwise, a comment, the source's URL with
		// another database), is refused, naming the job that holds the
		// lease: the lease is the replication's, not the file's.
		rewritten := filepath.Join(t.TempDir(), "copy.hcl")
		copyText := "# the same replication, written otherwise\nstate {\n    url = env(\"STATE_URL\")\n    backend = \"postgres\"\n}\n" +
			strings.ReplaceAll(string(quickstart), "  ", "\t")
		if err := os.WriteFile(rewritten, []byte(copyText), 0o600); err != nil {
			t.Fatal(err)
		}
		out, code = cli(env, "-c", rewritten, "--var", "source_url="+src.URL("shop"), "sync")
		if code == 0 || !strings.Contains(out, "already runs on agent "+other.id+" as job "+id) {
			t.Errorf("a second sync of the replication: exit %d\n%s", code, out)
		}
		// A job left running by an agent that is gone is failed, with a
		// resume hint, by the agents that are alive.
		dst.Exec(t, "agentq", `INSERT INTO replicator_agent.jobs (id, trace_id, command, payload, status, agent) VALUES ('job_orphan', 'tr_orphan', 'apply', '\x00', 'running', 'agent-gone')`)
		if j := waitJob(t, &bodies, other.url, readKey, "job_orphan", "failed", final); j.Status != "failed" || j.ExitCode == nil || *j.ExitCode != 1 {
			t.Errorf("the orphaned job: %+v", j)
		}
		t.Run("dashboard", func(t *testing.T) {
			if applyJob == nil {
				t.Skip("the remote apply failed")
			}
			checkDashboard(t, other.url, readKey, applyJob[1])
		})
		out, _ = cli(env, "jobs", "show", id)
		if !regexp.MustCompile(`replication: +quickstart`).MatchString(out) || !strings.Contains(out, other.id+" (attempt 2)") {
			t.Errorf("jobs show after the takeover:\n%s", out)
		}
		out, _ = cli(env, "jobs", "list")
		if !regexp.MustCompile(id + ` +sync +quickstart +running`).MatchString(out) {
			t.Errorf("jobs list does not show the running sync:\n%s", out)
		}
		out, _ = cli(env, "jobs", "logs", id)
		if !strings.Contains(out, "stopped renewing the sync lease") || !strings.Contains(out, "resumes sync (attempt 2)") {
			t.Errorf("the sync's log does not tell the takeover:\n%s", out)
		}
		if out, code := cli(env, "jobs", "cancel", id); code != 0 {
			t.Fatalf("jobs cancel: exit %d\n%s", code, out)
		}
		j = waitJob(t, &bodies, other.url, readKey, id, "cancelled", final)
		if j.Status != "cancelled" {
			t.Errorf("cancelled sync: %+v", j)
		}
		a = other // the survivor serves what follows
	})

	t.Run("no secret anywhere", func(t *testing.T) {
		for _, p := range agents {
			log, err := os.ReadFile(p.log)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(log, []byte("trace_id=")) {
				t.Errorf("agent %s logs no trace ID", p.id)
			}
			for name, s := range map[string]string{"source password": secret, "run key": runKey, "read key": readKey} {
				if bytes.Contains(log, []byte(s)) {
					t.Errorf("the %s is in the log of %s", name, p.id)
				}
			}
		}
		if bytes.Contains(bodies.Bytes(), []byte(secret)) {
			t.Error("the source password is in an API response")
		}
		conn, err := pgx.Connect(context.Background(), queueURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		rows, err := conn.Query(context.Background(), `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables WHERE table_schema IN ('replicator_agent', 'replicator') AND table_type = 'BASE TABLE'`)
		if err != nil {
			t.Fatal(err)
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(tables) < 5 {
			t.Fatalf("queue tables: %v %v", tables, err)
		}
		for _, tbl := range tables {
			var dump string
			if err := conn.QueryRow(context.Background(), `SELECT coalesce(string_agg(t::text, E'\n'), '') FROM `+tbl+` t`).Scan(&dump); err != nil {
				t.Fatal(err)
			}
			for name, s := range map[string]string{"source password": secret, "run key": runKey, "read key": readKey} {
				if strings.Contains(dump, s) {
					t.Errorf("the %s is in table %s of the queue and state database", name, tbl)
				}
			}
		}
		scanForSecret(t, secret, nil, workDirA, workDirB, filepath.Dir(keyFile))
	})
}

// waitRowsEqual waits for table of db to hold the same rows on dst as on
// src (the source's rows are polled too: they may still be changing).
func waitRowsEqual(t *testing.T, src, dst *pgtest.Cluster, db, table string) {
	t.Helper()
	q := `SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM ` + table + ` t`
	digest := func(c *pgtest.Cluster) string {
		conn := c.Connect(t, db)
		defer conn.Close(context.Background())
		var d string
		if err := conn.QueryRow(context.Background(), q).Scan(&d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		want, got := digest(src), digest(dst)
		if want == got {
			t.Logf("%s: %s on both sides", table, want)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s differs: source %s, target %s", table, want, got)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
