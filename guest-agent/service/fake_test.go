package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// fakeRuntime is a Runtime that keeps real state and runs Go "programs" in
// place of container processes, with real pipes and pseudo-terminals, so
// the service's stdio, exit and signal handling are exercised for real.
// Exits are reported to the service's ProcessExited after the process's
// stdio closed, as the kernel and the reaper do.
//
// Programs (process.args[0]):
//
//	echo ARGS...     print ARGS, exit 0
//	cat              copy stdin (or the terminal) to stdout until EOF, exit 0
//	emit N           write N bytes of a known pattern, exit 0
//	stderr MSG       print MSG on stderr, exit 0
//	sleep            wait for a signal; SIGUSR1 prints "usr1", others exit 128+sig
//	ignore-term      as sleep, but SIGTERM is ignored
//	exit N           exit N
//	exit-early N     exit N before the runtime command returns (the PID race)
type fakeRuntime struct {
	svc        *Service
	cgroupRoot string
	procRoot   string

	mu         sync.Mutex
	nextPid    int
	containers map[string]*fakeContainer
	byPid      map[int]*fakeProc
	fail       map[string]error // op -> error to return
	calls      []string
	updates    []specs.LinuxResources
}

type fakeContainer struct {
	id     string
	spec   specs.Spec
	state  string // created, running, paused, stopped
	init   *fakeProc
	procs  map[int]*fakeProc
	cgroup string
}

type fakeProc struct {
	rt      *fakeRuntime
	c       *fakeContainer
	pid     int
	args    []string
	stdin   io.ReadCloser
	stdout  io.WriteCloser
	stderr  io.WriteCloser
	sig     chan syscall.Signal
	done    chan struct{}
	exitOne sync.Once
	written atomic.Int64
}

func newFakeRuntime(cgroupRoot, procRoot string) *fakeRuntime {
	return &fakeRuntime{
		cgroupRoot: cgroupRoot, procRoot: procRoot, nextPid: 100,
		containers: map[string]*fakeContainer{}, byPid: map[int]*fakeProc{}, fail: map[string]error{},
	}
}

func (r *fakeRuntime) record(op string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, op)
	return r.fail[op]
}

func (r *fakeRuntime) setFail(op string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail[op] = err
}

func (r *fakeRuntime) Create(ctx context.Context, id, bundle string, ioc IOConfig) (int, ProcessIO, error) {
	if err := r.record("create"); err != nil {
		return 0, ProcessIO{}, err
	}
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return 0, ProcessIO{}, fmt.Errorf("fake runc: %w", err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return 0, ProcessIO{}, fmt.Errorf("fake runc: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.containers[id] != nil {
		return 0, ProcessIO{}, fmt.Errorf("fake runc: container %s exists", id)
	}
	c := &fakeContainer{id: id, spec: spec, state: "created", procs: map[int]*fakeProc{},
		cgroup: filepath.Join(r.cgroupRoot, spec.Linux.CgroupsPath)}
	if err := os.MkdirAll(c.cgroup, 0o755); err != nil {
		return 0, ProcessIO{}, err
	}
	for name, content := range map[string]string{
		"cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n", "memory.events": "oom 0\noom_kill 0\n",
		"memory.current": "0\n", "memory.max": "max\n",
	} {
		if err := os.WriteFile(filepath.Join(c.cgroup, name), []byte(content), 0o644); err != nil {
			return 0, ProcessIO{}, err
		}
	}
	p, pio, err := r.newProcLocked(c, spec.Process.Args, ioc)
	if err != nil {
		return 0, ProcessIO{}, err
	}
	c.init = p
	r.containers[id] = c
	return p.pid, pio, nil
}

// newProcLocked allocates a PID and stdio for a process of c.
func (r *fakeRuntime) newProcLocked(c *fakeContainer, args []string, ioc IOConfig) (*fakeProc, ProcessIO, error) {
	r.nextPid++
	p := &fakeProc{rt: r, c: c, pid: r.nextPid, args: args, sig: make(chan syscall.Signal, 16), done: make(chan struct{})}
	var pio ProcessIO
	if ioc.Terminal {
		master, slave, err := openPty()
		if err != nil {
			return nil, ProcessIO{}, err
		}
		pio.Console = master
		p.stdout, p.stderr = slave, nopCloser{slave}
		if ioc.Stdin {
			p.stdin = io.NopCloser(slave)
		}
	} else {
		or, ow, _ := os.Pipe()
		er, ew, _ := os.Pipe()
		pio.Stdout, pio.Stderr = or, er
		p.stdout, p.stderr = ow, ew
		if ioc.Stdin {
			ir, iw, _ := os.Pipe()
			pio.Stdin, p.stdin = iw, ir
		}
	}
	if p.stdin == nil {
		p.stdin = io.NopCloser(strings.NewReader("")) // /dev/null
	}
	c.procs[p.pid] = p
	r.byPid[p.pid] = p
	r.writeProcsLocked(c)
	dir := filepath.Join(r.procRoot, strconv.Itoa(p.pid))
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "cmdline"), []byte(strings.Join(args, "\x00")+"\x00"), 0o644)
	return p, pio, nil
}

