package lang

import (
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/database-replicator/database-replicator/lang/diag"
)

// WriteHCL renders a configuration as canonical HCL that the HCL decoder
// loads back into an equal Config (given the same variable values):
// variables, source and target blocks, replication blocks and the state
// block.
//
// Only non-default settings are written: a replication always gets its
// source, target and (when set) databases, but snapshot, sync and policy
// blocks hold only the attributes that differ from DefaultSnapshot,
// DefaultSync and DefaultPolicy, and the state block is written only when
// it differs from DefaultState.
//
// Secrets are never written. A sensitive variable is written without its
// default. An endpoint (or postgres state) URL is written as a reference to
// the variable it came from: a declared variable whose value is the URL,
// or, when the URL is unknown (as in configs from the predecessor's TOML),
// the variable named NAME_url or KIND_url. A URL that holds a password or
// came from a sensitive value but matches no variable is replaced by a
// reference to a new sensitive variable, which WriteHCL declares.
//
// A flag-form table filter whose database is "" (every database) has no HCL
// form; it is written as a comment that says so.
func WriteHCL(cfg *Config) []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	if cfg == nil {
		return f.Bytes()
	}
	w := &hclWriter{cfg: cfg, extraVars: map[string]bool{}}

	// Decide the URL expressions first: they may declare variables.
	srcURLs := w.endpointURLs(cfg.Sources)
	tgtURLs := w.endpointURLs(cfg.Targets)
	var stateURL hclwrite.Tokens
	if st := cfg.State; st != nil && st.Backend == BackendPostgres && st.URL != "" {
		stateURL = w.urlTokens(st.URL, false, "state_url")
	}

	first := true
	sep := func() {
		if !first {
			body.AppendNewline()
		}
		first = false
	}
	for _, name := range w.variableNames() {
		sep()
		blk := body.AppendNewBlock("variable", []string{name})
		b := blk.Body()
		if w.extraVars[name] {
			b.SetAttributeValue("description", cty.StringVal("Connection string written out of the configuration because it holds a secret; set it with --var "+name+"=... or "+VarEnvPrefix+name+"."))
			b.SetAttributeValue("sensitive", cty.True)
			continue
		}
		v := cfg.Variables[name]
		if v.Description != "" {
			b.SetAttributeValue("description", cty.StringVal(v.Description))
		}
		if v.Sensitive {
			b.SetAttributeValue("sensitive", cty.True)
		} else if v.Default != cty.NilVal && v.Default.IsWhollyKnown() {
			def, _ := v.Default.UnmarkDeep()
			b.SetAttributeRaw("default", hclwrite.TokensForValue(def))
		}
	}
	for _, ep := range []struct {
		kind string
		set  map[string]*Endpoint
		urls map[string]hclwrite.Tokens
	}{{"source", cfg.Sources, srcURLs}, {"target", cfg.Targets, tgtURLs}} {
		for _, name := range sortedKeys(ep.set) {
			sep()
			blk := body.AppendNewBlock(ep.kind, []string{name})
			blk.Body().SetAttributeRaw("url", ep.urls[name])
		}
	}
	for _, r := range cfg.Replications {
		sep()
		writeReplication(body.AppendNewBlock("replication", []string{r.Name}).Body(), r)
	}
	if st := cfg.State; st != nil && !stateIsDefault(st) {
		sep()
		b := body.AppendNewBlock("state", nil).Body()
		b.SetAttributeValue("backend", cty.StringVal(string(st.Backend)))
		switch st.Backend {
		case BackendPostgres:
			if stateURL != nil {
				b.SetAttributeRaw("url", stateURL)
			}
			if st.Schema != "" && st.Schema != DefaultStateSchema {
				b.SetAttributeValue("schema", cty.StringVal(st.Schema))
			}
		default:
			if st.Path != "" && st.Path != DefaultStatePath {
				b.SetAttributeValue("path", cty.StringVal(st.Path))
			}
		}
	}
	return hclwrite.Format(f.Bytes())
}

// ConvertTOML converts the predecessor's TOML configuration at path to
// canonical HCL (LoadTOML, then WriteHCL), with a header comment naming the
// file. The connection strings become the sensitive variables source_url
// and target_url. Nothing is returned when the file has errors.
func ConvertTOML(path string) ([]byte, diag.Diagnostics) {
	cfg, diags := LoadTOML(path, LoadOptions{})
	if diags.HasErrors() || cfg == nil {
		return nil, diags
	}
	header := fmt.Sprintf("# Converted from %s by database-replicator config convert.\n\n", filepath.Base(path))
	return append([]byte(header), WriteHCL(cfg)...), diags
}

