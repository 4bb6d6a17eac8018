package pgtest

import (
	"os"
	"testing"
)

// Main runs the tests of a package and then removes this process's pgtest
// directory (the initdb templates). Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// Without it the directory is removed by the next test binary that uses
// pgtest (directories of dead processes are swept).
func Main(m *testing.M) int {
	code := m.Run()
	if shared.base != "" {
		os.RemoveAll(shared.base)
	}
	return code
}
