package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
)

// connectionFlags are the predecessor-compatible flags that describe a
// replication without a configuration file. They build the same Config in
// memory (lang.FlagConfig).
type connectionFlags struct {
	Source           string   `help:"Source server URL; with --target, replaces the configuration file." placeholder:"URL" group:"Without a configuration file"`
	Target           string   `help:"Target server URL." placeholder:"URL" group:"Without a configuration file"`
	IncludeDatabases []string `help:"Databases to replicate (comma-separated)." placeholder:"DB,..." sep:"none" group:"Without a configuration file"`
	ExcludeDatabases []string `help:"Databases to skip (comma-separated)." placeholder:"DB,..." sep:"none" group:"Without a configuration file"`
	IncludeTables    []string `help:"Only these tables: db.table or db.schema.table (comma-separated)." placeholder:"TABLE,..." sep:"none" group:"Without a configuration file"`
	ExcludeTables    []string `help:"Skip these tables (comma-separated)." placeholder:"TABLE,..." sep:"none" group:"Without a configuration file"`
	SchemaOnlyTables []string `help:"Copy only the structure of these tables (comma-separated)." placeholder:"TABLE,..." sep:"none" group:"Without a configuration file"`
	TableFilter      []string `help:"Row filter, \"[db.]table:PREDICATE\" (repeatable)." placeholder:"SPEC" sep:"none" group:"Without a configuration file"`
	TimeFilter       []string `help:"Time window, \"[db.]table:column:window\" (repeatable)." placeholder:"SPEC" sep:"none" group:"Without a configuration file"`
	// ReplicaIdentityFull publishes the listed tables with REPLICA
	// IDENTITY FULL (the choice for tables without a primary key).
	ReplicaIdentityFull []string `help:"Publish these tables (without a primary key) with REPLICA IDENTITY FULL, on the source and the target: db.table or db.schema.table (comma-separated)." placeholder:"TABLE,..." sep:"none" group:"Without a configuration file"`
	// SubscriptionPassword is sync.subscription_password.
	SubscriptionPassword string `help:"Whether the target's subscription stores the password written in the --source URL: url (default; plan warns) or none (the target server logs in with its own ~/.pgpass; validate checks it)." placeholder:"url|none" group:"Without a configuration file"`
}

// used reports whether the flags replace the configuration file.
func (f *connectionFlags) used() bool { return f.Source != "" || f.Target != "" }

// applySubscriptionPassword sets sync.subscription_password of the
// flag-built configuration from --subscription-password.
func (f *connectionFlags) applySubscriptionPassword(cfg *lang.Config) error {
	v := lang.SubscriptionPassword(f.SubscriptionPassword)
	switch v {
	case "":
		return nil
	case lang.SubscriptionPasswordURL, lang.SubscriptionPasswordNone:
	default:
		return fmt.Errorf("--subscription-password %q: want url or none", f.SubscriptionPassword)
	}
	for _, r := range cfg.Replications {
		r.Sync.SubscriptionPassword = v
	}
	return nil
}

// filtersUsed reports whether any scope or filter flag is given.
func (f *connectionFlags) filtersUsed() bool {
	return len(f.IncludeDatabases)+len(f.ExcludeDatabases)+len(f.IncludeTables)+len(f.ExcludeTables)+
		len(f.SchemaOnlyTables)+len(f.TableFilter)+len(f.TimeFilter) > 0
}

// defaultConfigPath is --config's default.
const defaultConfigPath = "replication.hcl"

// loadConfigOrFlags builds the configuration from --source/--target and the
// filter flags when they are given, and loads --config otherwise. With
// both, as the predecessor allowed, a TOML file gives the filters and the
// flags the URLs (a filter flag on top is refused, not merged silently);
// an explicit HCL file is refused: it would be ignored.
func (a *app) loadConfigOrFlags(f *connectionFlags) (*lang.Config, error) {
	if !f.used() {
		if f.SubscriptionPassword != "" {
			return nil, fmt.Errorf("--subscription-password goes with --source/--target: with a configuration file, set sync { subscription_password = %q } in it", f.SubscriptionPassword)
		}
		if f.filtersUsed() || len(f.ReplicaIdentityFull) > 0 {
			// They would be ignored: the configuration file has its own.
			return nil, fmt.Errorf("the filter flags (--include-databases, --exclude-tables, --replica-identity-full, ...) describe a replication with --source and --target: add both, or put the filters in the configuration file %s", a.global.Config)
		}
		return a.loadConfig()
	}
	if path := a.global.Config; path != defaultConfigPath {
		if !strings.EqualFold(filepath.Ext(path), ".toml") {
			return nil, fmt.Errorf("-c %s and --source/--target both describe the replication: an HCL configuration names its own servers; drop --source/--target (put the URLs in the file or in variables), or drop -c", path)
		}
		if f.filtersUsed() {
			return nil, fmt.Errorf("-c %s gives the filters and so do the filter flags: keep the filters in one place (the TOML file, or the flags)", path)
		}
		if f.Source == "" || f.Target == "" {
			return nil, fmt.Errorf("-c %s with flags needs both --source and --target", path)
		}
		cfg, err := a.loadConfigWithVars(map[string]string{lang.SourceURLVar: f.Source, lang.TargetURLVar: f.Target})
		if err != nil {
			return nil, err
		}
		// The TOML format cannot say replica_identity: the flag adds it.
		if len(f.ReplicaIdentityFull) > 0 {
			if err := lang.SetReplicaIdentityFull(cfg, f.ReplicaIdentityFull); err != nil {
				return nil, err
			}
		}
		return cfg, f.applySubscriptionPassword(cfg)
	}
	cfg, diags := lang.FlagConfig(lang.FilterFlags{
		IncludeDatabases: f.IncludeDatabases, ExcludeDatabases: f.ExcludeDatabases,
		IncludeTables: f.IncludeTables, ExcludeTables: f.ExcludeTables, SchemaOnlyTables: f.SchemaOnlyTables,
		TableFilters: f.TableFilter, TimeFilters: f.TimeFilter, ReplicaIdentityFull: f.ReplicaIdentityFull,
	}, f.Source, f.Target)
	if err := a.printDiagnostics(diags, nil); err != nil {
		return nil, err
	}
	if diags.HasErrors() {
		return nil, exitCode(1)
	}
	return cfg, f.applySubscriptionPassword(cfg)
}
