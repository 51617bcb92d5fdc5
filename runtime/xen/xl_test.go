package xen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

// fakeXL plays the xl command: it keeps a domain table that create,
// destroy, pause and unpause change and list prints in xl's format.
type fakeXL struct {
	t *testing.T

	mu      sync.Mutex
	calls   []string
	configs []string // contents of the config files create was given
	doms    map[DomID]*fakeDom
	next    DomID
	failOn  map[string]error // verb -> error
	onList  func()           // called on every list, after it printed
}

type fakeDom struct {
	name  string
	flags string
}

func newFakeXL(t *testing.T) *fakeXL {
	return &fakeXL{t: t, doms: map[DomID]*fakeDom{0: {name: "Domain-0", flags: "r-----"}}, next: 1, failOn: map[string]error{}}
}

func (f *fakeXL) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != "/usr/sbin/xl" {
		f.t.Errorf("ran %q, want the configured xl path", name)
	}
	f.calls = append(f.calls, strings.Join(args, " "))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	verb := args[0]
	if err, ok := f.failOn[verb]; ok {
		return nil, err
	}
	byArg := func(a string) (DomID, *fakeDom) {
		for id, d := range f.doms {
			if d.name == a || fmt.Sprint(id) == a {
				return id, d
			}
		}
		return 0, nil
	}
	switch verb {
	case "create":
		if strings.Join(args[:4], " ") != "create -p -e -q" {
			return nil, fmt.Errorf("unexpected create args %q", args)
		}
		b, err := os.ReadFile(args[4])
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(filepath.Dir(args[4])); err != nil || fi.Mode().Perm() != 0o700 {
			f.t.Errorf("config directory %s: mode %v, %v; want a private directory", filepath.Dir(args[4]), fi.Mode(), err)
		}
		f.configs = append(f.configs, string(b))
		var name string
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "name = "); ok {
				name = strings.Trim(v, `"`)
			}
		}
		if _, d := byArg(name); d != nil {
			return nil, fmt.Errorf("domain %s already exists", name)
		}
		f.doms[f.next] = &fakeDom{name: name, flags: "--p---"}
		f.next++
		if err, ok := f.failOn["create-after"]; ok {
			return nil, err
		}
		return nil, nil
	case "domid":
		if id, d := byArg(args[1]); d != nil {
			return []byte(fmt.Sprintf("%d\n", id)), nil
		}
		return nil, errors.New("exit status 1: Can't get domid")
	case "destroy", "pause", "unpause":
		id, d := byArg(args[1])
		if d == nil {
			return nil, errors.New("exit status 1: no such domain")
		}
		switch verb {
		case "destroy":
			delete(f.doms, id)
		case "pause":
			d.flags = "--p---"
		case "unpause":
			d.flags = "-b----"
		}
		return nil, nil
	case "mem-max", "mem-set", "vcpu-set", "vcpu-pin":
		if _, d := byArg(args[1]); d == nil {
			return nil, errors.New("exit status 1: no such domain")
		}
		return nil, nil
	case "sched-credit2":
		if len(args) < 3 || args[1] != "-d" {
			return nil, fmt.Errorf("unexpected sched-credit2 args %q", args)
		}
		if _, d := byArg(args[2]); d == nil {
			return nil, errors.New("exit status 1: no such domain")
		}
		return nil, nil
	case "list":
		var b strings.Builder
		b.WriteString("Name                                        ID   Mem VCPUs\tState\tTime(s)\n")
		for id := DomID(0); id < f.next; id++ {
			if d := f.doms[id]; d != nil {
				fmt.Fprintf(&b, "%-40s %5d %5d %5d     %s  %8.1f\n", d.name, id, 128, 1, d.flags, 0.5)
			}
		}
		if f.onList != nil {
			f.onList()
		}
		return []byte(b.String()), nil
	}
	return nil, fmt.Errorf("fake xl: unknown verb %q", verb)
}

func (f *fakeXL) setFlags(id DomID, flags string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.doms[id].flags = flags
}

func (f *fakeXL) remove(id DomID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.doms, id)
}

func (f *fakeXL) callLog() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, "; ")
}

