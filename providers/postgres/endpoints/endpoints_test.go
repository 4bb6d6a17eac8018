package endpoints

import (
	"strings"
	"testing"

	"github.com/database-replicator/database-replicator/lang"
)

func testConfig(srcURL, dstURL string) *lang.Config {
	return &lang.Config{
		Sources: map[string]*lang.Endpoint{"prod": {Kind: lang.KindSource, Name: "prod", URL: srcURL}},
		Targets: map[string]*lang.Endpoint{"new": {Kind: lang.KindTarget, Name: "new", URL: dstURL},
			"unused": {Kind: lang.KindTarget, Name: "unused", URL: "::not a url"}},
		Replications: []*lang.Replication{{Name: "main", Source: "prod", Target: "new"},
			{Name: "again", Source: "prod", Target: "new"}},
	}
}

func TestResolveParsesEachUsedEndpointOnce(t *testing.T) {
	s, err := Resolve(testConfig("postgres://u:secret@src:5433/app", "postgres://u@dst/app"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range s.All() {
		got = append(got, e.Address())
	}
	if strings.Join(got, ",") != "source.prod,target.new" {
		t.Fatalf("endpoints %v, want source.prod,target.new (sources first, each once, unused skipped)", got)
	}
	src, dst, err := s.Pair(testConfig("", "").Replications[0])
	if err != nil {
		t.Fatal(err)
	}
	if src.Host() != "src" || src.Port() != 5433 || dst.Host() != "dst" {
		t.Fatalf("got %s and %s", src, dst)
	}
}

func TestResolveNamesTheEndpointThatDoesNotParse(t *testing.T) {
	s, err := Resolve(testConfig("postgres://src/app", "postgres://dst:notaport/app"))
	if err == nil || !strings.HasPrefix(err.Error(), "target.new: ") {
		t.Fatalf("error %v, want one starting with target.new:", err)
	}
	if _, err := s.Source(testConfig("", "").Replications[0]); err != nil {
		t.Fatalf("the source parsed, got %v", err)
	}
	if _, err := s.Target(testConfig("", "").Replications[0]); err == nil || !strings.Contains(err.Error(), "target.new") {
		t.Fatalf("Target: %v, want the endpoint's parse error", err)
	}
	if _, err := s.Get("source.nope"); err == nil {
		t.Fatal("Get of an unknown address succeeded")
	}
}
