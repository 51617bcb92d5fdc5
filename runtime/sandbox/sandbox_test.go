package sandbox

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient"
	"github.com/runxen/runxen/runtime/agentclient/agenttest"
	"github.com/runxen/runxen/runtime/config"
	"github.com/runxen/runxen/runtime/xen"
)

func TestCreateStartDestroy(t *testing.T) {
	e := newEnv(t)
	var fake *agenttest.Agent
	e.ts.agent = func() agent.AgentService {
		fake = agenttest.New()
		fake.Run = func(p *agenttest.Process) uint32 {
			p.Stdout.Write([]byte("hello from " + strings.Join(p.Args, " ") + "\n"))
			return 3
		}
		return fake
	}
	ctx := ctxT(t)
	cc := e.container("c1", "echo", "hi")
	mem := int64(256 << 20)
	cc.Spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &mem}
	s, err := Create(ctx, e.config("c1"), cc)
	if err != nil {
		t.Fatal(err)
	}

	// The domain: named, sized, running, with the configured images.
	if s.DomainName() != "runxen-moby-c1" {
		t.Errorf("DomainName = %q", s.DomainName())
	}
	info, err := e.ts.Info(ctx, s.DomID())
	if err != nil || info.State != xen.StateRunning || info.Name != "runxen-moby-c1" ||
		info.MemoryMiB != 256+128+11 || info.VCPUs != 1 {
		t.Fatalf("domain: %+v, %v", info, err)
	}
	dc, _ := e.ts.Config(s.DomID())
	if dc.Kernel != e.settings.Guest.Kernel || dc.Initramfs != e.settings.Guest.Initramfs || dc.Cmdline != "console=hvc0 runxen.log=info" {
		t.Errorf("domain config %+v", dc)
	}
	if got := e.calls("create"); len(got) != 1 {
		t.Errorf("creates: %v", got)
	}

	// The shares: added while paused, then connected; staged file bound.
	set := e.sets[0]
	if got := strings.Join(set.tags(), ","); got != "rootfs,vol0,files-rw" {
		t.Errorf("share tags %s", got)
	}
	stagedHosts := filepath.Join(e.settings.StateDir, "moby", "c1", "files-rw", "0")
	if m := e.mounter.mounts(); len(m) != 1 || m[stagedHosts] != filepath.Join(e.dir, "containers/c1/hosts") {
		t.Errorf("staged mounts %v", m)
	}
	if set.specs[2].Dir != filepath.Dir(stagedHosts) || set.specs[0].Dir != cc.RootfsDir {
		t.Errorf("share dirs %+v", set.specs)
	}

	// The guest: every share mounted where the spec reads it, the
	// container created (not started) with the translated spec.
	mounts := fake.Mounts()
	for _, tag := range []string{"rootfs", "vol0", "files-rw"} {
		m := mounts[tag]
		if m == nil || m.Target != "/run/runxen/shares/"+tag || m.Msize != 512<<10 || m.Cache != agent.ShareCache_SHARE_CACHE_MMAP {
			t.Errorf("MountShare %s: %+v", tag, m)
		}
	}
	gs, ok := fake.Spec("c1")
	if !ok {
		t.Fatal("no container c1 in the guest")
	}
	if gs.Root.Path != "/run/runxen/shares/rootfs" || gs.Hooks != nil || gs.Linux.CgroupsPath != "" || *gs.Linux.Resources.Memory.Limit != mem {
		t.Errorf("guest spec root %+v hooks %+v cgroups %q", gs.Root, gs.Hooks, gs.Linux.CgroupsPath)
	}
	for _, c := range fake.Calls() {
		if c == "StartContainer" {
			t.Error("Create started the container")
		}
	}

	// The shim's use: start it, collect output and status.
	svc := s.Agent()
	if _, err := svc.StartContainer(ctx, &agent.StartContainerRequest{ContainerId: "c1"}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if _, err := agentclient.CopyOutput(ctx, svc, &out, agentclient.Stdout, "c1", ""); err != nil {
		t.Fatal(err)
	}
	w, err := svc.WaitProcess(ctx, &agent.ProcessRequest{ContainerId: "c1"})
	if err != nil || w.ExitStatus != 3 || out.String() != "hello from echo hi\n" {
		t.Fatalf("exit %v, %v, output %q", w, err, out.String())
	}

	select {
	case <-s.Done():
		t.Fatal("Done before Destroy")
	default:
	}
	must(t, s.Destroy(ctx))
	<-s.Done()
	if !errors.Is(s.Err(), agentclient.ErrClosed) {
		t.Errorf("Err after Destroy = %v", s.Err())
	}
	// Destroy flushed the guest first.
	if c := fake.Calls(); c[len(c)-1] != "SyncFS" {
		t.Errorf("last agent calls %v; want SyncFS before the domain went", c)
	}
	e.nothingLeft(t)
	must(t, s.Destroy(ctx))
	if n := len(e.calls("destroy")); n != 1 {
		t.Errorf("a second Destroy destroyed again (%d destroys)", n)
	}
}

