//go:build lab

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runxen/runxen/tests/lab"
	"github.com/runxen/runxen/tests/lab/labproto"
)

// dom0TestBinary is the tests/dom0 test binary as the lab ships it (make
// builds it into $(BIN)/tests/).
const dom0TestBinary = "/lab/payload/bin/tests/dom0.test"

// dom0TestTimeout bounds one dom0 test; labd kills it after that.
const dom0TestTimeout = 30 * time.Minute

// TestAgent runs each test of tests/dom0 inside the lab's dom0, as root
// against real Xen, as a subtest: a guest with the agent, reached over
// vchan from dom0 (see tests/dom0 for what each proves).
func TestAgent(t *testing.T) {
	l := lab.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := l.Run(ctx, dom0TestBinary, "-test.list", ".")
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != 0 {
		t.Fatalf("%s -test.list: exit %d%s\n%s%s (build it with `go test -c -tags dom0 -o $BIN/tests/dom0.test ./tests/dom0`)",
			dom0TestBinary, r.ExitCode, errText(r.Error), r.Stdout, r.Stderr)
	}
	var names []string
	for _, line := range strings.Split(string(r.Stdout), "\n") {
		if name := strings.TrimSpace(line); strings.HasPrefix(name, "Test") {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		t.Fatalf("%s lists no tests:\n%s", dom0TestBinary, r.Stdout)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if wipDom0Tests[name] {
				skipUnlessWIP(t, name)
			}
			runDom0Test(t, l, name)
		})
	}
}

func runDom0Test(t *testing.T, l *lab.Lab, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), dom0TestTimeout+time.Minute)
	defer cancel()
	r, err := l.Exec(ctx, labproto.ExecRequest{
		Args: []string{dom0TestBinary, "-test.run", "^" + name + "$", "-test.v", "-test.count", "1",
			"-test.timeout", dom0TestTimeout.String()},
		TimeoutSeconds: int((dom0TestTimeout + 30*time.Second).Seconds()),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dom0: %s (%s):\n%s%s", name, time.Duration(r.Millis)*time.Millisecond, r.Stdout, r.Stderr)
	// A dom0 test destroys its guests itself; should it have been killed
	// before its cleanups ran, do not let its domains spoil the next test.
	cleanupDomains(t, l)
	if r.ExitCode != 0 {
		t.Fatalf("%s failed in dom0 (exit %d%s)", name, r.ExitCode, errText(r.Error))
	}
}

// cleanupDomains destroys domains left by dom0 tests, and fails t if there
// were any.
func cleanupDomains(t *testing.T, l *lab.Lab) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := l.Sh(ctx, `xl list | awk 'NR>1 && $1 ~ /^runxen-dom0test-/ {print $1}'`)
	if err != nil {
		t.Errorf("list leftover domains: %v", err)
		return
	}
	for _, name := range strings.Fields(string(r.Stdout)) {
		t.Errorf("domain %s was left behind; destroying it", name)
		_, _ = l.Run(ctx, "xl", "destroy", name)
	}
}

func errText(e string) string {
	if e == "" {
		return ""
	}
	return fmt.Sprintf(", %s", e)
}
