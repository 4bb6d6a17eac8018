// Package diagtest holds test helpers for packages that define diagnostic
// codes: every code constant is unique, carries its package's prefix and
// has a row in docs/diagnostics.md.
package diagtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// CodesDocumented parses the string constants of codesFile (a Go file of
// code constants) and fails t for a duplicate code, a code without prefix
// (when prefix is not ""), or a code without a "| `code` |" row in
// docFile. It returns the number of codes found.
func CodesDocumented(t testing.TB, codesFile, docFile, prefix string) int {
	t.Helper()
	doc, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), codesFile, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				code, _ := strconv.Unquote(lit.Value)
				if prev, dup := seen[code]; dup {
					t.Errorf("%s and %s share code %q", prev, name.Name, code)
				}
				seen[code] = name.Name
				if prefix != "" && !strings.HasPrefix(code, prefix) {
					t.Errorf("%s (%q) does not start with %s", name.Name, code, prefix)
				}
				if !strings.Contains(string(doc), "| `"+code+"` |") {
					t.Errorf("%s (%q) has no row in %s", name.Name, code, docFile)
				}
			}
		}
	}
	return len(seen)
}
