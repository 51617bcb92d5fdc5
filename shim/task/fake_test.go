package task

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	taskv3 "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/v2/core/events"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/ttrpc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient/agenttest"
)

// program is what the fake guest's processes do, by their first argument:
//
//	echo ARGS...     print ARGS to stdout, exit 0
//	err ARGS...      print ARGS to stderr, exit 0
//	exit N           exit N
//	cat              copy stdin to stdout until its end, exit 0
//	wait             wait for a signal, exit 128+signal
//	big N            print N bytes to stdout, exit 0
func program(p *agenttest.Process) uint32 {
	if len(p.Args) == 0 {
		return 127
	}
	rest := strings.Join(p.Args[1:], " ")
	switch p.Args[0] {
	case "echo":
		p.Stdout.Write([]byte(rest + "\n"))
	case "err":
		p.Stderr.Write([]byte(rest + "\n"))
	case "exit":
		n, _ := strconv.Atoi(rest)
		return uint32(n)
	case "cat":
		buf := make([]byte, 4096)
		for {
			n, err := p.Stdin.Read(buf)
			p.Stdout.Write(buf[:n])
			if err != nil {
				return 0
			}
		}
	case "wait":
		sig := <-p.Signals
		return 128 + uint32(sig)
	case "big":
		n, _ := strconv.Atoi(rest)
		chunk := []byte(strings.Repeat("x", 1000))
		for n > 0 {
			m := min(n, len(chunk))
			p.Stdout.Write(chunk[:m])
			n -= m
		}
	default:
		return 127
	}
	return 0
}

// fakeSandbox is a guest served by agenttest over a real ttrpc connection,
// so that requests and answers are encoded as in production.
type fakeSandbox struct {
	t     *testing.T
	ag    *agenttest.Agent
	svc   agent.AgentService
	oom   chan string
	name  string
	req   SandboxRequest
	close func()

	mu        sync.Mutex
	destroyed int
	paused    []string
	updates   []*specs.LinuxResources
	done      chan struct{}
	failPause error
	resizeErr error
}

// oomAgent lets the test raise OOM events, and answers ResizePty with
// the error resizeErr holds, if any.
type oomAgent struct {
	agent.AgentService
	oom       chan string
	resizeErr *error
}

func (o oomAgent) ResizePty(ctx context.Context, r *agent.ResizePtyRequest) (*emptypb.Empty, error) {
	if *o.resizeErr != nil {
		return nil, *o.resizeErr
	}
	return o.AgentService.ResizePty(ctx, r)
}

func (o oomAgent) GetOOMEvent(ctx context.Context, _ *emptypb.Empty) (*agent.OOMEvent, error) {
	select {
	case id := <-o.oom:
		return &agent.OOMEvent{ContainerId: id}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func newFakeSandbox(t *testing.T, ag *agenttest.Agent, r SandboxRequest) (*fakeSandbox, error) {
	dir, err := os.MkdirTemp("", "shimtask")
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", filepath.Join(dir, "agent.sock"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	go ag.Serve(ctx, l)
	conn, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		cancel()
		return nil, err
	}
	tc := ttrpc.NewClient(conn)
	fs := &fakeSandbox{t: t, ag: ag, oom: make(chan string, 8), name: "runxen-" + r.SandboxID, req: r, done: make(chan struct{})}
	fs.svc = oomAgent{AgentService: agent.NewAgentClient(tc), oom: fs.oom, resizeErr: &fs.resizeErr}
	fs.close = func() {
		tc.Close()
		cancel()
		os.RemoveAll(dir)
	}
	// The guest creates the container, as runtime/sandbox does.
	raw, _ := json.Marshal(r.Spec)
	if _, err := fs.svc.CreateContainer(context.Background(), &agent.CreateContainerRequest{
		ContainerId: r.ContainerID, Spec: raw, Terminal: r.Terminal, Stdin: r.Stdin,
	}); err != nil {
		fs.close()
		return nil, err
	}
	return fs, nil
}

func (f *fakeSandbox) Agent() agent.AgentService { return f.svc }
func (f *fakeSandbox) DomainName() string        { return f.name }
func (f *fakeSandbox) Done() <-chan struct{}     { return f.done }
func (f *fakeSandbox) Err() error {
	select {
	case <-f.done:
		return errors.New("destroyed")
	default:
		return nil
	}
}

func (f *fakeSandbox) Pause(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failPause != nil {
		return f.failPause
	}
	f.paused = append(f.paused, "pause "+id)
	_, err := f.svc.PauseContainer(ctx, &agent.ContainerRequest{ContainerId: id})
	return err
}

func (f *fakeSandbox) Resume(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused = append(f.paused, "resume "+id)
	_, err := f.svc.ResumeContainer(ctx, &agent.ContainerRequest{ContainerId: id})
	return err
}

func (f *fakeSandbox) Update(ctx context.Context, id string, r *specs.LinuxResources) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates = append(f.updates, r)
	return nil
}

