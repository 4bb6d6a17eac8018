package lang

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/database-replicator/database-replicator/lang/diag"
)

// sensitiveMark marks cty values derived from sensitive variables.
const sensitiveMark = markKey("sensitive")

// markKey is the type of the marks this package puts on cty values.
type markKey string

// VarEnvPrefix prefixes environment variables that set input variables:
// REPLICATOR_VAR_source_url sets variable "source_url".
const VarEnvPrefix = "REPLICATOR_VAR_"

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "default"},
		{Name: "sensitive"},
		{Name: "description"},
	},
}

// decodeVariable decodes one variable block and resolves its value.
func (d *decoder) decodeVariable(block *hcl.Block, ctx *hcl.EvalContext) {
	name := block.Labels[0]
	if !hclsyntax.ValidIdentifier(name) {
		d.errorf(CodeInvalidName, block.LabelRanges[0].Ptr(), "Invalid variable name",
			"%q cannot be referenced as var.%s: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", name, name)
		return
	}
	if prev, ok := d.cfg.Variables[name]; ok {
		d.errorf(CodeDuplicateBlock, block.DefRange.Ptr(), "Duplicate variable",
			"Variable %q is already declared at %s. Remove one of the two declarations or rename one.", name, rangeLoc(prev.DeclRange))
		return
	}
	v := &Variable{Name: name, DeclRange: block.DefRange}
	d.cfg.Variables[name] = v
	d.varVals[name] = cty.DynamicVal // until resolved

	content, diags := block.Body.Content(variableSchema)
	d.diags = append(d.diags, diags...)
	if a, ok := content.Attributes["description"]; ok {
		if s, _, ok := d.stringAttr(a, ctx); ok {
			v.Description = s
		}
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		if b, ok := d.boolAttr(a, ctx); ok {
			v.Sensitive = b
		}
	}
	if a, ok := content.Attributes["default"]; ok {
		val, ok := d.eval(a.Expr, ctx)
		if !ok {
			return
		}
		val, _ = val.UnmarkDeep()
		if !val.IsNull() {
			v.Default = val
		}
	}

	var val cty.Value
	if s, ok := d.opts.Vars[name]; ok {
		val, ok = d.varFromString(v, s, "--var "+name)
		if !ok {
			return
		}
	} else if s, env, ok := d.varFromEnv(name); ok {
		val, ok = d.varFromString(v, s, "environment variable "+env)
		if !ok {
			return
		}
	} else if v.Default != cty.NilVal {
		val = v.Default
	} else {
		d.errorf(CodeVariableNoValue, block.DefRange.Ptr(), fmt.Sprintf("No value for required variable %q", name),
			"Variable %q has no default. Set it with --var %s=VALUE, export %s%s=VALUE, or add default = ... to the variable block.", name, name, VarEnvPrefix, name)
		return
	}
	v.Value = val
	if v.Sensitive {
		val = val.Mark(sensitiveMark)
	}
	d.varVals[name] = val
}

// varFromEnv looks up REPLICATOR_VAR_name, then REPLICATOR_VAR_NAME.
func (d *decoder) varFromEnv(name string) (string, string, bool) {
	for _, env := range []string{VarEnvPrefix + name, VarEnvPrefix + strings.ToUpper(name)} {
		if s, ok := d.opts.lookupEnv(env); ok {
			return s, env, true
		}
	}
	return "", "", false
}

// varFromString converts a --var or environment string to the type of the
// variable's default: numbers and bools convert from their text, lists,
// maps and objects are parsed as HCL expressions.
func (d *decoder) varFromString(v *Variable, s, from string) (cty.Value, bool) {
	if v.Default == cty.NilVal || v.Default.Type() == cty.String {
		return cty.StringVal(s), true
	}
	ty := v.Default.Type()
	var val cty.Value
	if ty.IsPrimitiveType() {
		val = cty.StringVal(strings.TrimSpace(s))
	} else {
		expr, diags := hclsyntax.ParseExpression([]byte(s), from, hcl.InitialPos)
		if !diags.HasErrors() {
			val, diags = expr.Value(nil)
		}
		if diags.HasErrors() {
			d.errorf(CodeInvalidVariableValue, v.DeclRange.Ptr(), fmt.Sprintf("Invalid value for variable %q", v.Name),
				"The value from %s is not a valid HCL expression of type %s: %s.", from, ty.FriendlyName(), errorSummaries(diags))
			return cty.NilVal, false
		}
	}
	if !ty.IsPrimitiveType() {
		// Without a declared type, a collection default only fixes the
		// kind of value: any list for a list, any object for an object.
		if sameKind(val.Type(), ty) && val.IsWhollyKnown() {
			return val, true
		}
		d.errorf(CodeInvalidVariableValue, v.DeclRange.Ptr(), fmt.Sprintf("Invalid value for variable %q", v.Name),
			"The value from %s must be a %s, like the default, not a %s.", from, kindName(ty), kindName(val.Type()))
		return cty.NilVal, false
	}
	out, err := convert.Convert(val, ty)
	if err != nil || !out.IsWhollyKnown() {
		d.errorf(CodeInvalidVariableValue, v.DeclRange.Ptr(), fmt.Sprintf("Invalid value for variable %q", v.Name),
			"The value from %s must be a %s, like the default: %s.", from, ty.FriendlyName(), convertErr(err))
		return cty.NilVal, false
	}
	return out, true
}

// checkUndeclaredVars reports --var values for variables nobody declared.
func (d *decoder) checkUndeclaredVars() {
	var extra []string
	for name := range d.opts.Vars {
		if _, ok := d.cfg.Variables[name]; !ok {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	declared := d.variableNames()
	for _, name := range extra {
		detail := fmt.Sprintf("--var %s=... sets a variable that the configuration does not declare. ", name)
		if len(declared) == 0 {
			detail += fmt.Sprintf("The configuration declares no variables: add variable %q {} or drop the --var.", name)
		} else {
			detail += "Declared variables: " + strings.Join(declared, ", ") + "."
			if s := suggest(name, declared); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
		}
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Value for undeclared variable %q", name),
			Detail:   detail,
			Extra:    diag.WithCode(CodeUndeclaredVariableValue),
		})
	}
}

// variableNames lists the declared variables, sorted.
func (d *decoder) variableNames() []string {
	names := make([]string, 0, len(d.cfg.Variables))
	for n := range d.cfg.Variables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// convertErr renders a conversion error for a diagnostic detail.
func convertErr(err error) string {
	if err == nil {
		return "the value is not known"
	}
	if pe, ok := err.(cty.PathError); ok {
		return pe.Error()
	}
	return err.Error()
}

// sameKind reports whether two types are both sequences or both mappings.
func sameKind(a, b cty.Type) bool {
	return kindName(a) == kindName(b)
}

// kindName names the broad kind of a type for diagnostics.
func kindName(t cty.Type) string {
	switch {
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		return "list"
	case t.IsMapType() || t.IsObjectType():
		return "map or object"
	case t == cty.DynamicPseudoType:
		return "value"
	}
	return t.FriendlyName()
}

// errorSummaries joins the summaries of every error in diags (warnings
// left out), for a message that quotes HCL's own diagnostics.
func errorSummaries(diags hcl.Diagnostics) string {
	var out []string
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			out = append(out, d.Summary)
		}
	}
	return strings.Join(out, "; ")
}
