package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient"
	"github.com/runxen/runxen/runtime/config"
	"github.com/runxen/runxen/runtime/iolimit"
	"github.com/runxen/runxen/runtime/ocispec"
	"github.com/runxen/runxen/runtime/shares"
	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/xen"
	"github.com/runxen/runxen/runtime/xen9pfs"
	"github.com/runxen/runxen/runtime/xenstore"
)

// Store is the xenstore connection a sandbox uses: for the agent's vchan,
// the shares' device nodes and the xl driver's death watch.
// *xenstore.Client is one.
type Store interface {
	vchan.Store
	IsIntroduced(ctx context.Context, domid uint32) (bool, error)
}

var _ Store = (*xenstore.Client)(nil)

// ShareSet is what a sandbox needs of a domain's shares; *shares.Set is
// one.
type ShareSet interface {
	Add(ctx context.Context, spec shares.Spec) error
	WaitConnected(ctx context.Context) error
	Sync(ctx context.Context) error
	SetLimits(tag string, l iolimit.Limits) error
	Close() error
}

var _ ShareSet = (*shares.Set)(nil)

// Config describes one guest (a "sandbox"). Later a pod puts several
// containers in one sandbox; the API keeps container IDs explicit for that.
type Config struct {
	// ID is the sandbox's ID (for now the container's).
	ID string
	// Namespace is the containerd namespace, for the domain name and logs.
	Namespace string
	// Settings are runxen's configuration (runtime/config).
	Settings config.Config
	// Toolstack creates and controls the domain; nil means the xl driver
	// of Settings.Xen.XL over Store.
	Toolstack xen.Toolstack

	// Store is the xenstore connection; nil means dialling xenstored (the
	// sandbox then closes it on Destroy).
	Store Store
	// Devices are the grant and event channel devices; nil means Xen's.
	Devices vchan.Devices
	// NewShares makes the domain's share set; nil means runtime/shares
	// over Store and Devices.
	NewShares func(ctx context.Context, domid xen.DomID) (ShareSet, error)
	// Mounter stages bind-mounted host files; nil means mount(2).
	Mounter Mounter
}

// ContainerConfig is the container a sandbox is created for.
type ContainerConfig struct {
	ID string
	// Bundle is the OCI bundle directory (config.json, rootfs).
	Bundle string
	// Spec is the bundle's spec as read (the host's view); the shim has
	// run its hooks.
	Spec *specs.Spec
	// RootfsDir is the root file system on the host, absolute: Docker's
	// spec.Root.Path, or <bundle>/rootfs where the shim mounted
	// containerd's rootfs mounts.
	RootfsDir string
	// Terminal: the init process gets a pseudo-terminal; Stdin: the caller
	// writes its stdin.
	Terminal, Stdin bool
}

// Sandbox is one running guest. Methods are safe for concurrent use.
type Sandbox struct {
	cfg    Config
	name   string
	logger *log.Entry

	// Set once Create returns; read-only after.
	ts     xen.Toolstack
	store  Store
	client *agentclient.Client

	// lifecycle serialises Update, Pause, Resume and Destroy, and guards
	// what Destroy takes down.
	lifecycle  sync.Mutex
	domid      xen.DomID // 0: no domain (yet, or any more)
	shares     ShareSet  // nil once closed
	stage      *stage
	ownStore   bool
	containers map[string]*container
	memoryMiB  int // the domain's, as last set
	destroyed  bool
}

// container is what a sandbox remembers of a container, for Update.
type container struct {
	annotations map[string]string
	tags        []string // its shares
}