func TestCreateFailuresLeaveNothing(t *testing.T) {
	tests := []struct {
		name  string
		setup func(e *env, cc *ContainerConfig)
		want  []string // in the error
		kind  error
		// created: whether a domain was created before the failure;
		// tried: whether creating one was tried (and failed).
		created, tried bool
	}{
		{
			name:  "a spec field the guest cannot honour",
			setup: func(e *env, cc *ContainerConfig) { cc.Spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse"}} },
			want:  []string{"linux.devices[0]"},
			kind:  errdefs.ErrNotImplemented,
		},
		{
			name: "--memory 4m",
			setup: func(e *env, cc *ContainerConfig) {
				l := int64(4 << 20)
				cc.Spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &l}
			},
			want: []string{"linux.resources.memory.limit: 4 MiB is below"},
			kind: errdefs.ErrInvalidArgument,
		},
		{
			name:  "terminal mismatch",
			setup: func(e *env, cc *ContainerConfig) { cc.Terminal = true },
			want:  []string{"process.terminal"},
			kind:  errdefs.ErrInvalidArgument,
		},
		{
			name:  "a missing kernel",
			setup: func(e *env, cc *ContainerConfig) { must(e.t, os.Remove(e.settings.Guest.Kernel)) },
			want:  []string{"vmlinuz (guest.kernel in the runxen config)"},
			kind:  errdefs.ErrFailedPrecondition,
		},
		{
			name:  "a file that cannot be staged",
			setup: func(e *env, cc *ContainerConfig) { e.mounter.failBind = 1 },
			want:  []string{"injected bind failure"},
		},
		{
			name:  "the toolstack cannot create",
			setup: func(e *env, cc *ContainerConfig) { e.ts.FailNext("create", errors.New("xl create: out of memory")) },
			want:  []string{"create domain runxen-moby-c1: xl create: out of memory"},
			// Tried, failed: nothing to destroy.
			tried: true,
		},
		{
			name:    "no share set",
			setup:   func(e *env, cc *ContainerConfig) { e.failNewSS = errors.New("no xen9pfs") },
			want:    []string{"no xen9pfs"},
			created: true,
		},
		{
			name:    "a share cannot be added",
			setup:   func(e *env, cc *ContainerConfig) { e.shareFail["Add vol0"] = errors.New("open dir: permission denied") },
			want:    []string{"permission denied"},
			created: true,
		},
		{
			name:    "the domain cannot start",
			setup:   func(e *env, cc *ContainerConfig) { e.ts.FailNext("unpause", errors.New("xl unpause failed")) },
			want:    []string{"start domain runxen-moby-c1:", "xl unpause failed"},
			created: true,
		},
		{
			name: "the guest never connects its shares",
			setup: func(e *env, cc *ContainerConfig) {
				e.connect = false
				e.settings.Timeouts.Boot = config.Duration{Duration: 300 * time.Millisecond}
			},
			want:    []string{"did not boot (timeouts.boot 300ms)", "shares not connected"},
			created: true,
		},
		{
			name: "the guest never runs its agent",
			setup: func(e *env, cc *ContainerConfig) {
				e.ts.agent = nil
				e.settings.Timeouts.Boot = config.Duration{Duration: 300 * time.Millisecond}
			},
			want:    []string{"did not boot (timeouts.boot 300ms)", "no agent vchan"},
			created: true,
		},
		{
			name:    "the guest crashes while booting",
			setup:   func(e *env, cc *ContainerConfig) { e.ts.crashOn = true },
			want:    []string{"did not boot", "shut down (crash)"},
			created: true,
		},
		{
			name: "the agent cannot mount a share",
			setup: func(e *env, cc *ContainerConfig) {
				e.ts.agent = func() agent.AgentService {
					return newFlaky(map[string]error{"MountShare": errors.New("9p: no such device")})
				}
			},
			want:    []string{`mount share "rootfs"`, "no such device"},
			created: true,
		},
		{
			name: "the agent refuses the container",
			setup: func(e *env, cc *ContainerConfig) {
				e.ts.agent = func() agent.AgentService {
					return newFlaky(map[string]error{"CreateContainer": errors.New("runc create: exec format error")})
				}
			},
			want:    []string{"create container c1 in the guest", "exec format error"},
			created: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.settings.Timeouts.Boot = config.Seconds(5)
			cc := e.container("c1", "true")
			tt.setup(e, &cc)
			// The fake guests connect through xentest's Shutdown path: give
			// the crash a guest that reaches it.
			s, err := Create(ctxT(t), e.config("c1"), cc)
			if err == nil {
				s.Destroy(ctxT(t))
				t.Fatal("Create succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tt.kind != nil && !errors.Is(err, tt.kind) {
				t.Errorf("error %q is not %v", err, tt.kind)
			}
			if n := len(e.calls("create")); (n == 1) != (tt.created || tt.tried) {
				t.Errorf("%d domain creates; want created=%v tried=%v", n, tt.created, tt.tried)
			}
			if tt.created && len(e.calls("destroy")) != 1 {
				t.Errorf("the domain was not destroyed: %v", e.ts.Calls())
			}
			e.nothingLeft(t)
		})
	}
}

