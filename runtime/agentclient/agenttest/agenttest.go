// Package agenttest is an in-process stand-in for the guest agent, for unit
// tests of dom0 code that talks to it. It implements agent.AgentService
// and keeps real state: containers with their OCI specs, processes with
// stdio streams, exit statuses, signals, terminal sizes, paused flags.
// What a process does is a Go function the test supplies (a Program); it
// reads stdin, writes stdout and stderr, sees signals and resizes, and
// returns its exit status.
//
// Serve it over any net.Listener (a vchan.Listener, net.Pipe via a small
// listener) with ttrpc, or call it directly.
package agenttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

// Program is what a fake process runs. It returns the exit status (128+n
// for death by signal n, as a shell reports it).
type Program func(p *Process) uint32

// Process is a fake process, as its Program sees it.
type Process struct {
	Args     []string
	Terminal bool
	Stdin    *Stream // EOF once the caller closed stdin (or never had it)
	Stdout   *Stream
	Stderr   *Stream // unused with a terminal, as with a real pty
	Signals  chan syscall.Signal

	mu     sync.Mutex
	width  uint32
	height uint32
	resize chan struct{} // closed and replaced on every resize
}

// Size is the terminal size the caller set last.
func (p *Process) Size() (width, height uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.width, p.height
}

// Resized is closed on the next resize.
func (p *Process) Resized() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resize
}

// Agent is the fake agent. The zero value is not usable; call New.
type Agent struct {
	// APIVersion is what Version reports; New sets agent.APIVersion.
	APIVersion uint32
	// Run is the program of every process; New sets one that exits 0.
	Run Program
	// OnShutdown runs when Shutdown is called, after it answered.
	OnShutdown func()

	mu         sync.Mutex
	containers map[string]*container
	calls      []string
	mounts     map[string]*agent.MountShareRequest // by tag
}

type container struct {
	spec   specs.Spec
	paused bool
	procs  map[string]*proc // by exec ID; "" is init
}

type proc struct {
	p       *Process
	stdin   bool
	started bool
	pid     uint32
	exited  chan struct{}
	status  uint32
	at      time.Time
}

var _ agent.AgentService = (*Agent)(nil)

// New returns a fake agent whose processes exit 0 at once.
func New() *Agent {
	return &Agent{
		APIVersion: agent.APIVersion,
		Run:        func(*Process) uint32 { return 0 },
		containers: make(map[string]*container),
	}
}

// Serve answers ttrpc on l until l fails or ctx ends.
func (a *Agent) Serve(ctx context.Context, l net.Listener) error {
	srv, err := ttrpc.NewServer()
	if err != nil {
		return err
	}
	agent.RegisterAgentService(srv, a)
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	err = srv.Serve(ctx, l)
	if errors.Is(err, ttrpc.ErrServerClosed) {
		return nil
	}
	return err
}

// Calls lists the calls made so far, by method name.
func (a *Agent) Calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

// Spec returns the spec a container was created with.
func (a *Agent) Spec(id string) (specs.Spec, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.containers[id]
	if !ok {
		return specs.Spec{}, false
	}
	return c.spec, true
}

func (a *Agent) record(m string) {
	a.mu.Lock()
	a.calls = append(a.calls, m)
	a.mu.Unlock()
}

// errNotFound mimics the agent's answer for an unknown container or exec.
func errNotFound(what string) error { return fmt.Errorf("%s: not found", what) }

func (a *Agent) lookup(cid, eid string) (*container, *proc, error) {
	c, ok := a.containers[cid]
	if !ok {
		return nil, nil, errNotFound("container " + cid)
	}
	p, ok := c.procs[eid]
	if !ok {
		return c, nil, errNotFound("exec " + eid)
	}
	return c, p, nil
}

func newProc(args []string, terminal, stdin bool) *proc {
	p := &proc{
		p: &Process{
			Args:     args,
			Terminal: terminal,
			Stdin:    NewStream(),
			Stdout:   NewStream(),
			Stderr:   NewStream(),
			Signals:  make(chan syscall.Signal, 16),
			resize:   make(chan struct{}),
		},
		stdin:  stdin,
		exited: make(chan struct{}),
	}
	if !stdin {
		p.p.Stdin.Close()
	}
	if terminal {
		p.p.Stderr.Close()
	}
	return p
}

func (a *Agent) Version(ctx context.Context, _ *emptypb.Empty) (*agent.VersionResponse, error) {
	a.record("Version")
	return &agent.VersionResponse{AgentVersion: "agenttest", ApiVersion: a.APIVersion, KernelRelease: "fake"}, nil
}

