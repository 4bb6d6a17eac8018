package lang

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/database-replicator/database-replicator/lang/diag"
)

// LoadOptions controls variable values and environment access. The decoder
// keeps no global state: every input comes from here.
type LoadOptions struct {
	// Vars holds --var NAME=VALUE values; they take precedence over the
	// environment and over defaults.
	Vars map[string]string
	// LookupEnv reads the environment for env() and REPLICATOR_VAR_NAME;
	// nil means an empty environment.
	LookupEnv func(string) (string, bool)
}

// lookupEnv reads one environment variable through opts.LookupEnv.
func (o LoadOptions) lookupEnv(name string) (string, bool) {
	if o.LookupEnv == nil {
		return "", false
	}
	return o.LookupEnv(name)
}

// LoadPath loads a configuration file or directory. A *.toml file is read
// as the predecessor's TOML format; any other file is HCL; a directory
// loads every *.hcl file in it, in name order, merged into one Config.
// The Config is nil only when the files cannot be read or parsed; after a
// decoding error it is partial, so callers must check diags.HasErrors().
// Every diagnostic has a code (codes.go) and, when it points into a file,
// a range.
func LoadPath(path string, opts LoadOptions) (*Config, diag.Diagnostics) {
	cfg, hds := loadPath(path, opts)
	return cfg, fromHCL(hds)
}

// loadPath is LoadPath with HCL diagnostics.
func loadPath(path string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration",
			Detail:   fmt.Sprintf("%s. Pass the configuration file or directory with -c/--config, or create replication.hcl in the working directory.", err),
			Extra:    diag.WithCode(CodeUnreadable),
		}}
	}
	if !info.IsDir() {
		if strings.EqualFold(filepath.Ext(path), ".toml") {
			return loadTOML(path, opts)
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Cannot read configuration file",
				Detail:   fmt.Sprintf("%s.", err),
				Extra:    diag.WithCode(CodeUnreadable),
			}}
		}
		return loadFiles([]string{path}, map[string][]byte{path: src}, opts)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read configuration directory",
			Detail:   fmt.Sprintf("%s.", err),
			Extra:    diag.WithCode(CodeUnreadable),
		}}
	}
	var names []string
	files := map[string][]byte{}
	var diags hcl.Diagnostics
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") {
			continue
		}
		name := filepath.Join(path, e.Name())
		src, err := os.ReadFile(name)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read configuration file",
				Detail:   fmt.Sprintf("%s.", err),
				Extra:    diag.WithCode(CodeUnreadable),
			})
			continue
		}
		names = append(names, name)
		files[name] = src
	}
	if diags.HasErrors() {
		return nil, diags
	}
	if len(names) == 0 {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No configuration files",
			Detail:   fmt.Sprintf("The directory %s holds no *.hcl files. Create %s, or pass a file with -c/--config.", path, filepath.Join(path, "replication.hcl")),
			Extra:    diag.WithCode(CodeNoFiles),
		}}
	}
	sort.Strings(names)
	return loadFiles(names, files, opts)
}

// LoadSources decodes HCL from in-memory files (file name to content),
// merged into one Config as LoadPath does for a directory. file() paths are
// relative to the directory part of each file name.
func LoadSources(files map[string][]byte, opts LoadOptions) (*Config, diag.Diagnostics) {
	if len(files) == 0 {
		return nil, fromHCL(hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No configuration files",
			Detail:   "There is no configuration to load: write a replication.hcl file.",
			Extra:    diag.WithCode(CodeNoFiles),
		}})
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	cfg, hds := loadFiles(names, files, opts)
	return cfg, fromHCL(hds)
}

// loadFiles parses the named files and decodes them as one configuration.
func loadFiles(names []string, files map[string][]byte, opts LoadOptions) (*Config, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var parsed []*hcl.File
	for _, name := range names {
		f, d := hclsyntax.ParseConfig(files[name], name, hcl.InitialPos)
		diags = append(diags, withCode(d, CodeSyntax)...)
		if f != nil {
			parsed = append(parsed, f)
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	d := newDecoder(opts)
	d.cfg.Files = append([]string(nil), names...)
	d.decode(names, parsed)
	return d.cfg, append(diags, d.diags...)
}
