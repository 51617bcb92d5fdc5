//go:build lab

package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/runxen/runxen/tests/lab"
	"github.com/runxen/runxen/tests/lab/labproto"
)

// TestBenchShares measures file sharing in the lab: a guest's file I/O
// over runxen's 9P backend (each msize and cache mode), the same in dom0
// directly and in the guest on ext4 through blkback, dom0's memory per
// share, and a write under a 10 MiB/s limit (tests/dom0 TestShareBench). It
// prints the table and never fails on figures. It runs when asked for:
// `go test -run Bench` (make bench) or RUNXEN_BENCH=1; RUNXEN_BENCH_MIB and
// RUNXEN_BENCH_FILES pass on to the dom0 test.
func TestBenchShares(t *testing.T) {
	if os.Getenv("RUNXEN_BENCH") != "1" && !runSelects("Bench") {
		t.Skip("benchmark: run with -run Bench or RUNXEN_BENCH=1")
	}
	l := lab.Get(t)
	env := []string{"RUNXEN_BENCH=1"}
	for _, k := range []string{"RUNXEN_BENCH_MIB", "RUNXEN_BENCH_FILES"} {
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), dom0TestTimeout+time.Minute)
	defer cancel()
	r, err := l.Exec(ctx, labproto.ExecRequest{
		Args: []string{dom0TestBinary, "-test.run", "^TestShareBench$", "-test.v", "-test.count", "1",
			"-test.timeout", dom0TestTimeout.String()},
		Env:            env,
		TimeoutSeconds: int((dom0TestTimeout + 30*time.Second).Seconds()),
	})
	if err != nil {
		t.Fatal(err)
	}
	var table []string
	for _, line := range strings.Split(string(r.Stdout), "\n") {
		if strings.HasPrefix(line, "SHAREBENCH ") {
			table = append(table, strings.TrimPrefix(line, "SHAREBENCH "))
		}
	}
	fmt.Println(strings.Join(table, "\n"))
	t.Logf("dom0: TestShareBench (%s):\n%s%s", time.Duration(r.Millis)*time.Millisecond, r.Stdout, r.Stderr)
	cleanupDomains(t, l)
	if r.ExitCode != 0 {
		t.Fatalf("TestShareBench failed in dom0 (exit %d%s)", r.ExitCode, errText(r.Error))
	}
	if len(table) == 0 {
		t.Error("the benchmark printed no figures")
	}
}
