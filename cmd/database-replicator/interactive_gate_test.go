package main

import (
	"testing"
)

// TestPickerWanted pins when init, sync and config generate run the
// interactive setup: only on a terminal, with both URLs and nothing else
// that says what to replicate or forbids asking.
func TestPickerWanted(t *testing.T) {
	urls := connectionFlags{Source: "postgres://a@s/postgres", Target: "postgres://b@t/postgres"}
	with := func(change func(*connectionFlags)) connectionFlags {
		f := urls
		change(&f)
		return f
	}
	cases := []struct {
		name   string
		flags  connectionFlags
		global Globals
		env    map[string]string
		noTTY  string // "stdin" or "stdout": that one is not a terminal
		yes    bool
		want   bool
	}{
		{name: "both URLs on a terminal", flags: urls, want: true},
		{name: "CI=false still asks", flags: urls, env: map[string]string{"CI": "false"}, want: true},
		{name: "CI=true", flags: urls, env: map[string]string{"CI": "true"}},
		{name: "CI=1", flags: urls, env: map[string]string{"CI": "1"}},
		{name: "--yes", flags: urls, yes: true},
		{name: "--no-interactive", flags: urls, global: Globals{NoInteractive: true}},
		{name: "stdin not a terminal", flags: urls, noTTY: "stdin"},
		{name: "stdout not a terminal", flags: urls, noTTY: "stdout"},
		{name: "-c other file", flags: urls, global: Globals{Config: "old.toml"}},
		{name: "no --target", flags: with(func(f *connectionFlags) { f.Target = "" })},
		{name: "no URLs", flags: connectionFlags{}},
		{name: "--include-databases", flags: with(func(f *connectionFlags) { f.IncludeDatabases = []string{"app"} })},
		{name: "--exclude-databases", flags: with(func(f *connectionFlags) { f.ExcludeDatabases = []string{"app"} })},
		{name: "--include-tables", flags: with(func(f *connectionFlags) { f.IncludeTables = []string{"app.t"} })},
		{name: "--exclude-tables", flags: with(func(f *connectionFlags) { f.ExcludeTables = []string{"app.t"} })},
		{name: "--schema-only-tables", flags: with(func(f *connectionFlags) { f.SchemaOnlyTables = []string{"app.t"} })},
		{name: "--table-filter", flags: with(func(f *connectionFlags) { f.TableFilter = []string{"app.t:id > 1"} })},
		{name: "--time-filter", flags: with(func(f *connectionFlags) { f.TimeFilter = []string{"app.t:at:1 day"} })},
		{name: "--replica-identity-full", flags: with(func(f *connectionFlags) { f.ReplicaIdentityFull = []string{"app.t"} })},
		{name: "--subscription-password still asks", flags: with(func(f *connectionFlags) { f.SubscriptionPassword = "none" }), want: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := c.global
			if g.Config == "" {
				g.Config = defaultConfigPath
			}
			a := &app{global: &g, io: &ioEnv{
				stdinTTY: c.noTTY != "stdin", stdoutTTY: c.noTTY != "stdout",
				lookupEnv: func(k string) (string, bool) { v, ok := c.env[k]; return v, ok },
			}}
			f := c.flags
			if got := a.pickerWanted(&f, c.yes); got != c.want {
				t.Errorf("pickerWanted = %v, want %v", got, c.want)
			}
		})
	}
}
