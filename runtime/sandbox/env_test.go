package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient"
	"github.com/runxen/runxen/runtime/agentclient/agenttest"
	"github.com/runxen/runxen/runtime/config"
	"github.com/runxen/runxen/runtime/iolimit"
	"github.com/runxen/runxen/runtime/shares"
	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/vchan/vchantest"
	"github.com/runxen/runxen/runtime/xen"
	"github.com/runxen/runxen/runtime/xen/xentest"
	"github.com/runxen/runxen/runtime/xen9pfs/xen9pfstest"
	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

// env is one fake host: xenstored, a toolstack whose guests "boot" when
// unpaused (they connect their 9pfs devices and serve an agent on the
// vchan, as the real guest does), the grant and event channel devices, a
// share set and a mounter that keep real state.
type env struct {
	t      *testing.T
	xs     *xenstoretest.Server
	ts     *bootingToolstack
	hv     *vchantest.Hypervisor
	hostXS *xenstore.Client
	dir    string // temp dir: guest images, state dir, container dirs

	settings config.Config
	mounter  *fakeMounter

	mu        sync.Mutex
	sets      []*fakeShares // every set made, in order
	failNewSS error         // NewShares fails with this
	shareFail map[string]error
	connect   bool // fake sets' WaitConnected succeeds (else: waits for ctx)
	real      bool // use runtime/shares instead of fakeShares
}

