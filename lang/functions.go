package lang

import (
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// maxFileSize bounds what file() reads, so a mistaken path to a huge file
// fails clearly instead of exhausting memory.
const maxFileSize = 16 << 20

// functions returns the functions available to expressions in a file whose
// directory is dir: env, file and a few string helpers.
func functions(dir string, opts LoadOptions) map[string]function.Function {
	return map[string]function.Function{
		"env":       envFunc(opts),
		"file":      fileFunc(dir),
		"trimspace": stdlib.TrimSpaceFunc,
		"lower":     stdlib.LowerFunc,
		"upper":     stdlib.UpperFunc,
		"format":    stdlib.FormatFunc,
		"join":      stdlib.JoinFunc,
		"replace":   stdlib.ReplaceFunc,
	}
}

// envFunc implements env("NAME") and env("NAME", "fallback").
func envFunc(opts LoadOptions) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable, or the fallback when it is unset.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "fallback", Type: cty.String},
		Type:        function.StaticReturnType(cty.String),
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
			return b.NotNull()
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one fallback: write env(\"NAME\") or env(\"NAME\", \"default\")")
			}
			name := args[0].AsString()
			if name == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the environment variable name is empty: write env(\"NAME\")")
			}
			if v, ok := opts.lookupEnv(name); ok {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				if args[1].IsNull() {
					return cty.NilVal, function.NewArgErrorf(1, "the fallback must not be null")
				}
				return args[1], nil
			}
			return cty.NilVal, fmt.Errorf("environment variable %s is not set: export %s=VALUE, or give a fallback with env(%q, \"default\")", name, name, name)
		},
	})
}

// fileFunc implements file("path"), reading a UTF-8 file relative to dir.
func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Reads a UTF-8 text file; a relative path is relative to the configuration file that calls file().",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if p == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the path is empty: write file(\"path/to/file\")")
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			info, err := os.Stat(p)
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "cannot read file %s: %s", p, unwrapPathError(err))
			}
			if info.IsDir() {
				return cty.NilVal, function.NewArgErrorf(0, "cannot read file %s: it is a directory", p)
			}
			if info.Size() > maxFileSize {
				return cty.NilVal, function.NewArgErrorf(0, "cannot read file %s: it is larger than %d bytes", p, maxFileSize)
			}
			src, err := os.ReadFile(p)
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "cannot read file %s: %s", p, unwrapPathError(err))
			}
			if !utf8.Valid(src) {
				return cty.NilVal, function.NewArgErrorf(0, "file %s is not valid UTF-8 text", p)
			}
			return cty.StringVal(string(src)), nil
		},
	})
}

// unwrapPathError drops the path an *os.PathError repeats.
func unwrapPathError(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return fmt.Sprint(err)
}
