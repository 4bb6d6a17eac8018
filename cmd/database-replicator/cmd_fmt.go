package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/database-replicator/database-replicator/cmd/database-replicator/views"
	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/lang/diag"
)

// fmtCmd rewrites HCL files in canonical format.
type fmtCmd struct {
	Check bool     `help:"Write nothing; list the files that would change and exit 3 if any."`
	Diff  bool     `help:"Show the changes as a unified diff."`
	Paths []string `arg:"" optional:"" help:"Files or directories (default: the --config path)." placeholder:"PATH"`
}

// Run implements the command.
func (c *fmtCmd) Run(a *app) error {
	paths := c.Paths
	if len(paths) == 0 {
		paths = []string{a.global.Config}
	}
	files, err := hclFiles(paths)
	if err != nil {
		return err
	}
	var changed []string
	var diags diag.Diagnostics
	sources := map[string][]byte{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("fmt: %w", err)
		}
		sources[f] = src
		out, d := lang.Format(f, src)
		if d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		changed = append(changed, f)
		fmt.Fprintln(a.io.stdout, f)
		if c.Diff {
			fmt.Fprint(a.io.stdout, views.UnifiedDiff(f, string(src), string(out)))
		}
		if !c.Check {
			if err := writeFileKeepMode(f, out); err != nil {
				return err
			}
		}
	}
	if len(diags) > 0 {
		if err := a.printDiagnostics(diags, sources); err != nil {
			return err
		}
		return &exitError{code: 1, err: fmt.Errorf("fmt: %d file(s) have syntax errors and were left unchanged", countFiles(diags))}
	}
	if c.Check && len(changed) > 0 {
		return exitCode(3)
	}
	return nil
}

// hclFiles expands paths into the *.hcl files to format.
func hclFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("fmt: %w", err)
		}
		if !st.IsDir() {
			if strings.HasSuffix(p, ".toml") {
				return nil, fmt.Errorf("fmt: %s is the predecessor's TOML format: convert it with `database-replicator config convert %s > replication.hcl`", p, p)
			}
			files = append(files, p)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(p, "*.hcl"))
		if err != nil {
			return nil, fmt.Errorf("fmt: %w", err)
		}
		sort.Strings(matches)
		files = append(files, matches...)
	}
	return files, nil
}

// writeFileKeepMode replaces a file's content, keeping its permissions.
func writeFileKeepMode(path string, data []byte) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("fmt %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, st.Mode().Perm()); err != nil {
		return fmt.Errorf("fmt %s: %w", path, err)
	}
	return nil
}

// countFiles counts the distinct files named by diagnostics.
func countFiles(diags diag.Diagnostics) int {
	seen := map[string]bool{}
	for _, d := range diags {
		if d.Range != nil {
			seen[d.Range.Filename] = true
		}
	}
	return len(seen)
}