func (r *fakeRuntime) writeProcsLocked(c *fakeContainer) {
	var b strings.Builder
	for pid := range c.procs {
		fmt.Fprintf(&b, "%d\n", pid)
	}
	os.WriteFile(filepath.Join(c.cgroup, "cgroup.procs"), []byte(b.String()), 0o644)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func (r *fakeRuntime) Start(ctx context.Context, id string) error {
	if err := r.record("start"); err != nil {
		return err
	}
	r.mu.Lock()
	c := r.containers[id]
	if c == nil || c.state != "created" {
		r.mu.Unlock()
		return fmt.Errorf("fake runc: cannot start %s", id)
	}
	c.state = "running"
	r.mu.Unlock()
	go c.init.run()
	return nil
}

func (r *fakeRuntime) Exec(ctx context.Context, id, execID string, proc *specs.Process, ioc IOConfig) (int, ProcessIO, error) {
	if err := r.record("exec"); err != nil {
		return 0, ProcessIO{}, err
	}
	r.mu.Lock()
	c := r.containers[id]
	if c == nil || c.state != "running" && c.state != "created" {
		r.mu.Unlock()
		return 0, ProcessIO{}, fmt.Errorf("fake runc: cannot exec in %s", id)
	}
	p, pio, err := r.newProcLocked(c, proc.Args, ioc)
	r.mu.Unlock()
	if err != nil {
		return 0, ProcessIO{}, err
	}
	if p.args[0] == "exit-early" {
		p.run() // exits, and is reaped, before runc exec returns
	} else {
		go p.run()
	}
	return p.pid, pio, nil
}

func (r *fakeRuntime) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	if err := r.record("kill"); err != nil {
		return err
	}
	r.mu.Lock()
	c := r.containers[id]
	if c == nil || c.state == "stopped" {
		r.mu.Unlock()
		return fmt.Errorf("fake runc: container not running")
	}
	targets := []*fakeProc{c.init}
	if all {
		targets = targets[:0]
		for _, p := range c.procs {
			targets = append(targets, p)
		}
	}
	created := c.state == "created"
	r.mu.Unlock()
	for _, p := range targets {
		if created && p == c.init {
			go p.exit(128 + int(sig)) // runc init dies of the signal
			continue
		}
		p.signal(sig)
	}
	return nil
}

func (r *fakeRuntime) Signal(pid int, sig syscall.Signal) error {
	r.record("signal")
	r.mu.Lock()
	p := r.byPid[pid]
	r.mu.Unlock()
	if p == nil {
		return fmt.Errorf("pid %d: %w", pid, errdefs.ErrNotFound)
	}
	p.signal(sig)
	return nil
}

