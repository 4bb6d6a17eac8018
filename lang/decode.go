package lang

import (
	"fmt"
	"math/big"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/database-replicator/database-replicator/lang/diag"
)

// decoder accumulates the configuration and diagnostics of one load.
type decoder struct {
	opts  LoadOptions
	cfg   *Config
	diags hcl.Diagnostics
	// varVals holds each variable's value for expressions, marked when
	// sensitive; cty.DynamicVal when it could not be resolved.
	varVals map[string]cty.Value
	funcs   map[string]map[string]function.Function
	// stateSeen is the first state block, for duplicate detection.
	stateSeen *hcl.Block
	// refs records where source/target attributes are, for later rules.
	targetAttrs map[*Replication]*hcl.Attribute
}

func newDecoder(opts LoadOptions) *decoder {
	return &decoder{
		opts: opts,
		cfg: &Config{
			Variables: map[string]*Variable{},
			Sources:   map[string]*Endpoint{},
			Targets:   map[string]*Endpoint{},
		},
		varVals:     map[string]cty.Value{},
		funcs:       map[string]map[string]function.Function{},
		targetAttrs: map[*Replication]*hcl.Attribute{},
	}
}

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "source", LabelNames: []string{"name"}},
		{Type: "target", LabelNames: []string{"name"}},
		{Type: "replication", LabelNames: []string{"name"}},
		{Type: "state"},
	},
}

// fileBlocks is the top-level content of one file.
type fileBlocks struct {
	name   string
	blocks hcl.Blocks
}

// decode decodes every file in order: variables first (from all files),
// then endpoints, then replications and state, then the cross-block rules.
func (d *decoder) decode(names []string, files []*hcl.File) {
	var all []fileBlocks
	for i, f := range files {
		content, diags := f.Body.Content(rootSchema)
		d.diags = append(d.diags, diags...)
		all = append(all, fileBlocks{name: names[i], blocks: content.Blocks})
	}
	pass := func(types ...string) {
		for _, fb := range all {
			for _, b := range fb.blocks {
				for _, t := range types {
					if b.Type == t {
						d.decodeBlock(fb.name, b)
					}
				}
			}
		}
	}
	pass("variable")
	d.checkUndeclaredVars()
	pass("source", "target")
	pass("replication", "state")

	if d.cfg.State == nil {
		d.cfg.State = &StateConfig{Backend: BackendLocal, Path: DefaultStatePath}
	}
	if len(d.cfg.Replications) == 0 {
		var subj *hcl.Range
		if len(names) > 0 {
			subj = &hcl.Range{Filename: names[0], Start: hcl.InitialPos, End: hcl.InitialPos}
		}
		d.errorf(CodeNoReplication, subj, "No replication block",
			"The configuration says nothing to replicate: add a replication block, e.g.\n\n"+
				"  replication \"main\" {\n    source = source.NAME\n    target = target.NAME\n  }")
	}
	d.checkOverlaps()
}

// decodeBlock dispatches one top-level block.
func (d *decoder) decodeBlock(filename string, b *hcl.Block) {
	switch b.Type {
	case "variable":
		d.decodeVariable(b, d.evalCtx(filename, false, false))
	case "source", "target":
		d.decodeEndpoint(b, d.evalCtx(filename, true, false))
	case "replication":
		d.decodeReplication(b, d.evalCtx(filename, true, true))
	case "state":
		d.decodeState(b, d.evalCtx(filename, true, false))
	}
}

// evalCtx builds the evaluation context of a file: its functions, and the
// var object, and the source and target objects when asked.
func (d *decoder) evalCtx(filename string, vars, endpoints bool) *hcl.EvalContext {
	dir := filepath.Dir(filename)
	fns, ok := d.funcs[dir]
	if !ok {
		fns = functions(dir, d.opts)
		d.funcs[dir] = fns
	}
	ctx := &hcl.EvalContext{Functions: fns}
	if !vars {
		return ctx
	}
	ctx.Variables = map[string]cty.Value{"var": cty.ObjectVal(d.varVals)}
	if endpoints {
		ctx.Variables["source"] = endpointsObject(d.cfg.Sources)
		ctx.Variables["target"] = endpointsObject(d.cfg.Targets)
	}
	return ctx
}

// endpointsObject renders endpoints as an object of {name, url} objects.
func endpointsObject(eps map[string]*Endpoint) cty.Value {
	m := map[string]cty.Value{}
	for name, ep := range eps {
		url := cty.StringVal(ep.URL)
		if ep.Sensitive {
			url = url.Mark(sensitiveMark)
		}
		m[name] = cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(name), "url": url})
	}
	return cty.ObjectVal(m)
}

var endpointSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "url"}},
}

// decodeEndpoint decodes a source or target block.
func (d *decoder) decodeEndpoint(b *hcl.Block, ctx *hcl.EvalContext) {
	kind := EndpointKind(b.Type)
	name := b.Labels[0]
	set := d.cfg.Sources
	if kind == KindTarget {
		set = d.cfg.Targets
	}
	if !hclsyntax.ValidIdentifier(name) {
		d.errorf(CodeInvalidName, b.LabelRanges[0].Ptr(), fmt.Sprintf("Invalid %s name", kind),
			"%q cannot be referenced as %s.%s: a name starts with a letter or underscore and holds only letters, digits, underscores and dashes.", name, kind, name)
		return
	}
	if prev, ok := set[name]; ok {
		d.errorf(CodeDuplicateBlock, b.DefRange.Ptr(), fmt.Sprintf("Duplicate %s", kind),
			"%s %q is already declared at %s. Rename one of the two blocks.", kind, name, rangeLoc(prev.DeclRange))
		return
	}
	ep := &Endpoint{Kind: kind, Name: name, DeclRange: b.DefRange}
	content, diags := b.Body.Content(endpointSchema)
	d.diags = append(d.diags, diags...)
	set[name] = ep
	a, ok := content.Attributes["url"]
	if !ok {
		d.errorf(CodeMissingAttribute, b.DefRange.Ptr(), "Missing url",
			"A %s block needs the server's connection string: write url = \"postgres://user@host:5432/postgres\", url = env(\"%s_URL\") or url = var.NAME.", kind, strings.ToUpper(name))
		return
	}
	s, sensitive, ok := d.stringAttr(a, ctx)
	if !ok {
		return
	}
	if strings.TrimSpace(s) == "" {
		d.attrErrorf(CodeEmptyValue, a, "Empty url",
			"The %s url is empty: write a libpq URL such as \"postgres://user@host:5432/postgres\" or a key=value string such as \"host=db1 user=replicator\".", kind)
		return
	}
	ep.URL = s
	ep.Sensitive = sensitive
}

var stateSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "backend"}, {Name: "path"}, {Name: "url"}, {Name: "schema"},
	},
}

// decodeState decodes the state block.
func (d *decoder) decodeState(b *hcl.Block, ctx *hcl.EvalContext) {
	if d.stateSeen != nil {
		d.errorf(CodeDuplicateBlock, b.DefRange.Ptr(), "Duplicate state block",
			"A configuration has at most one state block; the first is at %s. Remove this one.", rangeLoc(d.stateSeen.DefRange))
		return
	}
	d.stateSeen = b
	st := &StateConfig{Backend: BackendLocal, DeclRange: b.DefRange}
	d.cfg.State = st
	content, diags := b.Body.Content(stateSchema)
	d.diags = append(d.diags, diags...)
	attrs := content.Attributes
	if a, ok := attrs["backend"]; ok {
		if s, ok := d.enumAttr(a, ctx, []string{string(BackendLocal), string(BackendPostgres)}); ok {
			st.Backend = StateBackend(s)
		}
	}
	if a, ok := attrs["path"]; ok {
		if s, ok := d.nonEmptyStringAttr(a, ctx); ok {
			st.Path = s
		}
	}
	if a, ok := attrs["url"]; ok {
		if s, ok := d.nonEmptyStringAttr(a, ctx); ok {
			st.URL = s
		}
	}
	if a, ok := attrs["schema"]; ok {
		if s, ok := d.nonEmptyStringAttr(a, ctx); ok {
			st.Schema = s
		}
	}
	switch st.Backend {
	case BackendLocal:
		for _, n := range []string{"url", "schema"} {
			if a, ok := attrs[n]; ok {
				d.errorf(CodeStateBackendAttribute, a.NameRange.Ptr(), fmt.Sprintf("%s is not allowed with the local backend", n),
					"The local backend keeps state in a file: remove %s, or write backend = \"postgres\" to keep state in a database.", n)
			}
		}
		if st.Path == "" {
			st.Path = DefaultStatePath
		}
	case BackendPostgres:
		if a, ok := attrs["path"]; ok {
			d.errorf(CodeStateBackendAttribute, a.NameRange.Ptr(), "path is not allowed with the postgres backend",
				"The postgres backend keeps state in a database table: remove path, and set url (and optionally schema).")
			st.Path = ""
		}
		if _, ok := attrs["url"]; !ok {
			d.errorf(CodeMissingAttribute, b.DefRange.Ptr(), "Missing url for the postgres state backend",
				"Write url = env(\"STATE_URL\") (or a connection string) inside the state block.")
		}
		if st.Schema == "" {
			st.Schema = DefaultStateSchema
		}
	}
}

