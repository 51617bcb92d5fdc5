//go:build dom0

package dom0

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient"
	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/xen"
	"github.com/runxen/runxen/runtime/xenstore"
)

// Bounds on waits. The lab is slow: a guest boot takes 30-90 s there and
// `xl create` 20-40 s; these leave room for a loaded machine.
const (
	bootTimeout = 6 * time.Minute
	callTimeout = 3 * time.Minute
	stepTimeout = 5 * time.Minute
	// busyboxRoot is the test initramfs's container root file system.
	busyboxRoot = "/rootfs/busybox"
)

func guestDir() string {
	if d := os.Getenv("RUNXEN_GUEST_DIR"); d != "" {
		return d
	}
	return "/lab/payload/bin/guest"
}

// binDir is where the project's binaries are: the test binary lives in
// <bin>/tests/.
func binDir(t *testing.T) string {
	if d := os.Getenv("RUNXEN_BIN"); d != "" {
		return d
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(exe))
}

func guestImage(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(guestDir(), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("guest image: %v (build it with `make guest`)", err)
	}
	return p
}

// host is this dom0: its xenstore connection and toolstack.
type host struct {
	xs *xenstore.Client
	ts *xen.XL
}

func newHost(t *testing.T) *host {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("dom0 tests run as root in the lab's dom0")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	xs, err := xenstore.Dial(ctx)
	if err != nil {
		t.Fatalf("no xenstored (is this the lab's dom0?): %v", err)
	}
	t.Cleanup(func() { xs.Close() })
	return &host{xs: xs, ts: xen.NewXL(xen.XLOptions{Store: xs})}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func uniqueName(prefix string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return "runxen-dom0test-" + prefix + "-" + hex.EncodeToString(b)
}

// guest is a domain a test created; it is destroyed when the test ends,
// whatever happened.
type guest struct {
	id      xen.DomID
	name    string
	created time.Duration // xl create -p
}

func (h *host) createGuest(t *testing.T, prefix, initramfs, cmdline string, memMiB int) *guest {
	t.Helper()
	cfg := xen.DomainConfig{
		Name:      uniqueName(prefix),
		Kernel:    guestImage(t, "vmlinuz"),
		Initramfs: guestImage(t, initramfs),
		Cmdline:   cmdline,
		MemoryMiB: memMiB,
		VCPUs:     1,
	}
	start := time.Now()
	id, err := h.ts.Create(ctxFor(t, stepTimeout), cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := &guest{id: id, name: cfg.Name, created: time.Since(start)}
	t.Logf("domain %d (%s): xl create -p took %s", id, cfg.Name, g.created.Round(time.Millisecond))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		defer cancel()
		if err := h.ts.Destroy(ctx, id); err == nil {
			t.Logf("domain %d destroyed at cleanup", id)
		}
	})
	return g
}

// connect connects to a guest's agent; interpose, if not nil, wraps the
// vchan connection.
func (h *host) connect(ctx context.Context, g *guest, timeout time.Duration, interpose func(net.Conn) net.Conn) (*agentclient.Client, error) {
	return agentclient.Connect(ctx, agentclient.Config{
		Domain:      g.id,
		Store:       h.xs,
		Devices:     vchan.XenDevices(),
		Waiter:      h.ts,
		CallTimeout: timeout,
		Interpose:   interpose,
	})
}

// buffer is a concurrency-safe bytes.Buffer that can be waited on.
type buffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	wake chan struct{}
}

func newBuffer() *buffer { return &buffer{wake: make(chan struct{})} }

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.b.Write(p)
	close(b.wake)
	b.wake = make(chan struct{})
	return n, err
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor waits until the buffer contains s.
func (b *buffer) waitFor(ctx context.Context, s string) error {
	for {
		b.mu.Lock()
		ok := strings.Contains(b.b.String(), s)
		wake := b.wake
		b.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q in output %q: %w", s, b.String(), ctx.Err())
		}
	}
}

// proc is a process started through the agent, with its output collected.
type proc struct {
	svc            agent.AgentService
	cid, eid       string
	stdout, stderr *buffer
	outDone        chan error
	errDone        chan error
}

