package planner

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
// in docs/diagnostics.md, that codes are unique and that they are the
// planner's ("plan." prefix). It reads the files, so that docs need no
// import of the planner.
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
				if !strings.HasPrefix(code, "plan.") {
					t.Errorf("%s (%q) does not start with plan.", name.Name, code)
				}
				if !strings.Contains(string(doc), "| `"+code+"` |") {
					t.Errorf("%s (%q) has no row in docs/diagnostics.md", name.Name, code)
				}
			}
		}
	}
	if len(seen) < 25 {
		t.Errorf("found only %d codes in codes.go", len(seen))
	}
}