// ---- attribute helpers ------------------------------------------------

// eval evaluates an expression. It reports references to undeclared
// variables clearly, and returns false when the value is unusable: after an
// error diagnostic, or when it is unknown because of an earlier error.
func (d *decoder) eval(expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, bool) {
	if ctx != nil && ctx.Variables != nil {
		if _, ok := ctx.Variables["var"]; ok {
			bad := false
			for _, tr := range expr.Variables() {
				if tr.RootName() != "var" || len(tr) < 2 {
					continue
				}
				var name string
				switch step := tr[1].(type) {
				case hcl.TraverseAttr:
					name = step.Name
				default:
					continue
				}
				if _, ok := d.cfg.Variables[name]; ok {
					continue
				}
				detail := fmt.Sprintf("No variable %q is declared. Declare it with variable %q {}", name, name)
				if s := suggest(name, d.variableNames()); s != "" {
					detail = fmt.Sprintf("No variable %q is declared. Did you mean var.%s? Otherwise declare it with variable %q {}", name, s, name)
				}
				d.errorf(CodeUndeclaredVariable, tr.SourceRange().Ptr(), "Reference to undeclared variable", "%s.", detail)
				bad = true
			}
			if bad {
				return cty.NilVal, false
			}
		}
	}
	val, diags := expr.Value(ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || !val.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return val, true
}

// evalAs evaluates an attribute and converts it to ty, reporting null and
// type errors with an example of what to write. The result is unmarked;
// sensitive tells whether it carried the sensitive mark.
func (d *decoder) evalAs(a *hcl.Attribute, ctx *hcl.EvalContext, ty cty.Type, example string) (val cty.Value, sensitive bool, ok bool) {
	val, ok = d.eval(a.Expr, ctx)
	if !ok {
		return cty.NilVal, false, false
	}
	val, marks := val.UnmarkDeep()
	_, sensitive = marks[sensitiveMark]
	if val.IsNull() {
		d.attrErrorf(CodeNullValue, a, fmt.Sprintf("Invalid value for %s", a.Name),
			"%s must not be null: remove the attribute to use the default, or write %s.", a.Name, example)
		return cty.NilVal, false, false
	}
	out, err := convert.Convert(val, ty)
	if err == nil && ty.IsListType() {
		// Null elements are as wrong as a null list.
		for it := out.ElementIterator(); it.Next(); {
			if _, e := it.Element(); e.IsNull() {
				err = fmt.Errorf("an element is null")
			}
		}
	}
	if err != nil {
		d.attrErrorf(CodeWrongType, a, fmt.Sprintf("Invalid value for %s", a.Name),
			"%s must be a %s (%s): write %s.", a.Name, ty.FriendlyName(), convertErr(err), example)
		return cty.NilVal, false, false
	}
	return out, sensitive, true
}

// stringAttr decodes a string attribute.
func (d *decoder) stringAttr(a *hcl.Attribute, ctx *hcl.EvalContext) (string, bool, bool) {
	val, sensitive, ok := d.evalAs(a, ctx, cty.String, a.Name+` = "..."`)
	if !ok {
		return "", false, false
	}
	return val.AsString(), sensitive, true
}

// nonEmptyStringAttr decodes a string attribute that must not be empty.
func (d *decoder) nonEmptyStringAttr(a *hcl.Attribute, ctx *hcl.EvalContext) (string, bool) {
	s, _, ok := d.stringAttr(a, ctx)
	if !ok {
		return "", false
	}
	if strings.TrimSpace(s) == "" {
		d.attrErrorf(CodeEmptyValue, a, fmt.Sprintf("Empty %s", a.Name), "%s is empty: remove it to use the default, or give it a value.", a.Name)
		return "", false
	}
	return s, true
}

// boolAttr decodes a bool attribute.
func (d *decoder) boolAttr(a *hcl.Attribute, ctx *hcl.EvalContext) (bool, bool) {
	val, _, ok := d.evalAs(a, ctx, cty.Bool, a.Name+" = true or "+a.Name+" = false")
	if !ok {
		return false, false
	}
	return val.True(), true
}

// intAttr decodes a whole number within [min, max].
func (d *decoder) intAttr(a *hcl.Attribute, ctx *hcl.EvalContext, min, max int64, example string) (int64, bool) {
	val, _, ok := d.evalAs(a, ctx, cty.Number, example)
	if !ok {
		return 0, false
	}
	bf := val.AsBigFloat()
	if !bf.IsInt() || bf.IsInf() {
		d.attrErrorf(CodeInvalidNumber, a, fmt.Sprintf("Invalid value for %s", a.Name), "%s must be a whole number: write %s.", a.Name, example)
		return 0, false
	}
	n, acc := bf.Int64()
	if acc != big.Exact || n < min || n > max {
		d.attrErrorf(CodeInvalidNumber, a, fmt.Sprintf("Invalid value for %s", a.Name),
			"%s must be between %d and %d, not %s: write %s.", a.Name, min, max, bf.Text('f', -1), example)
		return 0, false
	}
	return n, true
}

// enumAttr decodes a string attribute that must be one of allowed.
func (d *decoder) enumAttr(a *hcl.Attribute, ctx *hcl.EvalContext, allowed []string) (string, bool) {
	s, _, ok := d.stringAttr(a, ctx)
	if !ok {
		return "", false
	}
	for _, v := range allowed {
		if s == v {
			return s, true
		}
	}
	quoted := make([]string, len(allowed))
	for i, v := range allowed {
		quoted[i] = fmt.Sprintf("%q", v)
	}
	detail := fmt.Sprintf("%s must be one of %s, not %q.", a.Name, strings.Join(quoted, ", "), s)
	if sug := suggest(strings.ToLower(s), allowed); sug != "" {
		detail += fmt.Sprintf(" Did you mean %s = %q?", a.Name, sug)
	}
	d.attrErrorf(CodeInvalidChoice, a, fmt.Sprintf("Invalid value for %s", a.Name), "%s", detail)
	return "", false
}

// intervalAttr decodes an interval such as "90s" or "1h"; with allowOff,
// "off" decodes as zero.
func (d *decoder) intervalAttr(a *hcl.Attribute, ctx *hcl.EvalContext, allowOff bool) (time.Duration, bool) {
	return d.boundedIntervalAttr(a, ctx, allowOff, nil)
}

// boundedIntervalAttr is intervalAttr with a further check of the value
// (nil for none), e.g. CheckSyncInterval.
func (d *decoder) boundedIntervalAttr(a *hcl.Attribute, ctx *hcl.EvalContext, allowOff bool, check func(time.Duration) error) (time.Duration, bool) {
	s, _, ok := d.stringAttr(a, ctx)
	if !ok {
		return 0, false
	}
	if allowOff && strings.TrimSpace(s) == "off" {
		return 0, true
	}
	dur, err := ParseInterval(s)
	if err == nil && check != nil {
		err = check(dur)
	}
	if err != nil {
		detail := err.Error() + "."
		if allowOff {
			detail += ` Write "off" to disable it.`
		}
		d.attrErrorf(CodeInvalidInterval, a, fmt.Sprintf("Invalid interval for %s", a.Name), "%s", detail)
		return 0, false
	}
	return dur, true
}

// stringListAttr decodes a list of strings and the source range of each
// element (the attribute's value range when elements have no own range).
func (d *decoder) stringListAttr(a *hcl.Attribute, ctx *hcl.EvalContext, example string) ([]string, []hcl.Range, bool) {
	val, _, ok := d.evalAs(a, ctx, cty.List(cty.String), example)
	if !ok {
		return nil, nil, false
	}
	var out []string
	for it := val.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e.AsString())
	}
	ranges := make([]hcl.Range, len(out))
	tup, isTuple := a.Expr.(*hclsyntax.TupleConsExpr)
	for i := range ranges {
		if isTuple && len(tup.Exprs) == len(out) {
			ranges[i] = tup.Exprs[i].Range()
		} else {
			ranges[i] = a.Expr.Range()
		}
	}
	return out, ranges, true
}

// ---- diagnostics -------------------------------------------------------

// errorf appends an error diagnostic with its code.
func (d *decoder) errorf(code diag.Code, subject *hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject,
		Extra:    diag.WithCode(code),
	})
}

// warnf appends a warning diagnostic with its code.
func (d *decoder) warnf(code diag.Code, subject *hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject,
		Extra:    diag.WithCode(code),
	})
}

// attrErrorf reports an error about an attribute's value, pointing at the
// value with the whole attribute as context.
func (d *decoder) attrErrorf(code diag.Code, a *hcl.Attribute, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  a.Expr.Range().Ptr(),
		Context:  a.Range.Ptr(),
		Extra:    diag.WithCode(code),
	})
}

// rangeLoc renders a range's start as file:line:column.
func rangeLoc(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// suggest returns the candidate closest to name, or "" when none is close.
func suggest(name string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if dist := levenshtein.Distance(name, c, nil); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	return best
}

// sortedKeys returns the keys of a map of endpoints, sorted.
func sortedKeys(m map[string]*Endpoint) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
