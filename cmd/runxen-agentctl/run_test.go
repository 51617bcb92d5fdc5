package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient"
	"github.com/runxen/runxen/runtime/agentclient/agenttest"
	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/vchan/vchantest"
	"github.com/runxen/runxen/runtime/xen"
	"github.com/runxen/runxen/runtime/xen/xentest"
	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

// fakeHost is a dom0 in-process: xenstored, toolstack, devices. Unpausing
// a domain boots the fake agent in it, unless noAgent.
type fakeHost struct {
	t       *testing.T
	xs      *xenstoretest.Server
	ts      *xentest.Toolstack
	hv      *vchantest.Hypervisor
	hostXS  *xenstore.Client
	agent   *agenttest.Agent
	noAgent bool

	mu     sync.Mutex
	booted []xen.DomID
}

// bootingToolstack boots the fake agent when a domain is unpaused.
type bootingToolstack struct {
	*xentest.Toolstack
	h *fakeHost
}

func (b bootingToolstack) Unpause(ctx context.Context, id xen.DomID) error {
	if err := b.Toolstack.Unpause(ctx, id); err != nil {
		return err
	}
	if !b.h.noAgent {
		b.h.boot(id)
	}
	return nil
}

func newFakeHost(t *testing.T) *fakeHost {
	xs := xenstoretest.New()
	if err := xs.Write("/local/domain/0/domid", []byte("0")); err != nil {
		t.Fatal(err)
	}
	h := &fakeHost{t: t, xs: xs, ts: xentest.New(xentest.WithXenstore(xs)), hv: vchantest.New(), agent: agenttest.New()}
	h.hostXS = xenstore.NewClient(xs.ConnAs(0))
	t.Cleanup(func() {
		h.hostXS.Close()
		xs.Close()
	})
	return h
}

