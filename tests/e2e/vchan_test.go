//go:build lab

package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runxen/runxen/tests/lab"
	"github.com/runxen/runxen/tests/lab/labproto"
)

// The vchan tests prove runtime/vchan on real Xen against Xen's own C
// libxenvchan, dom0 <-> guest, with cmd/runxen-vchanbench: its guest role is
// the /init of a bench guest serving Go vchan endpoints and Xen's
// vchan-socket-proxy side by side; its host role runs in dom0.

const vchanbenchBin = "/lab/payload/bin/runxen-vchanbench"

// composeBenchInitramfs builds the bench guest's initramfs in dom0 when the
// payload has none (bin/guest/vchanbench.initramfs): hello.initramfs (kernel
// modules) with a second archive appended, whose /init is runxen-vchanbench
// and which carries dom0's own vchan-socket-proxy and the shared libraries
// ldd names for it. The kernel unpacks both archives in order, the second
// overriding /init. Its module list is empty, so the bench's init finds the
// Xen modules it needs by name.
const composeBenchInitramfs = `set -eu
B=/lab/payload/bin
P=$(ls /usr/lib/xen-*/bin/vchan-socket-proxy | tail -n1)
D=/run/runxen-lab/vchanbench
mkdir -p $D
args=(--file "$P:$P:0755")
for f in $(ldd "$P" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u); do
	args+=(--file "$(readlink -f "$f"):$f:0755")
done
$B/runxen-mkguest initramfs --init $B/runxen-vchanbench --modules "" "${args[@]}" --out $D/extra.initramfs >&2
cat $B/guest/hello.initramfs $D/extra.initramfs > $D/vchanbench.initramfs
echo $D/vchanbench.initramfs
`

// benchInitramfs returns the dom0 path of the bench guest's initramfs.
func benchInitramfs(t *testing.T, l *lab.Lab) string {
	t.Helper()
	built := lab.PayloadGuestDir + "/vchanbench.initramfs"
	if strings.TrimSpace(l.MustSh(t, "test -f "+built+" && echo yes || true")) == "yes" {
		t.Logf("bench guest image: %s (from the build)", built)
		return built
	}
	p := strings.TrimSpace(l.MustSh(t, composeBenchInitramfs))
	t.Logf("bench guest image: %s (hello.initramfs + runxen-vchanbench + dom0's vchan-socket-proxy)", p)
	return p
}

// benchGuest is a running bench guest.
type benchGuest struct {
	name  string
	domid int
}

// startBenchGuest boots a bench guest and waits until it serves.
func startBenchGuest(t *testing.T, l *lab.Lab, image, rings string) *benchGuest {
	t.Helper()
	g := &benchGuest{name: fmt.Sprintf("vchanbench-%d", time.Now().UnixNano()%100000), domid: -1}
	cfg := fmt.Sprintf(`name=%q
type="pv"
kernel=%q
ramdisk=%q
extra="console=hvc0 quiet vchanbench.timeout=60m vchanbench.rings=%s"
memory=256
vcpus=2
on_poweroff="destroy"
on_reboot="destroy"
on_crash="destroy"
`, g.name, lab.PayloadGuestDir+"/vmlinuz", image, rings)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	path := "/run/runxen-lab/" + g.name + ".cfg"
	if err := l.WriteFile(ctx, path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	l.MustSh(t, "xl create "+path)
	t.Cleanup(func() {
		// Whatever happened, no domain outlives the test.
		l.Run(context.Background(), "xl", "destroy", g.name)
	})
	g.domid, _ = strconv.Atoi(strings.TrimSpace(l.MustSh(t, "xl domid "+g.name)))
	for {
		b, _ := l.ReadFile(ctx, lab.GuestConsolePath(g.name))
		console := string(b)
		if strings.Contains(console, "VCHANBENCH_READY") {
			t.Logf("guest %s (domain %d) serving after %s: %s", g.name, g.domid,
				time.Since(start).Round(time.Second), grepLine(console, "VCHANBENCH_READY"))
			return g
		}
		if strings.Contains(console, "VCHANBENCH_FAIL") || ctx.Err() != nil {
			t.Fatalf("bench guest did not come up:\n%s", console)
		}
		time.Sleep(2 * time.Second)
	}
}

func grepLine(s, marker string) string {
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, marker) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// vchanReport is the part of runxen-vchanbench's VCHANBENCH_RESULT line the
// tests look at.
type vchanReport struct {
	Checks []struct {
		Pair, Check, Note string
		OK, Known         bool
	}
	Bench []struct {
		Pair  string
		Error string `json:"error"`
	}
	Cleanup *struct {
		GuestLeft []string `json:"guest_left"`
		Note      string
	}
	Failed int
}

// runVchanHost runs the bench's host role in dom0 against g and returns its
// report and output.
func runVchanHost(t *testing.T, l *lab.Lab, g *benchGuest, timeout time.Duration, args ...string) (*vchanReport, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	argv := append([]string{vchanbenchBin, "host", "-domid", strconv.Itoa(g.domid), "-timeout", timeout.String()}, args...)
	r, err := l.Exec(ctx, labproto.ExecRequest{Args: argv, TimeoutSeconds: int(timeout.Seconds()) + 30})
	if err != nil {
		t.Fatalf("dom0: %v", err)
	}
	out := string(r.Stdout)
	var rep vchanReport
	j := grepLine(out, "VCHANBENCH_RESULT ")
	if j == "" {
		t.Fatalf("runxen-vchanbench host (exit %d%s) printed no result:\nstdout:\n%s\nstderr:\n%s", r.ExitCode, r.Error, out, r.Stderr)
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(j, "VCHANBENCH_RESULT ")), &rep); err != nil {
		t.Fatal(err)
	}
	if len(r.Stderr) > 0 {
		t.Logf("host stderr:\n%s", r.Stderr)
	}
	return &rep, out
}

