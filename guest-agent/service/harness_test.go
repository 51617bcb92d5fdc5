package service

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/ttrpc"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/guest-agent/cgroup"
	"github.com/runxen/runxen/guest-agent/server"
)

// harness runs a Service behind a real ttrpc server on a unix socket, with
// the fake runtime, and talks to it with the generated client.
type harness struct {
	t          *testing.T
	svc        *Service
	rt         *fakeRuntime
	c          agent.AgentService
	sock       string
	cgroupRoot string
	bundleDir  string
	powered    chan string
}

type harnessOpt func(*Config)

func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{
		t:          t,
		sock:       filepath.Join(dir, "agent.sock"),
		cgroupRoot: filepath.Join(dir, "cgroup"),
		bundleDir:  filepath.Join(dir, "bundles"),
		powered:    make(chan string, 4),
	}
	procRoot := filepath.Join(dir, "proc")
	h.rt = newFakeRuntime(h.cgroupRoot, procRoot)
	var svc *Service
	watcher, err := cgroup.NewOOMWatcher(func(id string) { svc.OOM(id) })
	if err != nil {
		t.Fatal(err)
	}
	go watcher.Run()
	t.Cleanup(func() { watcher.Close() })
	cfg := Config{
		Runtime:       h.rt,
		BundleDir:     h.bundleDir,
		CgroupRoot:    h.cgroupRoot,
		ProcRoot:      procRoot,
		PowerOff:      func(reason string) { h.powered <- reason },
		OOM:           watcher,
		PowerOffGrace: 300 * time.Millisecond,
		PowerOffDelay: time.Millisecond,
		AgentVersion:  "test",
	}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	h.rt.svc = svc
	srv, err := server.New(svc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		server.Serve(ctx, srv, server.ListenUnix(h.sock))
		close(served)
	}()
	t.Cleanup(func() {
		cancel()
		<-served
	})
	h.c = h.dial()
	return h
}

// dial opens a new client connection; it is closed at the end of the test.
func (h *harness) dial() agent.AgentService {
	h.t.Helper()
	var conn net.Conn
	var err error
	for i := 0; i < 200; i++ {
		if conn, err = net.Dial("unix", h.sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		h.t.Fatal(err)
	}
	cl := ttrpc.NewClient(conn)
	h.t.Cleanup(func() { cl.Close() })
	return agent.NewAgentClient(cl)
}

func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// spec returns a spec running args.
func spec(args ...string) *specs.Spec {
	return &specs.Spec{
		Version: "1.2.0",
		Process: &specs.Process{Args: args, Cwd: "/", Env: []string{"PATH=/bin"}},
		Root:    &specs.Root{Path: "/rootfs"},
		Linux: &specs.Linux{
			Namespaces:  []specs.LinuxNamespace{{Type: "pid"}, {Type: "mount"}},
			CgroupsPath: "/default/host-side",
		},
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type createOpts struct {
	terminal, stdin, poweroff bool
}

func (h *harness) create(id string, s *specs.Spec, o createOpts) uint32 {
	h.t.Helper()
	s.Process.Terminal = o.terminal
	resp, err := h.c.CreateContainer(h.ctx(), &agent.CreateContainerRequest{
		ContainerId: id, Spec: mustJSON(h.t, s), Terminal: o.terminal, Stdin: o.stdin, PoweroffOnExit: o.poweroff,
	})
	if err != nil {
		h.t.Fatalf("CreateContainer %s: %v", id, native(err))
	}
	return resp.Pid
}

func (h *harness) start(id string) {
	h.t.Helper()
	if _, err := h.c.StartContainer(h.ctx(), &agent.StartContainerRequest{ContainerId: id}); err != nil {
		h.t.Fatalf("StartContainer %s: %v", id, native(err))
	}
}

func (h *harness) run(id string, args ...string) {
	h.t.Helper()
	h.create(id, spec(args...), createOpts{})
	h.start(id)
}

func (h *harness) wait(id, exec string) *agent.WaitProcessResponse {
	h.t.Helper()
	resp, err := h.c.WaitProcess(h.ctx(), &agent.ProcessRequest{ContainerId: id, ExecId: exec})
	if err != nil {
		h.t.Fatalf("WaitProcess %s/%s: %v", id, exec, native(err))
	}
	return resp
}

// readAll reads a stream to eof with reads of at most max bytes.
func (h *harness) readAll(id, exec string, stderr bool, max uint32) string {
	h.t.Helper()
	read := h.c.ReadStdout
	if stderr {
		read = h.c.ReadStderr
	}
	var b strings.Builder
	for {
		resp, err := read(h.ctx(), &agent.ReadStreamRequest{ContainerId: id, ExecId: exec, MaxLen: max})
		if err != nil {
			h.t.Fatalf("read %s/%s: %v", id, exec, native(err))
		}
		if max > 0 && uint32(len(resp.Data)) > max {
			h.t.Fatalf("read %d bytes with max_len %d", len(resp.Data), max)
		}
		b.Write(resp.Data)
		if resp.Eof {
			return b.String()
		}
	}
}

// native converts a ttrpc client error back to an errdefs error.
func native(err error) error { return errgrpc.ToNative(err) }

// expectErr asserts that err (from the client) maps to the errdefs class
// is and mentions want.
func expectErr(t *testing.T, err error, is func(error) bool, want string) {
	t.Helper()
	err = native(err)
	if err == nil || !is(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want another class or a message containing %q", err, want)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func dialRaw(sock string) (net.Conn, error) { return net.Dial("unix", sock) }

func agentClientOn(conn net.Conn) agent.AgentService {
	return agent.NewAgentClient(ttrpc.NewClient(conn))
}