// boot serves the fake agent in domain id, until the domain dies.
func (h *fakeHost) boot(id xen.DomID) {
	t := h.t
	gxs := xenstore.NewClient(h.xs.ConnAs(uint32(id)))
	ctx, cancel := context.WithCancel(context.Background())
	l, err := vchan.Listen(ctx, vchan.Config{
		Devices: h.hv.Domain(uint32(id)),
		Store:   gxs,
		Peer:    0,
		Path:    agent.AgentVchanPath(uint32(id)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.booted = append(h.booted, id)
	h.mu.Unlock()
	h.agent.OnShutdown = func() { _ = h.ts.Shutdown(id, xen.ReasonPoweroff) }
	// A domain that dies just stops: its agent neither answers nor closes
	// anything, so the fake agent is left alone until the test ends.
	go func() { _ = h.agent.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		l.Close()
		gxs.Close()
	})
}

func (h *fakeHost) host() host {
	return host{ts: bootingToolstack{h.ts, h}, store: h.hostXS, devices: h.hv.Domain(0)}
}

func (h *fakeHost) options(args ...string) (*runOptions, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return &runOptions{
		domain: xen.DomainConfig{
			Name: "runxen-agentctl-test", Kernel: "/k", Initramfs: "/i",
			Cmdline: "console=hvc0", MemoryMiB: 128, VCPUs: 1,
		},
		rootfs:      "/rootfs/busybox",
		args:        args,
		bootTimeout: 5 * time.Second,
		callTimeout: 5 * time.Second,
		stdinR:      strings.NewReader(""),
		stdout:      &stdout,
		stderr:      &stderr,
	}, &stdout, &stderr
}

// checkNoDomains verifies only Domain-0 is left.
func (h *fakeHost) checkNoDomains() {
	h.t.Helper()
	doms, _ := h.ts.List(context.Background())
	if len(doms) != 1 {
		h.t.Fatalf("domains left: %+v", doms)
	}
	if n := h.hv.Domain(0).Open(); n != 0 {
		h.t.Errorf("dom0 has %d grants/ports open", n)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRun(t *testing.T) {
	h := newFakeHost(t)
	h.agent.Run = func(p *agenttest.Process) uint32 {
		if strings.Join(p.Args, " ") != "sh -c echo hi; echo err >&2; exit 3" {
			t.Errorf("agent ran %q", p.Args)
		}
		p.Stdout.Write([]byte("hi\n"))
		p.Stderr.Write([]byte("err\n"))
		return 3
	}
	o, stdout, stderr := h.options("sh", "-c", "echo hi; echo err >&2; exit 3")
	o.timings = true
	o.env = []string{"FOO=bar"}
	status, err := o.runOn(ctxT(t), h.host())
	if err != nil {
		t.Fatal(err)
	}
	if status != 3 || stdout.String() != "hi\n" || !strings.HasPrefix(stderr.String(), "err\n") {
		t.Fatalf("status %d, stdout %q, stderr %q", status, stdout, stderr)
	}
	for _, phase := range []string{"toolstack create", "boot to agent answering", "container create", "container start", "first output after start call", "start to exit", "teardown", "total"} {
		if !strings.Contains(stderr.String(), phase) {
			t.Errorf("timings lack %q:\n%s", phase, stderr)
		}
	}
	spec, _ := h.agent.Spec(containerID)
	if spec.Root.Path != "/rootfs/busybox" || !strings.Contains(strings.Join(spec.Process.Env, " "), "FOO=bar") {
		t.Errorf("spec root %q env %q", spec.Root.Path, spec.Process.Env)
	}
	// A clean run powers the guest off through the agent, then destroys it.
	calls := strings.Join(h.ts.Calls(), ",")
	if !strings.Contains(strings.Join(h.agent.Calls(), ","), "Shutdown") || !strings.HasSuffix(calls, "destroy 1") {
		t.Errorf("agent calls %v, toolstack calls %s", h.agent.Calls(), calls)
	}
	h.checkNoDomains()
}

func TestRunStdin(t *testing.T) {
	h := newFakeHost(t)
	h.agent.Run = func(p *agenttest.Process) uint32 {
		b, _ := io.ReadAll(p.Stdin)
		p.Stdout.Write(bytes.ToUpper(b))
		return 0
	}
	o, stdout, _ := h.options("tr", "a-z", "A-Z")
	o.stdin = true
	o.stdinR = strings.NewReader("hello\n")
	status, err := o.runOn(ctxT(t), h.host())
	if err != nil || status != 0 || stdout.String() != "HELLO\n" {
		t.Fatalf("status %d, err %v, stdout %q", status, err, stdout)
	}
	h.checkNoDomains()
}

func TestRunTearsDownOnCancel(t *testing.T) {
	h := newFakeHost(t)
	started := make(chan struct{})
	h.agent.Run = func(p *agenttest.Process) uint32 {
		close(started)
		return 128 + uint32(<-p.Signals)
	}
	o, _, _ := h.options("sleep", "1000")
	ctx, cancel := context.WithCancel(ctxT(t))
	go func() {
		<-started
		cancel() // ^C
	}()
	status, err := o.runOn(ctx, h.host())
	if !errors.Is(err, context.Canceled) || status != exitRuntimeError {
		t.Fatalf("status %d, err %v", status, err)
	}
	h.checkNoDomains()
}

func TestRunBootTimeout(t *testing.T) {
	h := newFakeHost(t)
	h.noAgent = true
	o, _, _ := h.options("true")
	o.bootTimeout = 100 * time.Millisecond
	status, err := o.runOn(ctxT(t), h.host())
	if !errors.Is(err, context.DeadlineExceeded) || status != exitRuntimeError || !strings.Contains(err.Error(), "no agent vchan") {
		t.Fatalf("status %d, err %v", status, err)
	}
	h.checkNoDomains()
}

func TestRunGuestPowersOff(t *testing.T) {
	h := newFakeHost(t)
	h.agent.Run = func(p *agenttest.Process) uint32 {
		select {} // until the guest dies
	}
	o, _, _ := h.options("sleep", "1000")
	go func() {
		for len(h.agent.Calls()) == 0 || !strings.Contains(strings.Join(h.agent.Calls(), ","), "WaitProcess") {
			time.Sleep(time.Millisecond)
		}
		_ = h.ts.Shutdown(1, xen.ReasonCrash)
	}()
	status, err := o.runOn(ctxT(t), h.host())
	if status != exitRuntimeError || err == nil || !strings.Contains(err.Error(), "domain 1 shut down (crash)") {
		t.Fatalf("status %d, err %v", status, err)
	}
	h.checkNoDomains()
}

func TestRunFailsOnBadDomain(t *testing.T) {
	h := newFakeHost(t)
	h.ts.FailNext("create", errors.New("xl create: out of memory"))
	o, _, _ := h.options("true")
	status, err := o.runOn(ctxT(t), h.host())
	if status != exitRuntimeError || err == nil || !strings.Contains(err.Error(), "out of memory") {
		t.Fatalf("status %d, err %v", status, err)
	}
	h.checkNoDomains()
}

// TestTerminal runs a tty session over a real pseudo-terminal: raw mode
// while it runs, the initial size, a resize on SIGWINCH, and the terminal
// restored afterwards.
func TestTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 80, Rows: 24}); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, ptmx) }()

	a := agenttest.New()
	rawDuringRun := make(chan bool, 1)
	a.Run = func(p *agenttest.Process) uint32 {
		w, hgt := p.Size()
		p.Stdout.Write([]byte(sizeLine(w, hgt)))
		rawDuringRun <- isRaw(t, tty)
		resized := p.Resized()
		if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 132, Rows: 50}); err != nil {
			t.Error(err)
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGWINCH)
		<-resized
		w, hgt = p.Size()
		p.Stdout.Write([]byte(sizeLine(w, hgt)))
		return 0
	}
	restore, size, resizes, err := setupTerminal(tty, true)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx := ctxT(t)
	s := &session{
		svc: a, containerID: "c",
		spec:  mustSpec([]string{"sh"}, true),
		stdin: strings.NewReader(""), stdout: &out, stderr: io.Discard,
		size: size, resizes: resizes,
	}
	status, err := s.run(ctx)
	restore()
	if err != nil || status != 0 {
		t.Fatalf("status %d, err %v", status, err)
	}
	if got := out.String(); got != "80x24\n132x50\n" {
		t.Fatalf("the process saw sizes %q", got)
	}
	if !<-rawDuringRun {
		t.Error("terminal was not in raw mode while the container ran")
	}
	if isRaw(t, tty) {
		t.Error("terminal still raw after restore")
	}
}

func sizeLine(w, h uint32) string { return fmt.Sprintf("%dx%d\n", w, h) }

func mustSpec(args []string, tty bool) *specs.Spec { return agentclient.DefaultSpec("/r", args, tty) }

func isRaw(t *testing.T, f *os.File) bool {
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&(unix.ICANON|unix.ECHO) == 0
}