func (f *fakeSandbox) Destroy(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.destroyed++
	if f.destroyed == 1 {
		close(f.done)
		f.close()
	}
	return nil
}

type fakeHolder struct {
	pid    int
	mu     sync.Mutex
	closed int
}

func (h *fakeHolder) Pid() int          { return h.pid }
func (h *fakeHolder) NetNSPath() string { return fmt.Sprintf("/proc/%d/ns/net", h.pid) }
func (h *fakeHolder) Close() error {
	h.mu.Lock()
	h.closed++
	h.mu.Unlock()
	return nil
}

// recorder keeps the events in order.
type recorder struct {
	mu   sync.Mutex
	evs  []events.Event
	wake chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1)} }

func (r *recorder) Send(e events.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *recorder) all() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.evs...)
}

// names lists the events as short strings: "exit <id>/<exec>=<status>" and
// the like.
func (r *recorder) names() []string {
	var out []string
	for _, e := range r.all() {
		switch e := e.(type) {
		case *eventstypes.TaskCreate:
			out = append(out, "create "+e.ContainerID)
		case *eventstypes.TaskStart:
			out = append(out, "start "+e.ContainerID)
		case *eventstypes.TaskExit:
			out = append(out, fmt.Sprintf("exit %s=%d", e.ID, e.ExitStatus))
		case *eventstypes.TaskDelete:
			out = append(out, "delete "+e.ContainerID)
		case *eventstypes.TaskExecAdded:
			out = append(out, "exec-added "+e.ExecID)
		case *eventstypes.TaskExecStarted:
			out = append(out, "exec-started "+e.ExecID)
		case *eventstypes.TaskPaused:
			out = append(out, "paused "+e.ContainerID)
		case *eventstypes.TaskResumed:
			out = append(out, "resumed "+e.ContainerID)
		case *eventstypes.TaskOOM:
			out = append(out, "oom "+e.ContainerID)
		default:
			out = append(out, fmt.Sprintf("%T", e))
		}
	}
	return out
}

// waitFor waits until an event named name was recorded.
func (r *recorder) waitFor(t *testing.T, name string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		for _, n := range r.names() {
			if n == name {
				return
			}
		}
		select {
		case <-r.wake:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no event %q; events: %v", name, r.names())
		}
	}
}

type hookCall struct {
	path   string
	status specs.ContainerState
	pid    int
}