func (r *fakeRuntime) Delete(ctx context.Context, id string) error {
	if err := r.record("delete"); err != nil {
		return err
	}
	r.mu.Lock()
	c := r.containers[id]
	if c == nil {
		r.mu.Unlock()
		return fmt.Errorf("fake runc: container %s does not exist", id)
	}
	var live []*fakeProc
	for _, p := range c.procs {
		live = append(live, p)
	}
	created := c.state == "created"
	r.mu.Unlock()
	for _, p := range live {
		if created && p == c.init {
			go p.exit(128 + 9)
		} else {
			p.signal(syscall.SIGKILL)
		}
		<-p.done
	}
	r.mu.Lock()
	delete(r.containers, id)
	r.mu.Unlock()
	return os.RemoveAll(c.cgroup)
}

func (r *fakeRuntime) Pause(ctx context.Context, id string) error {
	return r.setState("pause", id, "running", "paused")
}
func (r *fakeRuntime) Resume(ctx context.Context, id string) error {
	return r.setState("resume", id, "paused", "running")
}

func (r *fakeRuntime) setState(op, id, from, to string) error {
	if err := r.record(op); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.containers[id]
	if c == nil || c.state != from {
		return fmt.Errorf("fake runc: cannot %s %s", op, id)
	}
	c.state = to
	return nil
}

func (r *fakeRuntime) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	if err := r.record("update"); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.updates = append(r.updates, *res)
	return nil
}

func (p *fakeProc) signal(sig syscall.Signal) {
	if sig == syscall.SIGKILL {
		go p.exit(128 + int(sig)) // whatever the program is doing
		return
	}
	select {
	case <-p.done:
	case p.sig <- sig:
	default:
	}
}

// run executes the process's program and reports its exit.
func (p *fakeProc) run() {
	p.exit(p.program())
}

func (p *fakeProc) program() int {
	arg := func(i int) string {
		if i < len(p.args) {
			return p.args[i]
		}
		return ""
	}
	switch arg(0) {
	case "echo":
		fmt.Fprintln(p.stdout, strings.Join(p.args[1:], " "))
		return 0
	case "cat":
		io.Copy(p.stdout, p.stdin)
		return 0
	case "emit":
		n, _ := strconv.Atoi(arg(1))
		buf := make([]byte, 4096)
		for off := 0; off < n; off += len(buf) {
			chunk := buf[:min(len(buf), n-off)]
			for i := range chunk {
				chunk[i] = pattern(off + i)
			}
			k, err := p.stdout.Write(chunk)
			p.written.Add(int64(k))
			if err != nil {
				return 1
			}
		}
		return 0
	case "stderr":
		fmt.Fprintln(p.stderr, arg(1))
		return 0
	case "exit", "exit-early":
		n, _ := strconv.Atoi(arg(1))
		return n
	case "sleep", "ignore-term":
		for sig := range p.sig {
			switch {
			case sig == syscall.SIGUSR1:
				fmt.Fprintln(p.stdout, "usr1")
			case sig == syscall.SIGTERM && arg(0) == "ignore-term":
			default:
				return 128 + int(sig)
			}
		}
	}
	fmt.Fprintf(p.stderr, "fake: unknown program %q\n", arg(0))
	return 127
}

func pattern(i int) byte { return byte(i*7 + i/4096) }

// exit closes the process's stdio, as the kernel does at exit, then
// reports the exit as the reaper would; the init's exit kills the rest of
// its PID namespace.
func (p *fakeProc) exit(status int) {
	p.exitOne.Do(func() {
		p.stdout.Close()
		p.stderr.Close()
		p.stdin.Close()
		r := p.rt
		r.mu.Lock()
		delete(p.c.procs, p.pid)
		delete(r.byPid, p.pid)
		r.writeProcsLocked(p.c)
		var rest []*fakeProc
		if p == p.c.init {
			p.c.state = "stopped"
			for _, q := range p.c.procs {
				rest = append(rest, q)
			}
		}
		r.mu.Unlock()
		close(p.done)
		r.svc.ProcessExited(p.pid, status, time.Now())
		for _, q := range rest {
			q.signal(syscall.SIGKILL)
		}
	})
}

// openPty opens a pseudo-terminal pair; the master is non-blocking, as
// Runtime requires.
func openPty() (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("ptsname: %w", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	return os.NewFile(uintptr(fd), "ptmx"), s, nil
}

var errInjected = errors.New("injected failure")