// Create builds the guest and creates the container in it, not started
// (see the package doc for the steps). On error nothing is left behind;
// the error says which step failed, wraps the cause, and wraps
// errdefs.ErrInvalidArgument or ErrNotImplemented for spec fields runxen
// cannot honour (naming each) and errdefs.ErrFailedPrecondition for a
// host that cannot run guests (a missing kernel).
func Create(ctx context.Context, cfg Config, c ContainerConfig) (_ *Sandbox, err error) {
	if err := checkID("sandbox ID", cfg.ID); err != nil {
		return nil, err
	}
	if err := checkID("namespace", cfg.Namespace); err != nil {
		return nil, err
	}
	if err := checkID("container ID", c.ID); err != nil {
		return nil, err
	}
	if err := cfg.Settings.Validate(); err != nil {
		return nil, err
	}
	if cfg.Mounter == nil {
		cfg.Mounter = hostMounter{}
	}
	s := &Sandbox{
		cfg:        cfg,
		name:       DomainName(cfg.Namespace, cfg.ID),
		containers: make(map[string]*container),
	}
	s.logger = log.G(ctx).WithField("sandbox", cfg.ID).WithField("domain", s.name)
	st := cfg.Settings
	tr, err := ocispec.Translate(c.Spec, ocispec.Options{
		RootfsDir:  c.RootfsDir,
		StagingDir: filepath.Join(st.StateDir, cfg.Namespace, cfg.ID),
		Settings:   st,
	})
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	for _, n := range tr.Notes {
		s.logger.WithField("container", c.ID).Info(n)
	}
	if tr.Spec.Process != nil && tr.Spec.Process.Terminal != c.Terminal {
		return nil, fmt.Errorf("container %s: process.terminal is %v but the task asks for terminal %v: %w",
			c.ID, tr.Spec.Process.Terminal, c.Terminal, errdefs.ErrInvalidArgument)
	}
	for _, img := range []struct{ key, path string }{{"guest.kernel", st.Guest.Kernel}, {"guest.initramfs", st.Guest.Initramfs}} {
		if fi, err := os.Stat(img.path); err != nil || !fi.Mode().IsRegular() {
			if err == nil {
				err = errors.New("not a regular file")
			}
			return nil, fmt.Errorf("guest image %s (%s in the runxen config): %v: %w", img.path, img.key, err, errdefs.ErrFailedPrecondition)
		}
	}

	// From here on everything made is torn down on error.
	defer func() {
		if err == nil {
			return
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), st.Timeouts.Destroy.Duration)
		defer cancel()
		if derr := s.Destroy(dctx); derr != nil {
			s.logger.WithError(derr).Error("teardown after a failed create left something behind")
			err = fmt.Errorf("%w (and the teardown failed: %v)", err, derr)
		}
	}()

	s.stage = &stage{dir: filepath.Join(st.StateDir, cfg.Namespace, cfg.ID), mounter: cfg.Mounter}
	if err := s.stage.files(tr.Shares); err != nil {
		return nil, fmt.Errorf("container %s: %w", c.ID, err)
	}
	if err := s.connectHost(ctx); err != nil {
		return nil, err
	}
	if err := s.createDomain(ctx, tr.Shape); err != nil {
		return nil, err
	}
	if err := s.addShares(ctx, tr); err != nil {
		return nil, err
	}
	if err := s.ts.Unpause(ctx, s.domid); err != nil {
		return nil, fmt.Errorf("start domain %s: %w", s.name, err)
	}
	if err := s.boot(ctx); err != nil {
		return nil, err
	}
	if err := s.createContainer(ctx, c, tr); err != nil {
		return nil, err
	}
	return s, nil
}

// connectHost finds xenstore and the toolstack.
func (s *Sandbox) connectHost(ctx context.Context) error {
	s.store = s.cfg.Store
	if s.store == nil {
		xs, err := xenstore.Dial(ctx)
		if err != nil {
			return fmt.Errorf("connect to xenstored: %w", err)
		}
		s.store, s.ownStore = xs, true
	}
	s.ts = s.cfg.Toolstack
	if s.ts == nil {
		s.ts = xen.NewXL(xen.XLOptions{Path: s.cfg.Settings.Xen.XL, Store: s.store})
	}
	return nil
}

func (s *Sandbox) createDomain(ctx context.Context, sh ocispec.Shape) error {
	st := s.cfg.Settings
	dc := xen.DomainConfig{
		Name:        s.name,
		Kernel:      st.Guest.Kernel,
		Initramfs:   st.Guest.Initramfs,
		Cmdline:     st.Cmdline(),
		MemoryMiB:   sh.MemoryMiB,
		VCPUs:       sh.VCPUs,
		MaxVCPUs:    maxVCPUs(sh.VCPUs),
		CPUWeight:   sh.CPUWeight,
		CPUCap:      sh.CPUCap,
		CPUAffinity: sh.CPUAffinity,
	}
	start := time.Now()
	id, err := s.ts.Create(ctx, dc)
	if err != nil {
		return err // names the domain
	}
	s.lifecycle.Lock()
	s.domid = id
	s.memoryMiB = sh.MemoryMiB
	s.lifecycle.Unlock()
	s.logger = s.logger.WithField("domid", id)
	s.logger.WithField("memory_mib", sh.MemoryMiB).WithField("vcpus", sh.VCPUs).
		WithField("took", time.Since(start).Round(time.Millisecond)).Info("domain created, paused")
	return nil
}

// maxVCPUs is how many vCPUs a domain may grow to with `docker update`:
// as many as dom0 sees, at least what it starts with. Each possible vCPU
// costs the guest kernel a little memory, so not xen.MaxVCPUs.
func maxVCPUs(vcpus int) int {
	return max(vcpus, min(runtime.NumCPU(), xen.MaxVCPUs))
}