// hclWriter holds the state of one WriteHCL call.
type hclWriter struct {
	cfg *Config
	// extraVars are sensitive variables WriteHCL declares for secrets.
	extraVars map[string]bool
}

// variableNames lists declared and added variables, sorted.
func (w *hclWriter) variableNames() []string {
	var names []string
	for n := range w.cfg.Variables {
		names = append(names, n)
	}
	for n := range w.extraVars {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// endpointURLs returns the url expression of each endpoint.
func (w *hclWriter) endpointURLs(set map[string]*Endpoint) map[string]hclwrite.Tokens {
	out := map[string]hclwrite.Tokens{}
	for _, name := range sortedKeys(set) {
		ep := set[name]
		if ep == nil {
			ep = &Endpoint{Name: name}
		}
		out[name] = w.urlTokens(ep.URL, ep.Sensitive, ep.Name+"_url", string(ep.Kind)+"_url")
	}
	return out
}

// urlTokens returns the expression for a connection string: a variable
// reference when one matches (see WriteHCL), else the literal when it holds
// no secret, else a reference to a new sensitive variable.
func (w *hclWriter) urlTokens(u string, sensitive bool, names ...string) hclwrite.Tokens {
	ref := func(name string) hclwrite.Tokens {
		return hclwrite.TokensForTraversal(hcl.Traversal{hcl.TraverseRoot{Name: "var"}, hcl.TraverseAttr{Name: name}})
	}
	if u != "" {
		// A declared variable holding exactly this URL, preferring the
		// conventional names.
		var match []string
		for _, n := range w.variableNames() {
			v := w.cfg.Variables[n]
			if v == nil || v.Value == cty.NilVal || !v.Value.IsWhollyKnown() {
				continue
			}
			val, _ := v.Value.UnmarkDeep()
			if !val.IsNull() && val.Type() == cty.String && val.AsString() == u {
				match = append(match, n)
			}
		}
		for _, want := range names {
			if contains(match, want) {
				return ref(want)
			}
		}
		if len(match) > 0 {
			return ref(match[0])
		}
	} else {
		for _, want := range names {
			if v, ok := w.cfg.Variables[want]; ok && v != nil && (v.Value == cty.NilVal || v.Value.IsNull()) {
				return ref(want)
			}
		}
	}
	if !sensitive && !hasPassword(u) {
		return hclwrite.TokensForValue(cty.StringVal(u))
	}
	// Declare a new sensitive variable rather than write the secret.
	base := "url"
	if len(names) > 0 && hclsyntax.ValidIdentifier(names[0]) {
		base = names[0]
	}
	name := base
	for i := 2; ; i++ {
		if _, taken := w.cfg.Variables[name]; !taken && !w.extraVars[name] {
			break
		}
		name = fmt.Sprintf("%s_%d", base, i)
	}
	w.extraVars[name] = true
	return ref(name)
}

// hasPassword reports whether a libpq URL or key=value string holds a
// password.
func hasPassword(s string) bool {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err != nil {
			return true // cannot tell: treat as secret
		}
		if _, ok := u.User.Password(); ok {
			return true
		}
		for k := range u.Query() {
			if strings.EqualFold(k, "password") {
				return true
			}
		}
		return false
	}
	return strings.Contains(strings.ToLower(s), "password")
}

// stateIsDefault reports whether st equals DefaultState.
func stateIsDefault(st *StateConfig) bool {
	d := DefaultState()
	return st.Backend == d.Backend && st.Path == d.Path && st.URL == "" && st.Schema == ""
}

// traversal renders KIND.NAME as tokens.
func traversal(root, name string) hclwrite.Tokens {
	return hclwrite.TokensForTraversal(hcl.Traversal{hcl.TraverseRoot{Name: root}, hcl.TraverseAttr{Name: name}})
}

// stringList renders a list of strings: on one line when it is short,
// else one element per line.
func stringList(list []string) hclwrite.Tokens {
	vals := make([]cty.Value, len(list))
	width := 0
	for i, s := range list {
		vals[i] = cty.StringVal(s)
		width += len(s) + 4
	}
	if width <= 72 || len(list) < 2 {
		return hclwrite.TokensForValue(cty.TupleVal(vals))
	}
	toks := hclwrite.Tokens{
		{Type: hclsyntax.TokenOBrack, Bytes: []byte("[")},
		{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")},
	}
	for _, v := range vals {
		toks = append(toks, hclwrite.TokensForValue(v)...)
		toks = append(toks,
			&hclwrite.Token{Type: hclsyntax.TokenComma, Bytes: []byte(",")},
			&hclwrite.Token{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")})
	}
	return append(toks, &hclwrite.Token{Type: hclsyntax.TokenCBrack, Bytes: []byte("]")})
}

// refList renders table references as a list of strings.
func refList(refs []TableRef) hclwrite.Tokens {
	list := make([]string, 0, len(refs))
	for _, r := range refs {
		list = append(list, r.String())
	}
	return stringList(list)
}

// writeReplication writes the body of one replication block.
func writeReplication(b *hclwrite.Body, r *Replication) {
	b.SetAttributeRaw("source", traversal("source", r.Source))
	b.SetAttributeRaw("target", traversal("target", r.Target))
	if len(r.Databases) > 0 {
		b.SetAttributeRaw("databases", stringList(r.Databases))
	}
	if len(r.ExcludeDatabases) > 0 {
		b.SetAttributeRaw("exclude_databases", stringList(r.ExcludeDatabases))
	}
	for _, l := range []struct {
		name string
		refs []TableRef
	}{{"include_tables", r.IncludeTables}, {"exclude_tables", r.ExcludeTables}, {"schema_only", r.SchemaOnly}} {
		var refs []TableRef
		for _, ref := range l.refs {
			if ref.Database == "" && len(r.Databases) == 0 {
				appendComment(b, fmt.Sprintf("# %s lists %s without a database: write it as \"DB.%s\".", l.name, ref, ref))
				continue
			}
			refs = append(refs, expandRef(r, ref)...)
		}
		if len(refs) > 0 {
			b.SetAttributeRaw(l.name, refList(refs))
		}
	}
	for _, t := range r.Tables {
		if t == nil {
			continue
		}
		if t.Ref.Database == "" && len(r.Databases) == 0 {
			writeWildcardComment(b, t)
			continue
		}
		for _, ref := range expandRef(r, t.Ref) {
			b.AppendNewline()
			tb := b.AppendNewBlock("table", []string{ref.String()}).Body()
			switch {
			case t.Where != "":
				tb.SetAttributeValue("where", cty.StringVal(t.Where))
			case t.TimeWindow != nil:
				tw := tb.AppendNewBlock("time_window", nil).Body()
				tw.SetAttributeValue("column", cty.StringVal(t.TimeWindow.Column))
				tw.SetAttributeValue("last", cty.StringVal(t.TimeWindow.Last.String()))
			}
			if t.ReplicaIdentity != "" {
				tb.SetAttributeValue("replica_identity", cty.StringVal(t.ReplicaIdentity))
			}
			if t.TargetTable != "" {
				tb.SetAttributeValue("target", cty.StringVal(quotePart(t.TargetSchema)+"."+quotePart(t.TargetTable)))
			}
		}
	}
	for _, sc := range r.Schemas {
		b.AppendNewline()
		sb := b.AppendNewBlock("schema", []string{quotePart(sc.Database) + "." + quotePart(sc.Schema)}).Body()
		sb.SetAttributeValue("target", cty.StringVal(quotePart(sc.Target)))
	}
	writeSnapshot(b, r.Snapshot)
	writeSync(b, r.Sync)
	writePolicy(b, r.Policy)
}

// expandRef returns ref, or for a wildcard ref (Database "") one ref per
// database of the include list.
func expandRef(r *Replication, ref TableRef) []TableRef {
	if ref.Database != "" {
		return []TableRef{ref}
	}
	var out []TableRef
	for _, db := range r.Databases {
		x := ref
		x.Database = db
		out = append(out, x)
	}
	return out
}

// writeWildcardComment records a filter for every database, which HCL
// cannot express, as a comment.
func writeWildcardComment(b *hclwrite.Body, t *TableConfig) {
	what := ""
	switch {
	case t.Where != "":
		what = "where " + t.Where
	case t.TimeWindow != nil:
		what = fmt.Sprintf("time_window %s, last %s", t.TimeWindow.Column, t.TimeWindow.Last)
	default:
		what = "settings"
	}
	b.AppendNewline()
	appendComment(b, fmt.Sprintf("# Filter for %s in every database (%s): write one table \"DB.%s\" block per database.", t.Ref, what, t.Ref))
}

// appendComment writes text as one comment line; line breaks a value
// brought into it become spaces, so it cannot end the comment early.
func appendComment(b *hclwrite.Body, text string) {
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r", " "), "\n", " ")
	b.AppendUnstructuredTokens(hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte(text + "\n")}})
}

// writeSnapshot writes the non-default snapshot settings.
func writeSnapshot(parent *hclwrite.Body, s Snapshot) {
	d := DefaultSnapshot()
	if s == d {
		return
	}
	parent.AppendNewline()
	b := parent.AppendNewBlock("snapshot", nil).Body()
	if s.Jobs != d.Jobs {
		b.SetAttributeValue("jobs", cty.NumberIntVal(int64(s.Jobs)))
	}
	if s.IndexJobs != d.IndexJobs {
		b.SetAttributeValue("index_jobs", cty.NumberIntVal(int64(s.IndexJobs)))
	}
	if s.Globals != d.Globals {
		b.SetAttributeValue("globals", cty.BoolVal(s.Globals))
	}
	if s.DropExisting != d.DropExisting {
		b.SetAttributeValue("drop_existing", cty.BoolVal(s.DropExisting))
	}
	if s.SplitLargerThan != d.SplitLargerThan {
		b.SetAttributeValue("split_larger_than", sizeValue(s.SplitLargerThan))
	}
}

// sizeValue renders a byte count in the largest binary unit that divides it.
func sizeValue(n int64) cty.Value {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n > 0 && n%u.size == 0 {
			return cty.StringVal(fmt.Sprintf("%d%s", n/u.size, u.name))
		}
	}
	return cty.NumberIntVal(n)
}

// writeSync writes the non-default sync settings.
func writeSync(parent *hclwrite.Body, s Sync) {
	d := DefaultSync()
	if s == d {
		return
	}
	parent.AppendNewline()
	b := parent.AppendNewBlock("sync", nil).Body()
	if s.Method != d.Method {
		b.SetAttributeValue("method", cty.StringVal(string(s.Method)))
	}
	if s.Interval != d.Interval {
		b.SetAttributeValue("interval", cty.StringVal(FormatInterval(s.Interval)))
	}
	if s.ReconcileInterval != d.ReconcileInterval {
		v := "off"
		if s.ReconcileInterval > 0 {
			v = FormatInterval(s.ReconcileInterval)
		}
		b.SetAttributeValue("reconcile_interval", cty.StringVal(v))
	}
	if s.BatchSize != d.BatchSize {
		b.SetAttributeValue("batch_size", cty.NumberIntVal(int64(s.BatchSize)))
	}
	if s.Publication != d.Publication {
		b.SetAttributeValue("publication", cty.StringVal(s.Publication))
	}
	if s.Subscription != d.Subscription {
		b.SetAttributeValue("subscription", cty.StringVal(s.Subscription))
	}
	if s.SubscriptionPassword != d.SubscriptionPassword {
		b.SetAttributeValue("subscription_password", cty.StringVal(string(s.SubscriptionPassword)))
	}
	if s.Paused {
		b.SetAttributeValue("enabled", cty.False)
	}
}

// writePolicy writes the non-default policy settings.
func writePolicy(parent *hclwrite.Body, p Policy) {
	d := DefaultPolicy()
	if p == d {
		return
	}
	parent.AppendNewline()
	b := parent.AppendNewBlock("policy", nil).Body()
	if p.OnSchemaDrift != d.OnSchemaDrift {
		b.SetAttributeValue("on_schema_drift", cty.StringVal(string(p.OnSchemaDrift)))
	}
	if p.MaxLag != d.MaxLag {
		b.SetAttributeValue("max_lag", cty.StringVal(FormatInterval(p.MaxLag)))
	}
	if p.PreventDestroy != d.PreventDestroy {
		b.SetAttributeValue("prevent_destroy", cty.BoolVal(p.PreventDestroy))
	}
	if p.CaptureDDL != d.CaptureDDL {
		b.SetAttributeValue("capture_ddl", cty.BoolVal(p.CaptureDDL))
	}
}
