package planner

import (
	"regexp"
	"strings"

	"github.com/database-replicator/database-replicator/lang"
	"github.com/database-replicator/database-replicator/planner/addrs"
)

// Command renders a database-replicator command line for a diagnostic, in
// backquotes. A configuration built from the predecessor's flags or TOML
// file (lang.Config.FlagMode) is named again the way it was given: the
// --source/--target flags, or -c with the TOML file, plus the filter flags.
func Command(cfg *lang.Config, args ...string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	cmd := "database-replicator " + strings.Join(quoted, " ")
	switch {
	case cfg == nil || !cfg.FlagMode:
		return "`" + cmd + "`"
	case len(cfg.Files) > 0:
		return "`" + cmd + " -c " + shellQuote(cfg.Files[0]) + "` (with the same --source/--target flags)"
	}
	return "`" + cmd + " --source ... --target ...` (with the same filter flags)"
}

// ImportCommand is the command that imports the object id at a.
func ImportCommand(cfg *lang.Config, a addrs.Addr, id string) string {
	return Command(cfg, "import", a.String(), id)
}

// flagMode reports whether the configuration came from the predecessor's
// flags or TOML file: advice names flags, never HCL blocks.
func flagMode(cfg *lang.Config) bool { return cfg != nil && cfg.FlagMode }

// hclOrFlags picks the advice for an HCL configuration or for flag mode.
func hclOrFlags(cfg *lang.Config, hcl, flags string) string {
	if flagMode(cfg) {
		return flags
	}
	return hcl
}

// shellSafe matches words a POSIX shell takes literally.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=@%+,-]+$`)

// shellQuote quotes a word for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