func (s *Sandbox) addShares(ctx context.Context, tr *ocispec.Result) error {
	newShares := s.cfg.NewShares
	if newShares == nil {
		newShares = s.defaultShares
	}
	set, err := newShares(ctx, s.domid)
	if err != nil {
		return fmt.Errorf("shares of domain %s: %w", s.name, err)
	}
	s.lifecycle.Lock()
	s.shares = set
	s.lifecycle.Unlock()
	for _, sh := range tr.Shares {
		if err := set.Add(ctx, shares.Spec{Tag: sh.Tag, Dir: sh.HostDir, ReadOnly: sh.ReadOnly, Limits: tr.IOLimits}); err != nil {
			return fmt.Errorf("share %s: %w", sh.HostDir, err)
		}
	}
	return nil
}

func (s *Sandbox) defaultShares(ctx context.Context, domid xen.DomID) (ShareSet, error) {
	return shares.New(ctx, shares.Config{
		Store:          s.store,
		Devices:        s.cfg.Devices,
		Domain:         uint32(domid),
		DomainExited:   xen9pfs.ToolstackExited(s.ts),
		ConnectTimeout: s.cfg.Settings.Timeouts.Boot.Duration,
	})
}

// boot waits, within timeouts.boot, for the guest to connect its shares
// and its agent to answer.
func (s *Sandbox) boot(ctx context.Context) error {
	boot := s.cfg.Settings.Timeouts.Boot.Duration
	bctx, cancel := context.WithTimeout(ctx, boot)
	defer cancel()
	start := time.Now()
	if err := s.shares.WaitConnected(bctx); err != nil {
		return fmt.Errorf("guest %s did not boot (timeouts.boot %s): %w", s.name, boot, err)
	}
	sharesAt := time.Since(start)
	client, err := agentclient.Connect(bctx, agentclient.Config{
		Domain:      s.domid,
		Store:       s.store,
		Devices:     s.cfg.Devices,
		Waiter:      s.ts,
		CallTimeout: s.cfg.Settings.Timeouts.AgentCall.Duration,
	})
	if err != nil {
		return fmt.Errorf("guest %s did not boot (timeouts.boot %s): %w", s.name, boot, err)
	}
	s.lifecycle.Lock()
	s.client = client
	s.lifecycle.Unlock()
	v := client.Version()
	s.logger.WithField("shares_connected", sharesAt.Round(time.Millisecond)).
		WithField("agent_answered", time.Since(start).Round(time.Millisecond)).
		WithField("agent", v.AgentVersion).WithField("kernel", v.KernelRelease).Info("guest booted")
	return nil
}

// cacheModes maps the configuration's cache modes to the agent's.
var cacheModes = map[string]agent.ShareCache{
	"none":  agent.ShareCache_SHARE_CACHE_NONE,
	"mmap":  agent.ShareCache_SHARE_CACHE_MMAP,
	"loose": agent.ShareCache_SHARE_CACHE_LOOSE,
}

func (s *Sandbox) createContainer(ctx context.Context, c ContainerConfig, tr *ocispec.Result) error {
	svc := s.client.Agent()
	st := s.cfg.Settings.Shares
	var tags []string
	for _, sh := range tr.Shares {
		req := &agent.MountShareRequest{
			Tag: sh.Tag, Target: sh.GuestPath, ReadOnly: sh.ReadOnly,
			Msize: uint32(st.Msize), Cache: cacheModes[st.Cache],
		}
		if _, err := svc.MountShare(ctx, req); err != nil {
			return fmt.Errorf("mount share %q (%s) in the guest: %w", sh.Tag, sh.HostDir, err)
		}
		tags = append(tags, sh.Tag)
	}
	spec, err := json.Marshal(tr.Spec)
	if err != nil {
		return fmt.Errorf("container %s: encode spec: %w", c.ID, err)
	}
	resp, err := svc.CreateContainer(ctx, &agent.CreateContainerRequest{
		ContainerId: c.ID, Spec: spec, Terminal: c.Terminal, Stdin: c.Stdin,
	})
	if err != nil {
		return fmt.Errorf("create container %s in the guest: %w", c.ID, err)
	}
	s.lifecycle.Lock()
	s.containers[c.ID] = &container{annotations: tr.Spec.Annotations, tags: tags}
	s.lifecycle.Unlock()
	s.logger.WithField("container", c.ID).WithField("guest_pid", resp.GetPid()).Info("container created in the guest")
	return nil
}

// Agent is the guest agent's API.
func (s *Sandbox) Agent() agent.AgentService { return s.client.Agent() }

// DomID is the guest's domain ID.
func (s *Sandbox) DomID() xen.DomID {
	s.lifecycle.Lock()
	defer s.lifecycle.Unlock()
	return s.domid
}

// DomainName is the guest's domain name.
func (s *Sandbox) DomainName() string { return s.name }

// Done is closed when the guest or its agent is gone (or Destroy ran).
func (s *Sandbox) Done() <-chan struct{} { return s.client.Done() }

// Err says why Done was closed: an error wrapping
// agentclient.ErrDomainGone (how the domain died), ErrAgentClosed,
// ErrProtocol or ErrClosed (Destroy). Nil while the guest runs.
func (s *Sandbox) Err() error { return s.client.Err() }
