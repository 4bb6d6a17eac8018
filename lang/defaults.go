package lang

// DefaultState returns the state settings used when a configuration has no
// state block: the local backend with DefaultStatePath. Its DeclRange is
// empty, which marks the settings as defaults.
//
// The snapshot, sync and policy defaults are DefaultSnapshot, DefaultSync
// and DefaultPolicy; every decoder (HCL, TOML, flags) starts from them.
func DefaultState() *StateConfig {
	return &StateConfig{Backend: BackendLocal, Path: DefaultStatePath}
}