func TestTeardownFailureIsReportedAndRetried(t *testing.T) {
	e := newEnv(t)
	e.ts.agent = func() agent.AgentService {
		return newFlaky(map[string]error{"CreateContainer": errors.New("refused")})
	}
	e.shareFail["Close"] = errors.New("xenstore: stalled")
	_, err := Create(ctxT(t), e.config("c1"), e.container("c1", "true"))
	if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), "teardown failed") ||
		!strings.Contains(err.Error(), "stalled") {
		t.Fatalf("Create = %v; want the cause and the teardown's failure", err)
	}
	// The staging waits for the shares: still there.
	if len(e.mounter.mounts()) != 1 {
		t.Fatalf("staged mounts removed while their share could still serve them: %v", e.mounter.mounts())
	}
}

func TestDestroyRetriesWhatFailed(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	s, err := Create(ctx, e.config("c1"), e.container("c1", "true"))
	must(t, err)
	e.ts.FailNext("destroy", errors.New("xl destroy: busy"))
	if err := s.Destroy(ctx); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("Destroy = %v", err)
	}
	// Nothing below the domain went while it could still use it.
	if e.sets[0].closed || len(e.mounter.mounts()) != 1 {
		t.Fatal("shares or staging taken down before the domain")
	}
	e.mounter.mu.Lock()
	e.mounter.failUnm = errors.New("umount: busy")
	e.mounter.mu.Unlock()
	if err := s.Destroy(ctx); err == nil || !strings.Contains(err.Error(), "umount: busy") {
		t.Fatalf("second Destroy = %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.settings.StateDir, "moby", "c1")); err != nil {
		t.Fatalf("staging removed although a mount could not be: %v", err)
	}
	must(t, s.Destroy(ctx))
	e.nothingLeft(t)
	if n := len(e.calls("destroy")); n != 2 {
		t.Errorf("%d domain destroys; want the failed one and one more", n)
	}
}

func TestDoneWhenTheGuestDies(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	s, err := Create(ctx, e.config("c1"), e.container("c1", "true"))
	must(t, err)
	must(t, e.ts.Shutdown(s.DomID(), xen.ReasonPoweroff))
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the domain shut down")
	}
	if !errors.Is(s.Err(), agentclient.ErrDomainGone) || !strings.Contains(s.Err().Error(), "poweroff") {
		t.Errorf("Err = %v", s.Err())
	}
	must(t, s.Destroy(ctx))
	e.nothingLeft(t)
}

