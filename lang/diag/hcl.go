package diag

import "github.com/hashicorp/hcl/v2"

// Coded is implemented by the Extra value of an hcl.Diagnostic that carries
// a code (see WithCode). FromHCL reads the code through it.
type Coded interface {
	DiagnosticCode() Code
}

// codeExtra is the hcl.Diagnostic Extra value that carries a code.
type codeExtra Code

// DiagnosticCode implements Coded.
func (c codeExtra) DiagnosticCode() Code { return Code(c) }

// WithCode returns an hcl.Diagnostic Extra value that carries code, for
// code that builds hcl.Diagnostics and converts them with FromHCL later.
func WithCode(code Code) any { return codeExtra(code) }

// CodeOf returns the code an hcl.Diagnostic carries in its Extra value
// (directly or through hcl's Extra unwrapping), or "".
func CodeOf(d *hcl.Diagnostic) Code {
	if c, ok := hcl.DiagnosticExtra[Coded](d); ok {
		return c.DiagnosticCode()
	}
	return ""
}

// FromHCL converts HCL diagnostics, in order, keeping the subject range as
// Range and the code carried in Extra (see WithCode). Diagnostics without a
// code get fallback(d), when fallback is not nil.
func FromHCL(hds hcl.Diagnostics, fallback func(*hcl.Diagnostic) Code) Diagnostics {
	if len(hds) == 0 {
		return nil
	}
	out := make(Diagnostics, 0, len(hds))
	for _, hd := range hds {
		if hd == nil {
			continue
		}
		d := Diagnostic{Severity: Error, Summary: hd.Summary, Detail: hd.Detail, Code: CodeOf(hd)}
		if hd.Severity == hcl.DiagWarning {
			d.Severity = Warning
		}
		if d.Code == "" && fallback != nil {
			d.Code = fallback(hd)
		}
		if hd.Subject != nil {
			r := RangeFromHCL(*hd.Subject)
			d.Range = &r
		}
		out = append(out, d)
	}
	return out
}

// RangeFromHCL converts an hcl.Range.
func RangeFromHCL(r hcl.Range) Range {
	return Range{
		Filename: r.Filename,
		Start:    Pos{Line: r.Start.Line, Column: r.Start.Column, Byte: r.Start.Byte},
		End:      Pos{Line: r.End.Line, Column: r.End.Column, Byte: r.End.Byte},
	}
}