// checkVchanCleanup checks that the guest withdrew its endpoints, powered
// off and left nothing behind, and that dom0 runs no proxy any more.
func checkVchanCleanup(t *testing.T, l *lab.Lab, g *benchGuest, rep *vchanReport) {
	t.Helper()
	if rep.Cleanup == nil {
		t.Error("the host role did not report the guest's cleanup")
	} else if len(rep.Cleanup.GuestLeft) != 0 {
		t.Errorf("guest's vchan entries left in xenstore: %v (%s)", rep.Cleanup.GuestLeft, rep.Cleanup.Note)
	} else {
		t.Logf("cleanup: %s", rep.Cleanup.Note)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for {
		r, err := l.Run(ctx, "xl", "domid", g.name)
		if err != nil {
			t.Fatal(err)
		}
		if r.ExitCode != 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("guest %s did not power off after shutdown", g.name)
		}
		time.Sleep(time.Second)
	}
	b, _ := l.ReadFile(ctx, lab.GuestConsolePath(g.name))
	if bye := grepLine(string(b), "VCHANBENCH_BYE"); bye != "VCHANBENCH_BYE left=[]" {
		t.Errorf("guest's last word: %q, want VCHANBENCH_BYE left=[]; console:\n%s", bye, b)
	}
	assertNoDomainLeftovers(t, l, g.domid, g.name)
	if out := l.MustSh(t, "pgrep -a -x vchan-socket-proxy || true"); strings.TrimSpace(out) != "" {
		t.Errorf("vchan-socket-proxy still running in dom0:\n%s", out)
	}
	if out := l.MustSh(t, "xenstore-ls -f /local/domain/0/data 2>/dev/null | grep -E '/(ring-ref|event-channel) =' || true"); strings.TrimSpace(out) != "" {
		t.Errorf("vchan entries left under dom0's data:\n%s", out)
	}
}

// TestVchanInterop: runtime/vchan and libxenvchan talk to each other both
// ways, dom0 <-> guest. Every pair of client (Go vchan or
// vchan-socket-proxy) and server (a Go endpoint or vchan-socket-proxy)
// moves data both ways with SHA-256 checks and carries ttrpc; end-of-stream
// is checked where vchan-socket-proxy passes it on. At the end the guest
// withdraws everything and powers off, and nothing is left behind.
func TestVchanInterop(t *testing.T) {
	// Every check is bounded (runxen-vchanbench's checkTimeout): a vchan-socket-proxy client
	// that waits for an event nobody owes it (seen with its own C server too, so a libxenvchan
	// behaviour, not ours) fails or is worked around within minutes instead of hanging the run.
	l := lab.Get(t)
	g := startBenchGuest(t, l, benchInitramfs(t, l), "0,65536")
	rep, out := runVchanHost(t, l, g, 25*time.Minute, "-interop", "-check-mib", "0.25", "-shutdown")
	t.Logf("runxen-vchanbench host:\n%s", out)

	want := []string{"go>go-2K", "go>go-64K", "go>c", "c>go-2K", "c>go-64K", "c>c"}
	got := map[string]map[string]bool{}
	for _, c := range rep.Checks {
		if got[c.Pair] == nil {
			got[c.Pair] = map[string]bool{}
		}
		got[c.Pair][c.Check] = c.OK || c.Known
		if !c.OK && !c.Known {
			t.Errorf("%s %s: %s", c.Pair, c.Check, c.Note)
		}
	}
	for _, p := range want {
		for _, c := range []string{"sink h->g", "source g->h", "echo both ways", "ttrpc ping"} {
			if ok, ran := got[p][c]; !ran {
				t.Errorf("%s: check %q did not run", p, c)
			} else if !ok {
				t.Errorf("%s: %s failed", p, c)
			}
		}
	}
	// Where no vchan-socket-proxy is involved, end-of-stream must hold
	// exactly; with one, the proxy's own behaviour is reported (Known).
	for _, p := range []string{"go>go-2K", "go>go-64K"} {
		for _, c := range []string{"eof g->h", "eof h->g"} {
			if ok, ran := got[p][c]; !ran || !ok {
				t.Errorf("%s: %s: ran %v, ok %v", p, c, ran, ok)
			}
		}
	}
	if rep.Failed != 0 {
		t.Errorf("%d checks failed", rep.Failed)
	}
	checkVchanCleanup(t, l, g, rep)
}