func TestPauseFlushesFirst(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	var fake *agenttest.Agent
	e.ts.agent = func() agent.AgentService { fake = agenttest.New(); return fake }
	s, err := Create(ctx, e.config("c1"), e.container("c1", "true"))
	must(t, err)
	defer s.Destroy(ctx)
	before := len(fake.Calls())
	setBefore := len(e.sets[0].calls)
	must(t, s.Pause(ctx, "c1"))
	if got := strings.Join(fake.Calls()[before:], ","); got != "SyncFS,PauseContainer" {
		t.Errorf("agent calls %s", got)
	}
	if got := strings.Join(e.sets[0].calls[setBefore:], ","); got != "Sync" {
		t.Errorf("share calls %s", got)
	}
	if !fake.Paused("c1") {
		t.Error("not paused")
	}
	must(t, s.Resume(ctx, "c1"))
	if fake.Paused("c1") {
		t.Error("still paused")
	}
	// A flush that fails keeps the container running.
	e.shareFail["Sync"] = errors.New("syncfs: EIO")
	if err := s.Pause(ctx, "c1"); err == nil || !strings.Contains(err.Error(), "EIO") || fake.Paused("c1") {
		t.Errorf("Pause with a failing flush: %v, paused %v", err, fake.Paused("c1"))
	}
	if err := s.Pause(ctx, "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Pause of an unknown container: %v", err)
	}
	must(t, s.Destroy(ctx))
	if err := s.Resume(ctx, "c1"); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Errorf("Resume after Destroy: %v", err)
	}
}

func TestUpdate(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	e := newEnv(t)
	ctx := ctxT(t)
	var fake *flakyAgent
	e.ts.agent = func() agent.AgentService { fake = newFlaky(map[string]error{}); return fake }
	cc := e.container("c1", "true")
	cc.Spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: i64(256 << 20)}
	s, err := Create(ctx, e.config("c1"), cc)
	must(t, err)
	defer s.Destroy(ctx)
	id := s.DomID()

	// Grow: the domain first, then the cgroup.
	e.ts.onResize = func() { fake.mark("resize") }
	must(t, s.Update(ctx, "c1", &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(512 << 20)},
		CPU:    &specs.LinuxCPU{Quota: i64(150000), Period: u64(100000), Shares: u64(2048)},
	}))
	info, _ := e.ts.Info(ctx, id)
	dc, _ := e.ts.Config(id)
	if info.MemoryMiB != 512+128+21 || info.VCPUs != 2 || dc.CPUCap != 150 || dc.CPUWeight != 512 {
		t.Errorf("domain after grow: %+v, %+v", info, dc)
	}
	if got := fake.seq(); got != "resize,UpdateResources" {
		t.Errorf("grow order %s", got)
	}
	var gr specs.LinuxResources
	must(t, json.Unmarshal(fake.lastResources(), &gr))
	if *gr.Memory.Limit != 512<<20 || *gr.CPU.Quota != 150000 {
		t.Errorf("guest resources %+v", gr)
	}

	// Shrink: the cgroup first; removing the quota removes the cap.
	must(t, s.Update(ctx, "c1", &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(128 << 20)},
		CPU:    &specs.LinuxCPU{Quota: i64(-1)},
	}))
	info, _ = e.ts.Info(ctx, id)
	dc, _ = e.ts.Config(id)
	if info.MemoryMiB != 128+128+6 || dc.CPUCap != 0 {
		t.Errorf("domain after shrink: %+v, %+v", info, dc)
	}
	if got := fake.seq(); got != "UpdateResources,resize" {
		t.Errorf("shrink order %s", got)
	}

	// I/O limits reach every share of the container.
	must(t, s.Update(ctx, "c1", &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{
		ThrottleWriteBpsDevice: []specs.LinuxThrottleDevice{{Rate: 1 << 20}}}}))
	for _, tag := range []string{"rootfs", "vol0", "files-rw"} {
		if l := e.sets[0].limits[tag]; l.WriteBytesPerSec != 1<<20 {
			t.Errorf("share %s limits %+v", tag, l)
		}
	}

	// Refused before anything changes.
	fake.seq()
	calls := len(e.ts.Calls())
	if err := s.Update(ctx, "c1", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 20)}, CPU: &specs.LinuxCPU{Mems: "0"}}); err == nil ||
		!strings.Contains(err.Error(), "resources.memory.limit") || !strings.Contains(err.Error(), "resources.cpu.mems") {
		t.Errorf("bad Update = %v", err)
	}
	if len(e.ts.Calls()) != calls || fake.seq() != "" {
		t.Error("a refused Update changed something")
	}
	// The guest refusing: the error says so.
	fake.setFail("UpdateResources", errors.New("cgroup: invalid argument"))
	if err := s.Update(ctx, "c1", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(10)}}); err == nil || !strings.Contains(err.Error(), "in the guest") {
		t.Errorf("Update refused by the guest = %v", err)
	}
}

