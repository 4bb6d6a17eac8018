package lang

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestCodesDocumented checks that every code constant of codes.go has a row
// in docs/diagnostics.md, and that codes are unique.
func TestCodesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/diagnostics.md")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "codes.go", nil, 0)
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
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					continue
				}
				code, _ := strconv.Unquote(lit.Value)
				if prev, dup := seen[code]; dup {
					t.Errorf("%s and %s share code %q", prev, name.Name, code)
				}
				seen[code] = name.Name
				if !strings.Contains(string(doc), "| `"+code+"` |") {
					t.Errorf("%s (%q) has no row in docs/diagnostics.md", name.Name, code)
				}
			}
		}
	}
	if len(seen) < 40 {
		t.Errorf("found only %d codes in codes.go", len(seen))
	}
}
