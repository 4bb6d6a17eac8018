package jobs

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/agent/seal"
)

func TestRedactorRemovesSubmittedSecrets(t *testing.T) {
	r := newRedactor(map[string]string{"source_url": "postgres://app:s3cr%40t-pw@db.internal/shop", "token": "tok-123456", "short": "ab"})
	for _, line := range []string{
		"connecting to postgres://app:s3cr%40t-pw@db.internal/shop",
		"password s3cr%40t-pw rejected",
		"token=tok-123456",
	} {
		got := r.line(line)
		if strings.Contains(got, "s3cr%40t-pw") || strings.Contains(got, "tok-123456") {
			t.Errorf("line(%q) = %q: secret left", line, got)
		}
	}
	if got := r.line("abc"); got != "abc" {
		t.Errorf("a value shorter than 4 characters redacted: %q", got)
	}
}

func TestPayloadSealAndConfigKey(t *testing.T) {
	s, err := seal.LoadOrCreateKeyFile(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	p := &Payload{Files: map[string]string{"a.hcl": "x"}, Args: []string{"-y"}, Vars: map[string]string{"pw": "hunter2-secret"}}
	sealed, err := p.Seal(s)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hunter2-secret")) {
		t.Fatal("sealed payload holds the variable in clear")
	}
	back, err := OpenPayload(s, sealed)
	if err != nil || back.Vars["pw"] != "hunter2-secret" || !slices.Equal(back.Args, p.Args) {
		t.Fatalf("OpenPayload = %+v, %v", back, err)
	}
	// The key names the configuration, not the arguments or the variables.
	other := &Payload{Files: map[string]string{"a.hcl": "x"}, Args: []string{"--once"}}
	if p.ConfigKey() != other.ConfigKey() {
		t.Error("same configuration, different keys")
	}
	if p.ConfigKey() == (&Payload{Files: map[string]string{"a.hcl": "y"}}).ConfigKey() {
		t.Error("different configurations, same key")
	}
	flags := func(src string) string {
		return (&Payload{Args: []string{"--source", src, "--target", "postgres://t/db"}}).ConfigKey()
	}
	if flags("postgres://a/db") == flags("postgres://b/db") {
		t.Error("--source/--target replications of different sources share a key")
	}
}

func TestLabelNamesReplications(t *testing.T) {
	p := &Payload{Files: map[string]string{
		"a.hcl": "replication \"tenant_b\" {\n}\n# replication \"commented\"\n",
		"b.hcl": "  replication \"tenant_a\" {\n  source = source.x\n}\n",
	}}
	if got := p.Label(); got != "tenant_a, tenant_b" {
		t.Fatalf("Label = %q", got)
	}
}

func TestPrepareRefusesPathsInFileNames(t *testing.T) {
	dir := t.TempDir()
	if _, err := prepare(dir, "plan", &Payload{Files: map[string]string{"../evil.hcl": "x"}}); err == nil {
		t.Fatal("a file name with a path was accepted")
	}
	args, err := prepare(dir, "apply", &Payload{Files: map[string]string{"r.hcl": "x"}, Args: []string{"-y"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"apply", "-y", "--no-color", "-c", filepath.Join(dir, "r.hcl")}
	if !slices.Equal(args, want) {
		t.Fatalf("args = %q, want %q", args, want)
	}
}

func TestReplicationKeyIgnoresHowTheFilesAreWritten(t *testing.T) {
	const config = `variable "source_url" {}
source "a" { url = var.source_url }
target "b" { url = env("TARGET_URL") }
replication "main" {
  source    = source.a
  target    = target.b
  databases = ["shop", "crm"]
}
`
	const rewritten = `# the same replication
replication "main" {
	databases = ["crm", "shop"]
	target = target.b
	source = source.a
}
target "b" {
	url = "postgres://other-user@db2.internal/postgres"
}
source "a" {
	url = "host=db1.internal port=5432 dbname=shop user=x"
}
`
	env := EnvLookup([]string{"TARGET_URL=postgres://u:pw@db2.internal:5432/app"})
	vars := map[string]string{"source_url": "postgres://db1.internal/postgres"}
	key := (&Payload{Files: map[string]string{"replication.hcl": config}, Vars: vars}).ReplicationKey(env)
	if got := (&Payload{Files: map[string]string{"main.hcl": rewritten}}).ReplicationKey(env); got != key {
		t.Errorf("a rewritten configuration of the same replication: key %s, want %s", got, key)
	}
	elsewhere := EnvLookup([]string{"TARGET_URL=postgres://db3.internal/app"})
	if got := (&Payload{Files: map[string]string{"replication.hcl": config}, Vars: vars}).ReplicationKey(elsewhere); got == key {
		t.Error("replications to different targets share a key")
	}
	other := strings.Replace(config, `"shop", "crm"`, `"shop"`, 1)
	if got := (&Payload{Files: map[string]string{"replication.hcl": other}, Vars: vars}).ReplicationKey(env); got == key {
		t.Error("replications of different databases share a key")
	}
	// Without the variable the configuration does not decode: the key is
	// the digest of the files.
	p := &Payload{Files: map[string]string{"replication.hcl": config}}
	if got := p.ReplicationKey(env); got != p.ConfigKey() {
		t.Errorf("an undecodable configuration: key %s, want ConfigKey %s", got, p.ConfigKey())
	}
}
