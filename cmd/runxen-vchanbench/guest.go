//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"

	"github.com/runxen/runxen/guest-agent/sysinit"
	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/xenstore"
)

// Names of the guest's endpoints: the vchan of the Go server for ring size
// R is at DefaultPath(guest, peer, "bench-go-"+ringName(R)), the C server's
// (vchan-socket-proxy) at DefaultPath(guest, peer, "bench-c"). Each
// endpoint counts its finished connections at
// /local/domain/<guest>/data/vchanbench/<name>/sessions.
const (
	endpointPrefix = "bench-"
	cName          = "c"
	modulesList    = "/etc/runxen/modules.load"
	readyMarker    = "VCHANBENCH_READY"
	failMarker     = "VCHANBENCH_FAIL"
	byeMarker      = "VCHANBENCH_BYE"
)

// ringName names a Go endpoint by its ring size: "2K" is libxenvchan's
// default (1 KiB client-to-server, 2 KiB back, both in the shared page),
// the others the size of both rings.
func ringName(size int) string {
	switch {
	case size <= 2<<10:
		return "2K"
	case size%(1<<20) == 0:
		return strconv.Itoa(size>>20) + "M"
	default:
		return strconv.Itoa(size>>10) + "K"
	}
}

func goName(size int) string { return "go-" + ringName(size) }

func dataDir(domid uint32) string { return fmt.Sprintf("/local/domain/%d/data/vchanbench", domid) }

func counterPath(domid uint32, name string) string {
	return dataDir(domid) + "/" + name + "/sessions"
}

type guestConfig struct {
	peer    uint32
	rings   []int
	proxy   string
	timeout time.Duration
	init    bool // PID 1: mount, load modules, power off at the end
	sockDir string
	devices vchan.Devices // nil: Xen's
}

func guestMain(args []string) error {
	fs := flag.NewFlagSet("guest", flag.ContinueOnError)
	peer := fs.Uint("peer", 0, "domain allowed to connect (the client)")
	rings := fs.String("rings", "0,65536", "comma-separated ring sizes of the Go endpoints (0: libxenvchan's 1+2 KiB)")
	proxy := fs.String("proxy", "", "vchan-socket-proxy binary (default: found under /usr/lib/xen-*/bin)")
	timeout := fs.Duration("timeout", 30*time.Minute, "power off (or exit) after this long")
	sockDir := fs.String("sock-dir", "/run/vchanbench", "directory for the unix socket behind vchan-socket-proxy")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg := guestConfig{peer: uint32(*peer), proxy: *proxy, timeout: *timeout, init: os.Getpid() == 1, sockDir: *sockDir}
	if cfg.init {
		// As /init, the options come from the kernel command line:
		// vchanbench.rings=0,65536 vchanbench.timeout=20m ...
		if err := sysinit.MountBase(); err != nil {
			return err
		}
		if err := cmdlineFlags(fs); err != nil {
			return err
		}
		cfg.peer, cfg.proxy, cfg.timeout, cfg.sockDir = uint32(*peer), *proxy, *timeout, *sockDir
	}
	for _, s := range strings.Split(*rings, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 || n > vchan.MaxRingSize {
			return fmt.Errorf("bad ring size %q", s)
		}
		cfg.rings = append(cfg.rings, n)
	}
	err := runGuest(cfg)
	if err != nil {
		fmt.Printf("%s: %v\n", failMarker, err)
	}
	if cfg.init {
		fmt.Println("vchanbench: powering off")
		err := sysinit.PowerOff()
		fmt.Printf("vchanbench: %v\n", err)
		os.Exit(1)
	}
	return err
}

// cmdlineFlags sets fs's flags from vchanbench.NAME=VALUE words of the
// kernel command line.
func cmdlineFlags(fs *flag.FlagSet) error {
	b, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return err
	}
	for _, w := range strings.Fields(string(b)) {
		k, v, ok := strings.Cut(w, "=")
		name, isOurs := strings.CutPrefix(k, "vchanbench.")
		if !ok || !isOurs {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("kernel command line %s: %w", w, err)
		}
	}
	return nil
}