func newEnv(t *testing.T) *env {
	t.Helper()
	xs := xenstoretest.New()
	must(t, xs.Write("/local/domain/0/domid", []byte("0")))
	e := &env{t: t, xs: xs, hv: vchantest.New(), dir: t.TempDir(), connect: true,
		mounter: newFakeMounter(), shareFail: map[string]error{}}
	e.ts = &bootingToolstack{Toolstack: xentest.New(xentest.WithXenstore(xs)), e: e, agent: func() agent.AgentService { return agenttest.New() }}
	e.hostXS = xenstore.NewClient(xs.ConnAs(0))
	t.Cleanup(func() {
		e.ts.stopGuests()
		e.hostXS.Close()
		xs.Close()
	})
	s := config.Default()
	s.StateDir = filepath.Join(e.dir, "state")
	s.Guest.Kernel = e.file("guest/vmlinuz", "kernel")
	s.Guest.Initramfs = e.file("guest/agent.initramfs", "initramfs")
	s.Timeouts.Boot = config.Seconds(10)
	s.Timeouts.AgentCall = config.Seconds(5)
	s.Timeouts.Destroy = config.Seconds(10)
	e.settings = s
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// file writes a file under the env's directory and returns its path.
func (e *env) file(rel, content string) string {
	p := filepath.Join(e.dir, rel)
	must(e.t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(e.t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func (e *env) mkdir(rel string) string {
	p := filepath.Join(e.dir, rel)
	must(e.t, os.MkdirAll(p, 0o755))
	return p
}

func (e *env) config(id string) Config {
	c := Config{
		ID: id, Namespace: "moby", Settings: e.settings, Toolstack: e.ts,
		Store: e.hostXS, Devices: e.hv.Domain(0), Mounter: e.mounter,
	}
	if !e.real {
		c.NewShares = e.newShares
	}
	return c
}

// container is a container with a root file system, a volume and a bind
// mounted file, as Docker would give it.
func (e *env) container(id string, args ...string) ContainerConfig {
	root := e.mkdir("containers/" + id + "/rootfs")
	vol := e.mkdir("volumes/" + id)
	hosts := e.file("containers/"+id+"/hosts", "127.0.0.1 localhost\n")
	spec := agentclient.DefaultSpec("rootfs", args, false)
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/data", Type: "bind", Source: vol, Options: []string{"rbind"}},
		specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: hosts, Options: []string{"rbind", "rprivate"}})
	spec.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/true"}}}
	spec.Linux.CgroupsPath = "system.slice:docker:" + id
	return ContainerConfig{ID: id, Bundle: filepath.Dir(root), Spec: spec, RootfsDir: root}
}

// nothingLeft fails t if anything of a sandbox remains: a domain, its
// xenstore directory or 9pfs nodes, a share set not closed, a staged mount
// or staging directory, a vchan mapping.
func (e *env) nothingLeft(t *testing.T) {
	t.Helper()
	ctx := ctxT(t)
	doms, err := e.ts.List(ctx)
	must(t, err)
	if len(doms) != 1 || doms[0].ID != 0 {
		t.Errorf("domains left: %+v", doms)
	}
	for _, p := range []string{"/local/domain", "/local/domain/0/backend"} {
		for _, d := range e.xs.Directory(p) {
			if d != "0" && d != "domid" {
				t.Errorf("xenstore node left: %s/%s\n%s", p, d, e.xs.Dump())
			}
		}
	}
	e.mu.Lock()
	for i, s := range e.sets {
		if !s.closed {
			t.Errorf("share set %d (domain %d) not closed", i, s.domid)
		}
	}
	e.mu.Unlock()
	if m := e.mounter.mounts(); len(m) > 0 {
		t.Errorf("staged mounts left: %v", m)
	}
	if ents, err := os.ReadDir(e.settings.StateDir); err == nil && len(ents) > 0 {
		t.Errorf("state left in %s: %v", e.settings.StateDir, ents)
	}
	if n := e.hv.Domain(0).Open(); n != 0 {
		t.Errorf("dom0 holds %d grant mappings or event channels", n)
	}
}

// bootingToolstack is the fake toolstack whose guests boot on Unpause:
// they connect their 9pfs devices (real shares) and serve an agent.
type bootingToolstack struct {
	*xentest.Toolstack
	e *env

	mu      sync.Mutex
	agent   func() agent.AgentService // nil: the guest never serves an agent
	onBoot  func(id xen.DomID)        // runs when a guest boots, before its agent serves
	guests  map[xen.DomID]*fakeGuest
	crashOn bool // guests crash at boot instead of serving
	// onResize runs after every successful Resize.
	onResize func()
}

func (b *bootingToolstack) Resize(ctx context.Context, id xen.DomID, r xen.Resources) error {
	if err := b.Toolstack.Resize(ctx, id, r); err != nil {
		return err
	}
	if b.onResize != nil {
		b.onResize()
	}
	return nil
}

type fakeGuest struct {
	cancel context.CancelFunc
	done   chan struct{}
	svc    agent.AgentService
	xs     *xenstore.Client
	fronts []*xen9pfstest.Frontend
}

func (b *bootingToolstack) Unpause(ctx context.Context, id xen.DomID) error {
	info, err := b.Toolstack.Info(ctx, id)
	if err != nil {
		return err
	}
	if err := b.Toolstack.Unpause(ctx, id); err != nil {
		return err
	}
	if info.State == xen.StatePaused && b.guest(id) == nil {
		b.boot(id)
	}
	return nil
}

func (b *bootingToolstack) guest(id xen.DomID) *fakeGuest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.guests[id]
}

// boot plays the guest: connect every 9pfs device, then serve the agent.
func (b *bootingToolstack) boot(id xen.DomID) {
	e := b.e
	ctx, cancel := context.WithCancel(context.Background())
	g := &fakeGuest{cancel: cancel, done: make(chan struct{}), xs: xenstore.NewClient(e.xs.ConnAs(uint32(id)))}
	b.mu.Lock()
	if b.guests == nil {
		b.guests = map[xen.DomID]*fakeGuest{}
	}
	b.guests[id] = g
	mk, crash, onBoot := b.agent, b.crashOn, b.onBoot
	b.mu.Unlock()
	go func() {
		defer close(g.done)
		if onBoot != nil {
			onBoot(id)
		}
		if crash {
			_ = b.Toolstack.Shutdown(id, xen.ReasonCrash)
			return
		}
		dev := e.hv.Domain(uint32(id))
		for _, devid := range e.xs.Directory(fmt.Sprintf("/local/domain/%d/device/9pfs", id)) {
			n, _ := strconv.Atoi(devid)
			f, err := xen9pfstest.Connect(ctx, xen9pfstest.Config{Store: g.xs, Devices: dev, Domain: uint32(id), DevID: uint32(n)})
			if err != nil {
				e.t.Logf("fake guest %d: 9pfs device %s: %v", id, devid, err)
				continue
			}
			g.fronts = append(g.fronts, f)
		}
		if mk == nil {
			<-ctx.Done()
			return
		}
		g.svc = mk()
		l, err := vchan.Listen(ctx, vchan.Config{Devices: dev, Store: g.xs, Peer: 0, Path: agent.AgentVchanPath(uint32(id))})
		if err != nil {
			e.t.Logf("fake guest %d: listen: %v", id, err)
			return
		}
		srv, err := ttrpc.NewServer()
		if err != nil {
			return
		}
		agent.RegisterAgentService(srv, g.svc)
		go func() { <-ctx.Done(); srv.Close(); l.Close() }()
		_ = srv.Serve(ctx, l)
	}()
}

// Destroy also stops the fake guest's goroutines, as a real domain's end
// stops everything in it.
func (b *bootingToolstack) Destroy(ctx context.Context, id xen.DomID) error {
	err := b.Toolstack.Destroy(ctx, id)
	if err == nil {
		b.stop(id)
	}
	return err
}

func (b *bootingToolstack) stop(id xen.DomID) {
	b.mu.Lock()
	g := b.guests[id]
	delete(b.guests, id)
	b.mu.Unlock()
	if g == nil {
		return
	}
	g.cancel()
	<-g.done
	for _, f := range g.fronts {
		f.Close()
	}
	g.xs.Close()
}

func (b *bootingToolstack) stopGuests() {
	b.mu.Lock()
	ids := make([]xen.DomID, 0, len(b.guests))
	for id := range b.guests {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	for _, id := range ids {
		b.stop(id)
	}
}

// flakyAgent is the fake agent with failures injected per method.
type flakyAgent struct {
	*agenttest.Agent
	mu     sync.Mutex
	fail   map[string]error
	events []string // marks and UpdateResources, in order, since seq
	res    []byte   // the last UpdateResources' resources
}

func (f *flakyAgent) setFail(m string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[m] = err
}

func (f *flakyAgent) mark(ev string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
}

// seq returns the events since the last call.
func (f *flakyAgent) seq() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := strings.Join(f.events, ",")
	f.events = nil
	return s
}

func (f *flakyAgent) lastResources() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.res
}