func newTestXL(t *testing.T, store Watcher) (*XL, *fakeXL) {
	f := newFakeXL(t)
	x := NewXL(XLOptions{Path: "/usr/sbin/xl", Store: store, TempDir: t.TempDir()})
	x.run = f.run
	return x, f
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestXLLifecycle(t *testing.T) {
	x, f := newTestXL(t, nil)
	ctx := ctxT(t)
	cfg := validConfig()
	cfg.Cmdline = `quiet x="y"`
	id, err := x.Create(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if id != 1 {
		t.Fatalf("Create = %d, want 1", id)
	}
	if len(f.configs) != 1 || f.configs[0] != cfg.xlConfig() {
		t.Fatalf("xl was given %q, want %q", f.configs, cfg.xlConfig())
	}
	if ents, _ := os.ReadDir(x.tempDir); len(ents) != 0 {
		t.Errorf("Create left %d entries in its temp dir", len(ents))
	}
	info, err := x.Info(ctx, id)
	if err != nil || info.State != StatePaused || info.Name != cfg.Name {
		t.Fatalf("Info after Create = %+v, %v; want paused %s", info, err, cfg.Name)
	}
	if err := x.Unpause(ctx, id); err != nil {
		t.Fatal(err)
	}
	if info, _ := x.Info(ctx, id); info.State != StateRunning {
		t.Fatalf("after Unpause: %v", info.State)
	}
	if err := x.Pause(ctx, id); err != nil {
		t.Fatal(err)
	}
	if info, _ := x.Info(ctx, id); info.State != StatePaused {
		t.Fatalf("after Pause: %v", info.State)
	}
	doms, err := x.List(ctx)
	if err != nil || len(doms) != 2 || doms[0].Name != "Domain-0" || doms[1].ID != id {
		t.Fatalf("List = %+v, %v", doms, err)
	}
	if err := x.Destroy(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Info(ctx, id); !errors.Is(err, ErrNoDomain) {
		t.Fatalf("Info after Destroy: %v, want ErrNoDomain", err)
	}
	if err := x.Destroy(ctx, id); !errors.Is(err, ErrNoDomain) {
		t.Fatalf("second Destroy: %v, want ErrNoDomain", err)
	}
	if err := x.Unpause(ctx, 0); err == nil {
		t.Fatal("Unpause of domain 0 succeeded")
	}
	want := "list; create -p -e -q " // then the path
	if log := f.callLog(); !strings.HasPrefix(log, want) ||
		!strings.Contains(log, "; domid runxen-abc; list; unpause 1; list; pause 1; list; list; destroy 1; list; destroy 1; list") {
		t.Fatalf("xl calls: %s", log)
	}
}

func TestXLCreateFailureLeavesNothing(t *testing.T) {
	x, f := newTestXL(t, nil)
	ctx := ctxT(t)
	// xl got as far as building the domain, then failed (a hotplug script
	// timing out, say).
	f.failOn["create-after"] = errors.New("exit status 3: libxl: error: hotplug timed out")
	_, err := x.Create(ctx, validConfig())
	if err == nil || !strings.Contains(err.Error(), "create domain runxen-abc: ") || !strings.Contains(err.Error(), "hotplug timed out") {
		t.Fatalf("Create error %v, want one with context and xl's message", err)
	}
	if len(f.doms) != 1 {
		t.Fatalf("domains left after a failed create: %+v", f.doms)
	}
	if !strings.Contains(f.callLog(), "destroy runxen-abc") {
		t.Fatalf("no destroy by name after failure: %s", f.callLog())
	}

	// A failure before anything existed destroys nothing.
	delete(f.failOn, "create-after")
	f.failOn["create"] = errors.New("exit status 1: bad config")
	f.calls = nil
	if _, err := x.Create(ctx, validConfig()); err == nil {
		t.Fatal("Create succeeded")
	}
	if strings.Contains(f.callLog(), "destroy") {
		t.Fatalf("destroyed a domain that was never made: %s", f.callLog())
	}
}

func TestXLCreateRejectsBadConfigBeforeXL(t *testing.T) {
	x, f := newTestXL(t, nil)
	cfg := validConfig()
	cfg.Name = "evil\"\nmemory=100000"
	_, err := x.Create(ctxT(t), cfg)
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Create error %v, want ErrInvalidConfig", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error message carries the raw newline: %q", err)
	}
	if len(f.calls) != 0 {
		t.Fatalf("xl was run: %s", f.callLog())
	}
}

func TestXLControlErrors(t *testing.T) {
	x, f := newTestXL(t, nil)
	ctx := ctxT(t)
	id, err := x.Create(ctx, validConfig())
	if err != nil {
		t.Fatal(err)
	}
	f.failOn["unpause"] = errors.New("exit status 1: libxl: error")
	err = x.Unpause(ctx, id)
	if err == nil || errors.Is(err, ErrNoDomain) || !strings.Contains(err.Error(), "unpause domain 1: ") {
		t.Fatalf("Unpause error %v", err)
	}
	f.failOn["list"] = errors.New("exit status 1: cannot list")
	if _, err := x.List(ctx); err == nil || !strings.Contains(err.Error(), "list domains: ") {
		t.Fatalf("List error %v", err)
	}
}

func newStore(t *testing.T) (*xenstoretest.Server, *xenstore.Client) {
	srv := xenstoretest.New()
	c := xenstore.NewClient(srv.Conn())
	t.Cleanup(func() {
		c.Close()
		srv.Close()
	})
	return srv, c
}

func TestXLWait(t *testing.T) {
	srv, store := newStore(t)
	x, f := newTestXL(t, store)
	ctx := ctxT(t)
	id, err := x.Create(ctx, validConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Unpause(ctx, id); err != nil {
		t.Fatal(err)
	}

	type result struct {
		info DomainInfo
		err  error
	}
	wait := func() chan result {
		ch := make(chan result, 1)
		go func() {
			info, err := x.Wait(ctx, id)
			ch <- result{info, err}
		}()
		return ch
	}
	listed := make(chan struct{}, 100)
	f.onList = func() { listed <- struct{}{} }

	// Shutdown: xenstored fires @releaseDomain, Wait looks and sees it.
	ch := wait()
	<-listed // the initial check
	select {
	case r := <-ch:
		t.Fatalf("Wait returned for a running domain: %+v, %v", r.info, r.err)
	default:
	}
	f.setFlags(id, "---sc-")
	srv.ReleaseDomain(uint32(id))
	r := <-ch
	if r.err != nil || r.info.State != StateShutdown || r.info.Reason != ReasonCrash {
		t.Fatalf("Wait = %+v, %v; want shutdown (crash)", r.info, r.err)
	}

	// A domain already shut down: Wait returns from its first check.
	if r := <-wait(); r.err != nil || r.info.State != StateShutdown {
		t.Fatalf("second Wait = %+v, %v", r.info, r.err)
	}

	// Destroyed while waited for: StateGone.
	f.setFlags(id, "-b----")
	for len(listed) > 0 {
		<-listed
	}
	ch = wait()
	<-listed // its initial check saw the domain running
	f.remove(id)
	srv.ReleaseDomain(uint32(id))
	if r := <-ch; r.err != nil || r.info.State != StateGone || r.info.ID != id {
		t.Fatalf("Wait after destroy = %+v, %v", r.info, r.err)
	}

	// Bounded by ctx.
	id2, err := x.Create(ctx, DomainConfig{Name: "two", Kernel: "/k", MemoryMiB: 64, VCPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := x.Wait(short, id2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with an expiring context: %v", err)
	}
	if n := srv.NumWatches(); n != 0 {
		t.Errorf("%d watches left registered", n)
	}
}

func TestXLWaitNeedsStore(t *testing.T) {
	x, _ := newTestXL(t, nil)
	if _, err := x.Wait(ctxT(t), 1); err == nil {
		t.Fatal("Wait without a xenstore connection succeeded")
	}
}

func TestWaitExitStoreLost(t *testing.T) {
	srv, store := newStore(t)
	info := func(context.Context, DomID) (DomainInfo, error) {
		return DomainInfo{ID: 1, State: StateRunning}, nil
	}
	done := make(chan error, 1)
	go func() {
		_, err := WaitExit(ctxT(t), store, info, 1)
		done <- err
	}()
	for srv.NumWatches() == 0 {
		time.Sleep(time.Millisecond)
	}
	srv.Close()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "watch ended") {
		t.Fatalf("WaitExit after xenstored went away: %v", err)
	}
}

func TestXLCreateRefusesTakenName(t *testing.T) {
	x, f := newTestXL(t, nil)
	ctx := ctxT(t)
	if _, err := x.Create(ctx, validConfig()); err != nil {
		t.Fatal(err)
	}
	f.calls = nil
	_, err := x.Create(ctx, validConfig())
	if err == nil || !strings.Contains(err.Error(), "domain 1 already has that name") {
		t.Fatalf("second Create with the same name: %v", err)
	}
	if log := f.callLog(); log != "list" {
		t.Fatalf("xl calls: %s; want only the list (no create, and above all no destroy)", log)
	}
	if _, err := x.Info(ctx, 1); err != nil {
		t.Fatalf("the first domain is gone: %v", err)
	}
}