// startProc creates and starts the container's init (eid "") or an exec,
// and collects its output.
func startProc(t *testing.T, svc agent.AgentService, cid, eid string, args []string, terminal, stdin bool) *proc {
	t.Helper()
	ctx := ctxFor(t, stepTimeout)
	if eid == "" {
		spec, err := json.Marshal(agentclient.DefaultSpec(busyboxRoot, args, terminal))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateContainer(ctx, &agent.CreateContainerRequest{ContainerId: cid, Spec: spec, Terminal: terminal, Stdin: stdin}); err != nil {
			t.Fatalf("create container %s %q: %v", cid, args, err)
		}
		if _, err := svc.StartContainer(ctx, &agent.StartContainerRequest{ContainerId: cid}); err != nil {
			t.Fatalf("start container %s: %v", cid, err)
		}
	} else {
		ps, err := json.Marshal(agentclient.DefaultProcess(args, terminal))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ExecProcess(ctx, &agent.ExecProcessRequest{ContainerId: cid, ExecId: eid, Process: ps, Terminal: terminal, Stdin: stdin}); err != nil {
			t.Fatalf("exec %s %q: %v", eid, args, err)
		}
		if _, err := svc.StartProcess(ctx, &agent.ProcessRequest{ContainerId: cid, ExecId: eid}); err != nil {
			t.Fatalf("start exec %s: %v", eid, err)
		}
	}
	p := &proc{svc: svc, cid: cid, eid: eid, stdout: newBuffer(), stderr: newBuffer(), outDone: make(chan error, 1), errDone: make(chan error, 1)}
	bg := context.Background()
	go func() {
		_, err := agentclient.CopyOutput(bg, svc, p.stdout, agentclient.Stdout, cid, eid)
		p.outDone <- err
	}()
	if terminal {
		p.errDone <- nil
	} else {
		go func() {
			_, err := agentclient.CopyOutput(bg, svc, p.stderr, agentclient.Stderr, cid, eid)
			p.errDone <- err
		}()
	}
	return p
}

// wait waits for the process to exit and its output to end, and returns
// its exit status.
func (p *proc) wait(t *testing.T) uint32 {
	t.Helper()
	ctx := ctxFor(t, stepTimeout)
	w, err := p.svc.WaitProcess(ctx, &agent.ProcessRequest{ContainerId: p.cid, ExecId: p.eid})
	if err != nil {
		t.Fatalf("wait for %s/%s: %v", p.cid, p.eid, err)
	}
	for _, ch := range []chan error{p.outDone, p.errDone} {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatalf("output of %s/%s: %v", p.cid, p.eid, err)
			}
		case <-ctx.Done():
			t.Fatalf("output of %s/%s did not end after the exit", p.cid, p.eid)
		}
	}
	return w.ExitStatus
}

// leftovers lists what dom0 still holds of a domain: toolstack, xenstore,
// processes. Empty means nothing.
func leftovers(t *testing.T, h *host, g *guest) []string {
	t.Helper()
	var out []string
	doms, err := h.ts.List(ctxFor(t, stepTimeout))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range doms {
		if d.ID == g.id || d.Name == g.name {
			out = append(out, fmt.Sprintf("xl list shows %s %q", d, d.Name))
		}
	}
	ctx := ctxFor(t, time.Minute)
	id := fmt.Sprint(g.id)
	for _, p := range []string{"/local/domain/" + id, "/libxl/" + id, agent.AgentVchanPath(uint32(g.id))} {
		if _, err := h.xs.Read(ctx, p); err == nil {
			out = append(out, "xenstore still has "+p)
		}
	}
	backends, _ := h.xs.Directory(ctx, "/local/domain/0/backend")
	for _, typ := range backends {
		p := "/local/domain/0/backend/" + typ + "/" + id
		if _, err := h.xs.Read(ctx, p); err == nil {
			out = append(out, "xenstore still has "+p)
		}
	}
	ps, err := exec.Command("ps", "-eo", "pid=,args=").Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	for _, line := range strings.Split(string(ps), "\n") {
		if strings.Contains(line, g.name) || strings.Contains(line, "vchan-socket-proxy") {
			out = append(out, "process: "+strings.TrimSpace(line))
		}
	}
	return out
}

// xenFDs counts this process's open files on /dev/xen devices (grant
// mappings, event channels).
func xenFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(target, "/dev/xen/") {
			n++
		}
	}
	return n
}

// gntdevMappings counts this process's mappings of granted pages.
func gntdevMappings(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "/dev/xen/gntdev")
}
