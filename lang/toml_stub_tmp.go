package lang

// TEMPORARY stub so the HCL decoder compiles before lang/toml.go exists.
// Delete this file as soon as lang/toml.go (which defines LoadTOML) lands.

import "github.com/hashicorp/hcl/v2"

// LoadTOML is a placeholder for the TOML loader in lang/toml.go.
func LoadTOML(path string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "TOML configuration is not supported yet", Detail: path}}
}