func newFlaky(fail map[string]error) *flakyAgent {
	return &flakyAgent{Agent: agenttest.New(), fail: fail}
}

func (f *flakyAgent) injected(m string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail[m]
}

func (f *flakyAgent) MountShare(ctx context.Context, r *agent.MountShareRequest) (*emptypb.Empty, error) {
	if err := f.injected("MountShare"); err != nil {
		return nil, err
	}
	return f.Agent.MountShare(ctx, r)
}

func (f *flakyAgent) CreateContainer(ctx context.Context, r *agent.CreateContainerRequest) (*agent.CreateContainerResponse, error) {
	if err := f.injected("CreateContainer"); err != nil {
		return nil, err
	}
	return f.Agent.CreateContainer(ctx, r)
}

func (f *flakyAgent) UpdateResources(ctx context.Context, r *agent.UpdateResourcesRequest) (*emptypb.Empty, error) {
	if err := f.injected("UpdateResources"); err != nil {
		return nil, err
	}
	f.mark("UpdateResources")
	f.mu.Lock()
	f.res = r.Resources
	f.mu.Unlock()
	return f.Agent.UpdateResources(ctx, r)
}

// fakeShares is a share set that keeps state: shares by tag, limits,
// calls, closed.
type fakeShares struct {
	e     *env
	domid xen.DomID

	mu     sync.Mutex
	specs  []shares.Spec
	limits map[string]iolimit.Limits
	calls  []string
	closed bool
}