// TestVchanXenPackages runs the Xen-gated tests of runtime/evtchn,
// runtime/gnttab and runtime/vchan in dom0 (RUNXEN_XEN_TESTS=1). Both ends
// live in dom0, so they also answer whether a domain may map its own
// grants.
func TestVchanXenPackages(t *testing.T) {
	l := lab.Get(t)
	dir := t.TempDir()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	for _, pkg := range []string{"evtchn", "gnttab", "vchan"} {
		bin := filepath.Join(dir, pkg+".test")
		cmd := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "./runtime/"+pkg)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go test -c ./runtime/%s: %v\n%s", pkg, err, out)
		}
		dst := "/run/runxen-lab/xentests/" + pkg + ".test"
		if err := l.CopyIn(ctx, bin, dst); err != nil {
			t.Fatal(err)
		}
		r, err := l.Exec(ctx, labproto.ExecRequest{
			Args:           []string{dst, "-test.run", "Xen", "-test.v", "-test.timeout", "10m"},
			Env:            []string{"RUNXEN_XEN_TESTS=1"},
			Dir:            "/tmp",
			TimeoutSeconds: 660,
		})
		if err != nil {
			t.Fatal(err)
		}
		out := string(r.Stdout) + string(r.Stderr)
		t.Logf("runtime/%s in dom0 (exit %d):\n%s", pkg, r.ExitCode, out)
		if r.ExitCode != 0 {
			t.Errorf("runtime/%s: Xen tests failed in dom0 (exit %d%s)", pkg, r.ExitCode, r.Error)
		}
		if !regexp.MustCompile(`(?m)^--- PASS: TestXen`).MatchString(out) {
			t.Errorf("runtime/%s: no Xen test passed (all skipped?)", pkg)
		}
		if pkg == "gnttab" {
			self := strings.Contains(out, "--- PASS: TestXenShareMap")
			t.Logf("a domain can map its own grants (dom0 granting to itself, gntalloc then gntdev): %v", self)
		}
	}
	if out := l.MustSh(t, "xenstore-ls -f /local/domain/0/data 2>/dev/null | grep -E '/(ring-ref|event-channel) =' || true"); strings.TrimSpace(out) != "" {
		t.Errorf("the tests left vchan entries in dom0's xenstore:\n%s", out)
	}
	if out := l.MustSh(t, "pgrep -a -x vchan-socket-proxy || true"); strings.TrimSpace(out) != "" {
		t.Errorf("vchan-socket-proxy still running in dom0:\n%s", out)
	}
}

// TestBenchVchan measures runtime/vchan against libxenvchan, dom0 <->
// guest, and prints the table; it never fails on figures. It runs when
// asked for: `go test -run Bench` (make bench) or RUNXEN_BENCH=1.
// RUNXEN_BENCH_TIME (default 5s) bounds each transfer and each latency
// series; RUNXEN_BENCH_ROUNDS (default 3) is how many rounds the pairs take
// turns for (the table shows medians).
func TestBenchVchan(t *testing.T) {
	if os.Getenv("RUNXEN_BENCH") != "1" && !runSelects("Bench") {
		t.Skip("benchmark: run with -run Bench or RUNXEN_BENCH=1")
	}
	per := 5 * time.Second
	if s := os.Getenv("RUNXEN_BENCH_TIME"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("RUNXEN_BENCH_TIME=%q: %v", s, err)
		}
		per = d
	}
	rounds := 3
	if s := os.Getenv("RUNXEN_BENCH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("RUNXEN_BENCH_ROUNDS=%q: want a positive number", s)
		}
		rounds = n
	}
	l := lab.Get(t)
	g := startBenchGuest(t, l, benchInitramfs(t, l), "0,65536,1048576")
	rep, out := runVchanHost(t, l, g, 60*time.Minute, "-bench", "-bench-time", per.String(), "-rtt-time", per.String(),
		"-rounds", strconv.Itoa(rounds), "-shutdown")
	// The figures, as the host printed them.
	fmt.Println(out)
	t.Logf("runxen-vchanbench host:\n%s", out)
	ran := 0
	for _, b := range rep.Bench {
		if b.Error != "" {
			t.Logf("%s: %s", b.Pair, b.Error)
		} else {
			ran++
		}
	}
	if ran == 0 {
		t.Error("no pair could be measured")
	}
	checkVchanCleanup(t, l, g, rep)
}

// runSelects reports whether the -run pattern names pattern literally.
func runSelects(pattern string) bool {
	f := flag.Lookup("test.run")
	return f != nil && strings.Contains(f.Value.String(), pattern)
}
