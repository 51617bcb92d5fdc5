package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/guest-agent/shares"
	"github.com/runxen/runxen/guest-agent/speccheck"
	"github.com/runxen/runxen/guest-agent/stdio"
)

// Defaults of Config.
const (
	DefaultBundleDir  = "/run/runxen/bundles"
	DefaultCgroupRoot = "/sys/fs/cgroup"
	DefaultProcRoot   = "/proc"
	// DefaultPowerOffGrace is how long a poweroff_on_exit guest waits, once
	// its init has exited, for the host to collect the exit status and
	// output; every collecting call restarts it.
	DefaultPowerOffGrace = 10 * time.Second
	// DefaultPowerOffDelay separates the reply that triggers a power-off
	// (Shutdown, or the call that collected the last output) from the
	// power-off, so the reply reaches the vchan ring first.
	DefaultPowerOffDelay = time.Second
	// DefaultCommandTimeout bounds one runtime command.
	DefaultCommandTimeout = 2 * time.Minute
	// cgroupParent is where containers' cgroups go, under CgroupRoot. The
	// spec's cgroupsPath names a place in the host's hierarchy and means
	// nothing in the guest, which holds one container.
	cgroupParent = "runxen"
	// maxEarlyExits bounds the exits of unknown PIDs kept while starts are
	// in progress (orphans of the container reaped meanwhile).
	maxEarlyExits = 1024
)

// Config configures a Service.
type Config struct {
	// Runtime runs the containers. Required.
	Runtime Runtime
	// Caps is what Runtime honours, for spec checks; zero means runc 1.1.
	Caps speccheck.Capabilities
	// BundleDir holds one bundle directory per container.
	BundleDir string
	// CgroupRoot is the cgroup v2 mount.
	CgroupRoot string
	// ProcRoot is where /proc is mounted (tests point it elsewhere).
	ProcRoot string
	// PowerOff ends the guest. It is called at most once, from its own
	// goroutine. Nil does nothing.
	PowerOff func(reason string)
	// OOM watches cgroups for OOM kills, calling the Service's OOM method;
	// nil disables OOM events.
	OOM OOMWatcher
	// AgentVersion is reported by Version; empty means from build info.
	AgentVersion string
	// Shares mounts dom0's shares and flushes the guest's file systems
	// (package shares); nil refuses MountShare and SyncFS.
	Shares Shares

	PowerOffGrace  time.Duration
	PowerOffDelay  time.Duration
	CommandTimeout time.Duration
}

// Shares is what the service needs of *shares.Mounter.
type Shares interface {
	Mount(ctx context.Context, q shares.Request) error
	Sync(ctx context.Context) error
}

// OOMWatcher is what the service needs of cgroup.OOMWatcher.
type OOMWatcher interface {
	Add(id, dir string) error
	Remove(id string)
}

// Service implements agent.AgentService.
type Service struct {
	cfg Config
	rt  Runtime

	mu           sync.Mutex
	containers   map[string]*container // guarded by mu
	byPid        map[int]*process      // running processes; guarded by mu
	starting     int                   // starts in progress; guarded by mu
	early        map[int]exitInfo      // exits of unknown PIDs while starting > 0; guarded by mu
	shuttingDown bool                  // guarded by mu

	oom oomQueue

	powerOnce sync.Once
}

var _ agent.AgentService = (*Service)(nil)

type exitInfo struct {
	status int
	at     time.Time
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Runtime == nil {
		return nil, fmt.Errorf("service: Config.Runtime is nil")
	}
	if cfg.Caps.Namespaces == nil {
		cfg.Caps = speccheck.Runc11()
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.BundleDir, DefaultBundleDir)
	def(&cfg.CgroupRoot, DefaultCgroupRoot)
	def(&cfg.ProcRoot, DefaultProcRoot)
	defDur := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defDur(&cfg.PowerOffGrace, DefaultPowerOffGrace)
	defDur(&cfg.PowerOffDelay, DefaultPowerOffDelay)
	defDur(&cfg.CommandTimeout, DefaultCommandTimeout)
	if err := os.MkdirAll(cfg.BundleDir, 0o700); err != nil {
		return nil, fmt.Errorf("service: bundle directory: %w", err)
	}
	return &Service{
		cfg:        cfg,
		rt:         cfg.Runtime,
		containers: map[string]*container{},
		byPid:      map[int]*process{},
		early:      map[int]exitInfo{},
		oom:        newOOMQueue(),
	}, nil
}

// container is one container of the guest.
type container struct {
	id     string
	bundle string
	cgroup string // absolute cgroup directory
	spec   *specs.Spec

	poweroffOnExit bool
	// activity is poked (without blocking) by every call that collects the
	// init's exit or output, restarting the power-off grace period.
	activity chan struct{}

	// lifecycle serialises runtime commands on the container: exclusive
	// for start, pause, resume, update and remove; shared for exec starts.
	lifecycle sync.RWMutex

	// Guarded by Service.mu:
	init     *process
	execs    map[string]*process
	paused   bool
	creating bool // CreateContainer in progress
	removing bool // RemoveContainer in progress or done
	removed  chan struct{}
}

type pstate int

const (
	pRegistered pstate = iota // exec registered, not started
	pCreated                  // init created, not started
	pRunning
	pExited
)

func (p pstate) String() string {
	return [...]string{"registered", "created", "running", "exited"}[p]
}