// loadModules loads the initramfs's modules. An image made by appending
// files to another initramfs may carry an empty list: then the Xen device
// modules vchan needs are looked up by name.
func loadModules() (int, error) {
	list := modulesList
	if b, err := os.ReadFile(list); err != nil || len(strings.TrimSpace(string(b))) == 0 {
		var found []string
		for _, name := range []string{"xen-evtchn.ko", "xen-gntdev.ko", "xen-gntalloc.ko"} {
			for _, root := range []string{"/lib/modules", "/usr/lib/modules"} {
				m, _ := filepath.Glob(root + "/*/kernel/drivers/xen/" + name)
				if len(m) > 0 {
					found = append(found, m[0])
					break
				}
			}
		}
		list = "/run/vchanbench-modules.load"
		if err := os.WriteFile(list, []byte(strings.Join(found, "\n")+"\n"), 0o644); err != nil {
			return 0, err
		}
	}
	return sysinit.LoadModules(list)
}

// findProxy returns p, or Xen's vchan-socket-proxy if p is empty, or ""
// if p is "none" or there is no proxy.
func findProxy(p string) string {
	if p == "none" {
		return ""
	}
	if p != "" {
		return p
	}
	m, _ := filepath.Glob("/usr/lib/xen-*/bin/vchan-socket-proxy")
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1]
}

type guest struct {
	cfg   guestConfig
	xs    *xenstore.Client
	domid uint32
	svc   *service
	ping  *ttrpc.Server

	mu        sync.Mutex
	listeners []*vchan.Listener
	unixL     net.Listener
	proxyCmd  *exec.Cmd
	proxyDone chan struct{}
	names     []string
	loops     sync.WaitGroup // accept loops

	shutdown     chan struct{}
	shutdownOnce sync.Once
}

func runGuest(cfg guestConfig) error {
	fmt.Println("vchanbench: guest starting")
	if cfg.init {
		n, err := loadModules()
		if err != nil {
			return err
		}
		// gntalloc's limit is system-wide (1024 grants by default); a 1 MiB
		// ring pair alone takes 513.
		os.WriteFile("/sys/module/xen_gntalloc/parameters/limit", []byte("65536"), 0o644)
		fmt.Printf("vchanbench: %d modules loaded\n", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	xs, err := xenstore.Dial(ctx)
	if err != nil {
		return err
	}
	defer xs.Close()
	domid, err := vchan.LocalDomain(ctx, xs)
	if err != nil {
		return err
	}
	g, err := newGuest(cfg, xs, domid)
	if err != nil {
		return err
	}
	defer g.ping.Close()
	if err := g.start(ctx); err != nil {
		g.stop()
		return err
	}
	fmt.Printf("%s domid=%d peer=%d endpoints=%s cpus=%d\n", readyMarker, domid, cfg.peer, strings.Join(g.names, ","), runtime.NumCPU())
	select {
	case <-g.shutdown:
	case <-ctx.Done():
		fmt.Printf("vchanbench: no shutdown after %s\n", cfg.timeout)
	}
	left := g.stop()
	fmt.Printf("%s left=%q\n", byeMarker, left)
	return nil
}

// newGuest sets up the service; start publishes the endpoints.
func newGuest(cfg guestConfig, xs *xenstore.Client, domid uint32) (*guest, error) {
	g := &guest{cfg: cfg, xs: xs, domid: domid, shutdown: make(chan struct{})}
	g.svc = newService(func(f string, a ...any) { fmt.Printf("vchanbench: "+f+"\n", a...) })
	g.svc.shutdown = g.requestShutdown
	g.svc.info = g.info
	if err := os.MkdirAll(cfg.sockDir, 0o755); err != nil {
		return nil, err
	}
	g.svc.tmpDir = cfg.sockDir
	ps, err := newPingServer()
	if err != nil {
		return nil, err
	}
	g.ping = ps
	g.svc.ttrpc = newConnListener()
	go ps.Serve(context.Background(), g.svc.ttrpc)
	return g, nil
}

func (g *guest) info() string {
	return fmt.Sprintf("domid=%d cpus=%d endpoints=%s", g.domid, runtime.NumCPU(), strings.Join(g.names, ","))
}

func (g *guest) requestShutdown() { g.shutdownOnce.Do(func() { close(g.shutdown) }) }

// bump counts a finished connection of endpoint name in xenstore, where the
// host waits for it before it connects again.
func (g *guest) bump(name string, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.xs.Write(ctx, counterPath(g.domid, name), []byte(strconv.Itoa(n))); err != nil {
		fmt.Printf("vchanbench: count session of %s: %v\n", name, err)
	}
}

func (g *guest) start(ctx context.Context) error {
	for _, name := range g.endpointNames() {
		g.bump(name, 0)
	}
	for _, size := range g.cfg.rings {
		name := goName(size)
		self := g.domid
		l, err := vchan.Listen(ctx, vchan.Config{
			Store:       g.xs,
			Peer:        g.cfg.peer,
			Path:        vchan.DefaultPath(g.domid, g.cfg.peer, endpointPrefix+name),
			LocalDomain: &self,
			Devices:     g.cfg.devices,
			RecvSize:    size,
			SendSize:    size,
		})
		if err != nil {
			return fmt.Errorf("listen %s: %w", name, err)
		}
		g.mu.Lock()
		g.listeners = append(g.listeners, l)
		g.names = append(g.names, name)
		g.mu.Unlock()
		g.loops.Add(1)
		go g.acceptLoop(name, l)
	}
	proxy := findProxy(g.cfg.proxy)
	if proxy == "" {
		fmt.Println("vchanbench: no vchan-socket-proxy: C endpoint not served")
		return nil
	}
	return g.startC(ctx, proxy)
}

func (g *guest) endpointNames() []string {
	var n []string
	for _, s := range g.cfg.rings {
		n = append(n, goName(s))
	}
	return append(n, cName)
}

func (g *guest) acceptLoop(name string, l net.Listener) {
	defer g.loops.Done()
	for n := 1; ; n++ {
		c, err := l.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				fmt.Printf("vchanbench: %s: accept: %v\n", name, err)
			}
			return
		}
		g.svc.serve(c)
		g.bump(name, n)
	}
}