func (e *env) newShares(ctx context.Context, domid xen.DomID) (ShareSet, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failNewSS != nil {
		return nil, e.failNewSS
	}
	s := &fakeShares{e: e, domid: domid, limits: map[string]iolimit.Limits{}}
	e.sets = append(e.sets, s)
	return s, nil
}

func (s *fakeShares) fail(op string) error {
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	return s.e.shareFail[op]
}

func (s *fakeShares) record(c string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

func (s *fakeShares) Add(ctx context.Context, sp shares.Spec) error {
	s.record("Add " + sp.Tag)
	if err := s.fail("Add " + sp.Tag); err != nil {
		return err
	}
	if fi, err := os.Stat(sp.Dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("share %q: %s is no directory: %v", sp.Tag, sp.Dir, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return shares.ErrClosed
	}
	for _, o := range s.specs {
		if o.Tag == sp.Tag {
			return shares.ErrDuplicateTag
		}
	}
	s.specs = append(s.specs, sp)
	s.limits[sp.Tag] = sp.Limits
	return nil
}

func (s *fakeShares) WaitConnected(ctx context.Context) error {
	s.record("WaitConnected")
	if err := s.fail("WaitConnected"); err != nil {
		return err
	}
	s.e.mu.Lock()
	ok := s.e.connect
	s.e.mu.Unlock()
	if ok {
		return nil
	}
	<-ctx.Done()
	return fmt.Errorf("shares not connected: %w", ctx.Err())
}

func (s *fakeShares) Sync(ctx context.Context) error {
	s.record("Sync")
	return s.fail("Sync")
}

func (s *fakeShares) SetLimits(tag string, l iolimit.Limits) error {
	s.record("SetLimits " + tag)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.limits[tag]; !ok {
		return shares.ErrUnknownShare
	}
	s.limits[tag] = l
	return nil
}

func (s *fakeShares) Close() error {
	s.record("Close")
	if err := s.fail("Close"); err != nil {
		// Once: the next Close succeeds.
		s.e.mu.Lock()
		delete(s.e.shareFail, "Close")
		s.e.mu.Unlock()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *fakeShares) tags() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, sp := range s.specs {
		out = append(out, sp.Tag)
	}
	return out
}

// fakeMounter keeps the staged bind mounts it made.
type fakeMounter struct {
	mu       sync.Mutex
	m        map[string]string // dst -> src
	ro       map[string]bool
	failBind int // the Nth BindFile (1-based) fails
	binds    int
	failUnm  error
}

func newFakeMounter() *fakeMounter {
	return &fakeMounter{m: map[string]string{}, ro: map[string]bool{}}
}

func (f *fakeMounter) BindFile(src, dst string, ro bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.binds++
	if f.binds == f.failBind {
		return errors.New("injected bind failure")
	}
	if _, err := os.Stat(src); err != nil {
		return err
	}
	if fi, err := os.Stat(dst); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("mount point %s: %v", dst, err)
	}
	if _, ok := f.m[dst]; ok {
		return errors.New("already mounted")
	}
	f.m[dst], f.ro[dst] = src, ro
	return nil
}

func (f *fakeMounter) Unmount(dst string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failUnm != nil {
		err := f.failUnm
		f.failUnm = nil
		return err
	}
	delete(f.m, dst)
	return nil
}

func (f *fakeMounter) mounts() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.m {
		out[k] = v
	}
	return out
}

// calls returns the toolstack calls of one kind ("create", "destroy", ...).
func (e *env) calls(kind string) []string {
	var out []string
	for _, c := range e.ts.Calls() {
		if strings.HasPrefix(c, kind+" ") {
			out = append(out, c)
		}
	}
	return slices.Clip(out)
}

var _ net.Listener = (*vchan.Listener)(nil)