// harness is a Service with fakes all round, and what they saw.
type harness struct {
	t      *testing.T
	s      *Service
	ag     *agenttest.Agent
	ev     *recorder
	holder *fakeHolder

	mu        sync.Mutex
	sandboxes []*fakeSandbox
	hooks     []hookCall
	hookErr   map[string]error // by hook path
	mounts    []string
	unmounts  []string
	sbErr     error
	shutdowns int
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, ag: agenttest.New(), ev: newRecorder(), holder: &fakeHolder{pid: 4242}, hookErr: map[string]error{}}
	h.ag.Run = program
	run := func(ctx context.Context, hs []specs.Hook, st *specs.State, all bool) error {
		var errs []error
		for _, hk := range hs {
			h.mu.Lock()
			h.hooks = append(h.hooks, hookCall{path: hk.Path, status: st.Status, pid: st.Pid})
			err := h.hookErr[hk.Path]
			h.mu.Unlock()
			if err != nil {
				if !all {
					return err
				}
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	h.s = New(context.Background(), Env{
		Namespace: "testns",
		Events:    h.ev,
		NewSandbox: func(ctx context.Context, r SandboxRequest) (Sandbox, error) {
			h.mu.Lock()
			err := h.sbErr
			h.mu.Unlock()
			if err != nil {
				return nil, err
			}
			sb, err := newFakeSandbox(t, h.ag, r)
			if err != nil {
				return nil, err
			}
			h.mu.Lock()
			h.sandboxes = append(h.sandboxes, sb)
			h.mu.Unlock()
			return sb, nil
		},
		NewHolder: func(ctx context.Context, id string, spec *specs.Spec) (Holder, error) { return h.holder, nil },
		RunHooks: func(ctx context.Context, hs []specs.Hook, st *specs.State) error {
			return run(ctx, hs, st, false)
		},
		RunAllHooks: func(ctx context.Context, hs []specs.Hook, st *specs.State) error {
			return run(ctx, hs, st, true)
		},
		Mount: func(ms []mount.Mount, target string) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.mounts = append(h.mounts, target)
			return nil
		},
		Unmount: func(target string) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.unmounts = append(h.unmounts, target)
			return nil
		},
		Shutdown: func() {
			h.mu.Lock()
			h.shutdowns++
			h.mu.Unlock()
		},
	})
	t.Cleanup(func() {
		h.s.Close(context.Background())
		for _, sb := range h.sandboxes {
			sb.Destroy(context.Background())
		}
	})
	return h
}

func (h *harness) sandbox() *fakeSandbox {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.sandboxes) == 0 {
		h.t.Fatal("no sandbox was created")
	}
	return h.sandboxes[len(h.sandboxes)-1]
}

// bundle writes a bundle whose init runs args, with a rootfs directory and
// empty files for stdout and stderr, and returns its directory.
func (h *harness) bundle(args []string, edit func(*specs.Spec)) string {
	dir := h.t.TempDir()
	spec := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{Args: args, Cwd: "/"},
		Root:    &specs.Root{Path: "rootfs"},
	}
	if edit != nil {
		edit(spec)
	}
	data, err := json.Marshal(spec)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		h.t.Fatal(err)
	}
	for _, f := range []string{"stdout", "stderr"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			h.t.Fatal(err)
		}
	}
	return dir
}

func (h *harness) create(id string, args []string, edit func(*specs.Spec)) (*taskv3.CreateTaskRequest, error) {
	dir := h.bundle(args, edit)
	r := &taskv3.CreateTaskRequest{
		ID: id, Bundle: dir,
		Stdout: filepath.Join(dir, "stdout"), Stderr: filepath.Join(dir, "stderr"),
	}
	_, err := h.s.Create(context.Background(), r)
	return r, err
}

func (h *harness) mustCreate(id string, args []string, edit func(*specs.Spec)) *taskv3.CreateTaskRequest {
	h.t.Helper()
	r, err := h.create(id, args, edit)
	if err != nil {
		h.t.Fatalf("create %s: %v", id, err)
	}
	return r
}

func (h *harness) wait(id, execID string) *taskv3.WaitResponse {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := h.s.Wait(ctx, &taskv3.WaitRequest{ID: id, ExecID: execID})
	if err != nil {
		h.t.Fatalf("wait %s/%s: %v", id, execID, err)
	}
	return resp
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var _ = syscall.SIGKILL