// startC serves the bench protocol on a unix socket and starts
// vchan-socket-proxy in server mode in front of it.
func (g *guest) startC(ctx context.Context, proxy string) error {
	sock := filepath.Join(g.cfg.sockDir, "c.sock")
	os.Remove(sock)
	ul, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.unixL = ul
	g.mu.Unlock()
	g.loops.Add(1)
	go g.acceptLoop(cName, ul)
	path := vchan.DefaultPath(g.domid, g.cfg.peer, endpointPrefix+cName)
	cmd := exec.Command(proxy, "-m", "server", strconv.Itoa(int(g.cfg.peer)), path, sock)
	cmd.Stdout = prefixLines(os.Stdout, "vchan-socket-proxy: ")
	cmd.Stderr = cmd.Stdout
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/usr/lib/xen-4.20/lib")
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", proxy, err)
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Printf("vchanbench: vchan-socket-proxy exited: %v\n", err)
		close(done)
	}()
	g.mu.Lock()
	g.proxyCmd, g.proxyDone = cmd, done
	g.mu.Unlock()
	// Ready once it published its endpoint.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := g.xs.Read(ctx, path+"/event-channel"); err == nil {
			break
		}
		select {
		case <-done:
			return fmt.Errorf("vchan-socket-proxy exited before publishing %s", path)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("vchan-socket-proxy did not publish %s in 60s", path)
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.mu.Lock()
	g.names = append(g.names, cName)
	g.mu.Unlock()
	return nil
}

// stop withdraws every endpoint and returns what is left under this
// domain's vchan directory in xenstore (nothing, when all went well).
func (g *guest) stop() []string {
	g.mu.Lock()
	ls, ul, cmd, done := g.listeners, g.unixL, g.proxyCmd, g.proxyDone
	g.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if cmd != nil {
		// vchan-socket-proxy has no signal handler: killed, it leaves its
		// xenstore entries behind (libxenvchan_close never runs), so they
		// are removed here.
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		g.xs.Rm(ctx, vchan.DefaultPath(g.domid, g.cfg.peer, endpointPrefix+cName))
	}
	if ul != nil {
		ul.Close()
	}
	// An accept loop may be publishing a fresh endpoint as the listener
	// closes; wait for the loops to end (the Listener withdraws it).
	loopsDone := make(chan struct{})
	go func() { g.loops.Wait(); close(loopsDone) }()
	select {
	case <-loopsDone:
	case <-time.After(10 * time.Second):
		fmt.Println("vchanbench: a connection is still open at shutdown")
	}
	g.xs.Rm(ctx, dataDir(g.domid))
	return g.leftovers(ctx)
}

func (g *guest) leftovers(ctx context.Context) []string {
	return vchanEntries(ctx, g.xs, fmt.Sprintf("/local/domain/%d/data/vchan", g.domid))
}
