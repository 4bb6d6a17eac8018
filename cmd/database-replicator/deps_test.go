package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/database-replicator/database-replicator"

// listedPackage is the part of `go list -json` the dependency rules read.
type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// dependencyRule forbids packages matching From to depend on packages
// matching Forbidden, directly (Direct) or through any chain.
type dependencyRule struct {
	From      string
	Forbidden string
	Direct    bool
	Why       string
}

// dependencyRules are the rules docs/development.md states; keep both in step.
var dependencyRules = []dependencyRule{
	{From: module + "/executor", Forbidden: "github.com/jackc/", Why: "the executor knows no SQL"},
	{From: module + "/planner/plans", Forbidden: "github.com/jackc/", Why: "the plan model is data"},
	{From: module + "/planner/addrs", Forbidden: "github.com/jackc/", Why: "addresses are data"},
	{From: module + "/lang", Forbidden: "github.com/jackc/", Why: "lang never opens a database"},
	{From: module + "/lang", Forbidden: module + "/providers/", Why: "lang never opens a database"},
	{From: module + "/lang", Forbidden: module + "/planner", Why: "the configuration knows nothing of plans"},
	{From: module + "/providers/postgres/actions", Forbidden: module + "/planner", Direct: true, Why: "actions read the plan model (planner/plans), never the planner"},
	{From: module + "/planner", Forbidden: module + "/executor", Why: "the planner executes nothing"},
	{From: module + "/planner", Forbidden: module + "/providers/postgres/actions", Why: "the planner executes nothing"},
	{From: module + "/state", Forbidden: module + "/planner", Why: "state is below the planner"},
	{From: module + "/state", Forbidden: module + "/executor", Why: "state is below the executor"},
	{From: module + "/picker", Forbidden: "github.com/charmbracelet/", Why: "the picker's logic is pure: only the CLI draws forms"},
	{From: module + "/lang", Forbidden: "github.com/charmbracelet/", Why: "the language draws no forms"},
	{From: module + "/agent", Forbidden: module + "/providers/", Why: "the agent runs the CLI's commands as child processes: no replication logic of its own (connstr for redaction only)"},
	{From: module + "/agent", Forbidden: module + "/planner", Why: "the agent runs the CLI's commands as child processes"},
	{From: module + "/agent", Forbidden: module + "/executor", Why: "the agent runs the CLI's commands as child processes"},
	{From: module + "/agent/seal", Forbidden: "github.com/jackc/", Why: "sealing is pure crypto"},
	{From: module + "/", Forbidden: module + "/cmd/", Why: "nothing imports the CLI"},
	{From: module + "/", Forbidden: module + "/providers/postgres/pgtest", Why: "pgtest is for tests only"},
}

// TestDependencyRules checks the import graph of every package against
// dependencyRules with `go list -deps` (test files are not part of it).
func TestDependencyRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	var pkgs []listedPackage
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		for _, r := range dependencyRules {
			if !inTree(p.ImportPath, r.From) {
				continue
			}
			deps := p.Deps
			if r.Direct {
				deps = p.Imports
			}
			for _, d := range deps {
				if inTree(d, r.Forbidden) && !inTree(p.ImportPath, r.Forbidden) && !allowed(p.ImportPath, d, r) {
					t.Errorf("%s depends on %s: %s", p.ImportPath, d, r.Why)
				}
			}
		}
	}
}

// inTree reports whether path is pattern or below it; a pattern ending in
// "/" matches everything below it.
func inTree(path, pattern string) bool {
	if strings.HasSuffix(pattern, "/") {
		return strings.HasPrefix(path, pattern)
	}
	return path == pattern || strings.HasPrefix(path, pattern+"/")
}

// allowed lists the exceptions to the rules: the packages below a
// forbidden prefix that may be used.
func allowed(from, dep string, r dependencyRule) bool {
	switch {
	case r.Forbidden == module+"/planner" && (inTree(dep, module+"/planner/plans") || inTree(dep, module+"/planner/addrs")):
		return true
	case r.Forbidden == module+"/cmd/" && inTree(from, module+"/cmd/"):
		return true
	case r.Forbidden == module+"/providers/" && inTree(from, module+"/agent") && inTree(dep, module+"/providers/postgres/connstr"):
		return true
	}
	return false
}
