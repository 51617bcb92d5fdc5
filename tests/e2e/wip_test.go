//go:build lab

package e2e

import (
	"os"
	"testing"
)

// Lab tests of features still being built (issue "The shim": the TestShim*
// tests; issue "Live file sharing": the dom0 share tests TestShareGuest and
// TestShareStress, still being tuned for 9P under emulation) run when asked
// for, with RUNXEN_WIP=1 or a -run pattern that names them, and stay out of
// a plain make test until they pass there reliably: a feature under
// construction must not fail the suite that proves the finished ones. The
// list shrinks as those issues close.
func skipUnlessWIP(t *testing.T, name string) {
	t.Helper()
	if os.Getenv("RUNXEN_WIP") == "1" || runSelects(name) {
		return
	}
	t.Skipf("%s belongs to an issue still in progress: run with RUNXEN_WIP=1 or -run %s", name, name)
}

// wipDom0Tests are the tests/dom0 tests TestAgent runs only when asked for.
var wipDom0Tests = map[string]bool{"TestShareGuest": true, "TestShareStress": true}