func (a *Agent) CreateContainer(ctx context.Context, r *agent.CreateContainerRequest) (*agent.CreateContainerResponse, error) {
	a.record("CreateContainer")
	var spec specs.Spec
	if err := json.Unmarshal(r.Spec, &spec); err != nil {
		return nil, fmt.Errorf("bad spec: %w", err)
	}
	if spec.Process == nil || len(spec.Process.Args) == 0 {
		return nil, errors.New("spec has no process args")
	}
	if spec.Process.Terminal != r.Terminal {
		return nil, errors.New("spec and request disagree about the terminal")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.containers[r.ContainerId]; ok {
		return nil, fmt.Errorf("container %s already exists", r.ContainerId)
	}
	p := newProc(spec.Process.Args, r.Terminal, r.Stdin)
	p.pid = 1
	a.containers[r.ContainerId] = &container{spec: spec, procs: map[string]*proc{"": p}}
	return &agent.CreateContainerResponse{Pid: 1}, nil
}

func (a *Agent) start(cid, eid string) (*proc, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, p, err := a.lookup(cid, eid)
	if err != nil {
		return nil, err
	}
	if p.started {
		return nil, fmt.Errorf("process %q of %s already started", eid, cid)
	}
	p.started = true
	go func() {
		status := a.Run(p.p)
		p.p.Stdout.Close()
		p.p.Stderr.Close()
		a.mu.Lock()
		p.status, p.at = status, time.Now()
		a.mu.Unlock()
		close(p.exited)
	}()
	return p, nil
}

func (a *Agent) StartContainer(ctx context.Context, r *agent.StartContainerRequest) (*emptypb.Empty, error) {
	a.record("StartContainer")
	_, err := a.start(r.ContainerId, "")
	return &emptypb.Empty{}, err
}

func (a *Agent) RemoveContainer(ctx context.Context, r *agent.RemoveContainerRequest) (*emptypb.Empty, error) {
	a.record("RemoveContainer")
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.containers[r.ContainerId]
	if !ok {
		return nil, errNotFound("container " + r.ContainerId)
	}
	for _, p := range c.procs {
		select {
		case <-p.exited:
		default:
			if p.started {
				return nil, fmt.Errorf("container %s has running processes", r.ContainerId)
			}
		}
	}
	delete(a.containers, r.ContainerId)
	return &emptypb.Empty{}, nil
}

func (a *Agent) ExecProcess(ctx context.Context, r *agent.ExecProcessRequest) (*agent.ExecProcessResponse, error) {
	a.record("ExecProcess")
	var ps specs.Process
	if err := json.Unmarshal(r.Process, &ps); err != nil {
		return nil, fmt.Errorf("bad process: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.containers[r.ContainerId]
	if !ok {
		return nil, errNotFound("container " + r.ContainerId)
	}
	if r.ExecId == "" {
		return nil, errors.New("exec ID is empty")
	}
	if _, ok := c.procs[r.ExecId]; ok {
		return nil, fmt.Errorf("exec %s already exists", r.ExecId)
	}
	p := newProc(ps.Args, r.Terminal, r.Stdin)
	p.pid = uint32(len(c.procs) + 1)
	c.procs[r.ExecId] = p
	return &agent.ExecProcessResponse{}, nil
}

func (a *Agent) StartProcess(ctx context.Context, r *agent.ProcessRequest) (*agent.StartProcessResponse, error) {
	a.record("StartProcess")
	p, err := a.start(r.ContainerId, r.ExecId)
	if err != nil {
		return nil, err
	}
	return &agent.StartProcessResponse{Pid: p.pid}, nil
}

func (a *Agent) SignalProcess(ctx context.Context, r *agent.SignalProcessRequest) (*emptypb.Empty, error) {
	a.record("SignalProcess")
	a.mu.Lock()
	_, p, err := a.lookup(r.ContainerId, r.ExecId)
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case p.p.Signals <- syscall.Signal(r.Signal):
	default:
		return nil, errors.New("signal queue full")
	}
	return &emptypb.Empty{}, nil
}

func (a *Agent) WaitProcess(ctx context.Context, r *agent.ProcessRequest) (*agent.WaitProcessResponse, error) {
	a.record("WaitProcess")
	a.mu.Lock()
	_, p, err := a.lookup(r.ContainerId, r.ExecId)
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return &agent.WaitProcessResponse{ExitStatus: p.status, ExitedAt: timestamppb.New(p.at)}, nil
}

func (a *Agent) ResizePty(ctx context.Context, r *agent.ResizePtyRequest) (*emptypb.Empty, error) {
	a.record("ResizePty")
	a.mu.Lock()
	_, p, err := a.lookup(r.ContainerId, r.ExecId)
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if !p.p.Terminal {
		return nil, errors.New("process has no terminal")
	}
	p.p.mu.Lock()
	p.p.width, p.p.height = r.Width, r.Height
	close(p.p.resize)
	p.p.resize = make(chan struct{})
	p.p.mu.Unlock()
	return &emptypb.Empty{}, nil
}

func (a *Agent) WriteStdin(ctx context.Context, r *agent.WriteStdinRequest) (*agent.WriteStdinResponse, error) {
	a.record("WriteStdin")
	a.mu.Lock()
	_, p, err := a.lookup(r.ContainerId, r.ExecId)
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if !p.stdin {
		return nil, errors.New("process has no stdin")
	}
	if _, err := p.p.Stdin.Write(r.Data); err != nil {
		return nil, err
	}
	return &agent.WriteStdinResponse{Len: uint32(len(r.Data))}, nil
}

func (a *Agent) CloseStdin(ctx context.Context, r *agent.ProcessRequest) (*emptypb.Empty, error) {
	a.record("CloseStdin")
	a.mu.Lock()
	_, p, err := a.lookup(r.ContainerId, r.ExecId)
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	p.p.Stdin.Close()
	return &emptypb.Empty{}, nil
}

func (a *Agent) read(ctx context.Context, r *agent.ReadStreamRequest, stderr bool) (*agent.ReadStreamResponse, error) {
	a.mu.Lock()
	_, p, err := a.lookup(r.ContainerId, r.ExecId)
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s := p.p.Stdout
	if stderr {
		s = p.p.Stderr
	}
	max := int(r.MaxLen)
	if max <= 0 || max > 1<<20 {
		max = 1 << 20
	}
	data, eof, err := s.read(ctx, max)
	if err != nil {
		return nil, err
	}
	return &agent.ReadStreamResponse{Data: data, Eof: eof}, nil
}

func (a *Agent) ReadStdout(ctx context.Context, r *agent.ReadStreamRequest) (*agent.ReadStreamResponse, error) {
	a.record("ReadStdout")
	return a.read(ctx, r, false)
}

func (a *Agent) ReadStderr(ctx context.Context, r *agent.ReadStreamRequest) (*agent.ReadStreamResponse, error) {
	a.record("ReadStderr")
	return a.read(ctx, r, true)
}

func (a *Agent) ListProcesses(ctx context.Context, r *agent.ContainerRequest) (*agent.ListProcessesResponse, error) {
	a.record("ListProcesses")
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.containers[r.ContainerId]
	if !ok {
		return nil, errNotFound("container " + r.ContainerId)
	}
	resp := &agent.ListProcessesResponse{}
	for eid, p := range c.procs {
		select {
		case <-p.exited:
			continue
		default:
		}
		if p.started {
			resp.Processes = append(resp.Processes, &agent.ProcessInfo{Pid: p.pid, ExecId: eid, Command: fmt.Sprint(p.p.Args)})
		}
	}
	return resp, nil
}

func (a *Agent) Stats(ctx context.Context, r *agent.ContainerRequest) (*agent.StatsResponse, error) {
	a.record("Stats")
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.containers[r.ContainerId]; !ok {
		return nil, errNotFound("container " + r.ContainerId)
	}
	return &agent.StatsResponse{CpuUsageUsec: 1000, MemoryUsage: 1 << 20, PidsCurrent: 1}, nil
}

func (a *Agent) UpdateResources(ctx context.Context, r *agent.UpdateResourcesRequest) (*emptypb.Empty, error) {
	a.record("UpdateResources")
	var res specs.LinuxResources
	if err := json.Unmarshal(r.Resources, &res); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func (a *Agent) setPaused(id string, paused bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.containers[id]
	if !ok {
		return errNotFound("container " + id)
	}
	c.paused = paused
	return nil
}

// Paused reports whether a container is paused.
func (a *Agent) Paused(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.containers[id]
	return ok && c.paused
}

func (a *Agent) PauseContainer(ctx context.Context, r *agent.ContainerRequest) (*emptypb.Empty, error) {
	a.record("PauseContainer")
	return &emptypb.Empty{}, a.setPaused(r.ContainerId, true)
}

func (a *Agent) ResumeContainer(ctx context.Context, r *agent.ContainerRequest) (*emptypb.Empty, error) {
	a.record("ResumeContainer")
	return &emptypb.Empty{}, a.setPaused(r.ContainerId, false)
}

func (a *Agent) GetOOMEvent(ctx context.Context, _ *emptypb.Empty) (*agent.OOMEvent, error) {
	a.record("GetOOMEvent")
	<-ctx.Done()
	return nil, ctx.Err()
}

func (a *Agent) Shutdown(ctx context.Context, _ *emptypb.Empty) (*emptypb.Empty, error) {
	a.record("Shutdown")
	if a.OnShutdown != nil {
		go func() {
			time.Sleep(10 * time.Millisecond) // after the reply, as the agent does
			a.OnShutdown()
		}()
	}
	return &emptypb.Empty{}, nil
}
