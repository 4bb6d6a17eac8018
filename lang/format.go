package lang

import (
	"bytes"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/database-replicator/database-replicator/lang/diag"
)

// Format returns the canonical formatting of one HCL file. It refuses to
// format a file that does not parse, returning the syntax diagnostics, so
// that a broken file is never rewritten.
func Format(filename string, src []byte) ([]byte, diag.Diagnostics) {
	if _, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos); diags.HasErrors() {
		return nil, fromHCL(withCode(diags, CodeSyntax))
	}
	out := hclwrite.Format(src)
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	return out, nil
}