func TestDomainName(t *testing.T) {
	long := strings.Repeat("0123456789abcdef", 4)
	tests := []struct{ ns, id, want string }{
		{"moby", "c1", "runxen-moby-c1"},
		{"default", "nginx-1", "runxen-default-nginx-1"},
	}
	for _, tt := range tests {
		if got := DomainName(tt.ns, tt.id); got != tt.want {
			t.Errorf("DomainName(%q, %q) = %q; want %q", tt.ns, tt.id, got, tt.want)
		}
	}
	seen := map[string]bool{}
	for _, c := range []struct{ ns, id string }{
		{"moby", long}, {"moby", long[:63] + "x"}, {"k8s.io", long}, {strings.Repeat("n", 40), long}, {strings.Repeat("n", 41), long},
		{"moby", strings.Repeat("x", 76)},
	} {
		n := DomainName(c.ns, c.id)
		if err := xen.ValidateName(n); err != nil {
			t.Errorf("DomainName(%q, %q) = %q: %v", c.ns, c.id, n, err)
		}
		if !strings.HasPrefix(n, "runxen-"+c.ns[:min(len(c.ns), 16)]+"-"+c.id[:12]) {
			t.Errorf("DomainName(%q, %q) = %q: not recognisable", c.ns, c.id, n)
		}
		if seen[n] {
			t.Errorf("DomainName(%q, %q) = %q twice", c.ns, c.id, n)
		}
		seen[n] = true
	}
}

func TestCreateRefusesBadIDs(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ id, ns, cid string }{
		{"", "moby", "c1"}, {"c1", "", "c1"}, {"c1", "moby", "a/b"}, {"../x", "moby", "c1"}, {"c1", "mo by", "c1"},
		{strings.Repeat("a", 77), "moby", "c1"},
	} {
		cfg := e.config(c.id)
		cfg.Namespace = c.ns
		cc := e.container("c1", "true")
		cc.ID = c.cid
		if _, err := Create(ctxT(t), cfg, cc); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Create(%q, %q, %q) = %v", c.id, c.ns, c.cid, err)
		}
	}
	if n := len(e.calls("create")); n != 0 {
		t.Errorf("%d domains created", n)
	}
}

func TestCleanup(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	s, err := Create(ctx, e.config("c1"), e.container("c1", "true"))
	must(t, err)
	// Another sandbox must survive.
	other, err := Create(ctx, e.config("c2"), e.container("c2", "true"))
	must(t, err)
	// The owner of c1 dies without Destroy: its domain, staged mounts and
	// share nodes stay.
	s.client.Close()
	must(t, Cleanup(ctx, e.config("c1")))
	if _, err := e.ts.Info(ctx, s.DomID()); !errors.Is(err, xen.ErrNoDomain) {
		t.Errorf("leftover domain still there: %v", err)
	}
	if m := e.mounter.mounts(); len(m) != 1 {
		t.Errorf("mounts after Cleanup: %v (want only c2's)", m)
	}
	if _, err := os.Stat(filepath.Join(e.settings.StateDir, "moby", "c1")); !os.IsNotExist(err) {
		t.Errorf("c1's staging: %v", err)
	}
	if _, err := e.ts.Info(ctx, other.DomID()); err != nil {
		t.Errorf("Cleanup of c1 touched c2: %v", err)
	}
	// Nothing to do: fine.
	must(t, Cleanup(ctx, e.config("c1")))
	must(t, other.Destroy(ctx))
	// c1's fake share set was never closed by its dead owner; the real
	// one's devices went with the domain (see TestRealShares).
	e.sets[0].Close()
	e.nothingLeft(t)
}