// process is a container's init or one exec.
type process struct {
	c      *container
	execID string         // "" for the init
	spec   *specs.Process // exec only
	ioc    IOConfig

	stdout, stderr *stdio.Stream // exist from registration

	started chan struct{} // closed once stdio is attached (or the process failed to start)

	// Guarded by Service.mu:
	state             pstate
	pid               int
	pio               ProcessIO
	stdin             *stdio.Input
	closeStdinPending bool
	status            int
	exitedAt          time.Time
	exited            chan struct{} // closed on exit
	waited            bool          // a WaitProcess returned the exit status
}

func newProcess(c *container, execID string, spec *specs.Process, ioc IOConfig, state pstate) *process {
	return &process{
		c: c, execID: execID, spec: spec, ioc: ioc,
		stdout:  stdio.NewStream(stdio.DefaultLimit),
		stderr:  stdio.NewStream(stdio.DefaultLimit),
		started: make(chan struct{}),
		state:   state,
		exited:  make(chan struct{}),
	}
}

func (p *process) name() string {
	if p.execID == "" {
		return fmt.Sprintf("init of container %q", p.c.id)
	}
	return fmt.Sprintf("exec %q of container %q", p.execID, p.c.id)
}

// status returns the container's status, derived from its init. Called
// with Service.mu held.
func (c *container) status() string {
	switch {
	case c.removing:
		return "being removed"
	case c.init.state == pExited:
		return "stopped"
	case c.paused:
		return "paused"
	case c.init.state == pCreated:
		return "created"
	default:
		return "running"
	}
}

func (c *container) poke() {
	select {
	case c.activity <- struct{}{}:
	default:
	}
}

// ProcessExited records the exit of a guest process: called by the reaper
// for every child that was not one of the agent's own commands.
func (s *Service) ProcessExited(pid, status int, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.byPid[pid]; p != nil {
		delete(s.byPid, pid)
		s.markExitedLocked(p, status, at)
		return
	}
	if s.starting > 0 && len(s.early) < maxEarlyExits {
		s.early[pid] = exitInfo{status, at}
	}
}

// beginStart opens the window in which exits of unknown PIDs are kept.
func (s *Service) beginStart() {
	s.mu.Lock()
	s.starting++
	s.mu.Unlock()
}

// endStart closes the window; with pid > 0 the process p now runs as pid
// in state st, unless it already exited, which is then recorded.
func (s *Service) endStart(p *process, pid int, st pstate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starting--
	if pid > 0 {
		p.pid = pid
		p.state = st
		if e, ok := s.early[pid]; ok {
			delete(s.early, pid)
			s.markExitedLocked(p, e.status, e.at)
		} else {
			s.byPid[pid] = p
		}
	}
	if s.starting == 0 {
		clear(s.early)
	}
}

// markExitedLocked records p's exit. Called with s.mu held.
func (s *Service) markExitedLocked(p *process, status int, at time.Time) {
	if p.state == pExited {
		return
	}
	p.state = pExited
	p.status = status
	p.exitedAt = at
	close(p.exited)
	log.L.WithField("pid", p.pid).WithField("status", status).Debugf("%s exited", p.name())
	if in := p.stdin; in != nil && !p.ioc.Terminal {
		// Nobody reads it any more; closing a pipe does not block. (A
		// terminal's input is the pty master, closed with its output.)
		go in.Close()
	}
	if p.execID == "" && p.c.poweroffOnExit {
		// Also when the exit comes from RemoveContainer: the host is done
		// with the one container this guest was for.
		go s.powerOffWhenCollected(p.c)
	}
}

// maxFinishedExecs bounds, per container, the execs kept after they
// exited and the host collected their status and output. The API has no
// call to delete an exec, and a container probed by exec every few seconds
// would otherwise grow without bound; the oldest collected ones go first.
const maxFinishedExecs = 128

// pruneExecsLocked forgets the oldest collected execs of c beyond
// maxFinishedExecs. Called with s.mu held.
func (s *Service) pruneExecsLocked(c *container) {
	var done []*process
	for _, p := range c.execs {
		if p.state == pExited && p.waited && p.stdout.Finished() && p.stderr.Finished() {
			done = append(done, p)
		}
	}
	if len(done) <= maxFinishedExecs {
		return
	}
	sort.Slice(done, func(i, j int) bool { return done[i].exitedAt.Before(done[j].exitedAt) })
	for _, p := range done[:len(done)-maxFinishedExecs] {
		delete(c.execs, p.execID)
	}
}

// lookup returns a container by ID.
func (s *Service) lookup(id string) (*container, error) {
	if err := checkID("container_id", id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.containers[id]
	if c == nil || c.creating || c.removing {
		return nil, fmt.Errorf("container %q: %w", id, errdefs.ErrNotFound)
	}
	return c, nil
}

// lookupProcess returns a container's init (execID "") or exec.
func (s *Service) lookupProcess(id, execID string) (*container, *process, error) {
	if err := checkExecID(execID); err != nil {
		return nil, nil, err
	}
	c, err := s.lookup(id)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if execID == "" {
		return c, c.init, nil
	}
	p := c.execs[execID]
	if p == nil {
		return nil, nil, fmt.Errorf("exec %q of container %q: %w", execID, id, errdefs.ErrNotFound)
	}
	return c, p, nil
}

// commandContext detaches a runtime command from the RPC (see the package
// doc) and bounds it.
func (s *Service) commandContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.cfg.CommandTimeout)
}

func (s *Service) cgroupDir(id string) string {
	return filepath.Join(s.cfg.CgroupRoot, cgroupParent, id)
}

// powerOff ends the guest once.
func (s *Service) powerOff(reason string) {
	s.powerOnce.Do(func() {
		log.L.Infof("powering off: %s", reason)
		if s.cfg.PowerOff != nil {
			go s.cfg.PowerOff(reason)
		}
	})
}
