package xen9pfs_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/xen9pfs"
	"github.com/runxen/runxen/runtime/xen9pfs/xen9pfstest"
)

// connected returns a backend for guest 5 with one connected device.
func connected(t *testing.T, e *env, mod func(*xen9pfs.Config)) (*xen9pfs.Backend, *xen9pfs.Device, *xen9pfstest.Frontend, *echo) {
	t.Helper()
	h := &echo{}
	b := e.backend(5, mod)
	d := e.add(b, "rootfs", h)
	f := e.connect(5, d.DevID(), nil)
	ctx := ctxT(t)
	must(t, d.WaitConnected(ctx))
	if _, err := f.RoundTrip(ctx, xen9pfstest.Msg(100, 1, nil)); err != nil {
		t.Fatal(err)
	}
	return b, d, f, h
}

// TestFrontendShutdown is the guest shutting down: Linux switches its
// connected devices to Closing and waits for the backend (5 s at most).
func TestFrontendShutdown(t *testing.T) {
	e := newEnv(t, 5)
	_, d, f, h := connected(t, e, nil)
	start := time.Now()
	must(t, f.Shutdown(ctxT(t)))
	if el := time.Since(start); el > time.Second {
		t.Errorf("closing handshake took %v", el)
	}
	if err := waitDone(t, d); !errors.Is(err, xen9pfs.ErrFrontendClosed) {
		t.Fatalf("Err = %v, want ErrFrontendClosed", err)
	}
	waitFor(t, "handler to return", func() bool { return h.running.Load() == 0 })
	if err := h.err(); err != io.EOF {
		t.Errorf("handler's Read ended with %v, want io.EOF", err)
	}
	e.checkClean()
}

// TestFrontendClosingStuck: a frontend that answers nothing after
// Closing is let go after CloseTimeout.
func TestFrontendClosingStuck(t *testing.T) {
	e := newEnv(t, 5)
	_, d, f, _ := connected(t, e, func(c *xen9pfs.Config) { c.CloseTimeout = 100 * time.Millisecond })
	must(t, f.SetState(ctxT(t), 5))
	if err := waitDone(t, d); !errors.Is(err, xen9pfs.ErrFrontendClosed) {
		t.Fatalf("Err = %v", err)
	}
	if st, _ := e.xs.Read(d.BackendPath() + "/state"); st != nil {
		t.Fatalf("backend node still there, state %q", st)
	}
	e.checkClean()
}

func TestFrontendClosedDirectly(t *testing.T) {
	e := newEnv(t, 5)
	_, d, f, _ := connected(t, e, nil)
	must(t, f.SetState(ctxT(t), 6))
	if err := waitDone(t, d); !errors.Is(err, xen9pfs.ErrFrontendClosed) {
		t.Fatalf("Err = %v", err)
	}
	e.checkClean()
}

// TestDomainDeath: @releaseDomain for the guest ends all its devices,
// connected or not; another guest's devices carry on.
func TestDomainDeath(t *testing.T) {
	e := newEnv(t, 5, 6)
	b5, d5, _, h5 := connected(t, e, nil)
	idle := e.add(b5, "never", &echo{})
	b6 := e.backend(6, nil)
	d6 := e.add(b6, "rootfs", &echo{})
	f6 := e.connect(6, 0, nil)
	must(t, d6.WaitConnected(ctxT(t)))

	e.xs.ReleaseDomain(5)
	for _, d := range []*xen9pfs.Device{d5, idle} {
		if err := waitDone(t, d); !errors.Is(err, xen9pfs.ErrDomainGone) {
			t.Fatalf("%v: Err = %v", d, err)
		}
		e.checkGone(d)
	}
	waitFor(t, "handler to return", func() bool { return h5.running.Load() == 0 })
	if _, err := b5.Add(ctxT(t), xen9pfs.Share{Tag: "late", Handler: &echo{}}); !errors.Is(err, xen9pfs.ErrDomainGone) {
		t.Fatalf("Add after the domain's death: %v", err)
	}
	if _, err := f6.RoundTrip(ctxT(t), xen9pfstest.Msg(1, 3, []byte("still here"))); err != nil {
		t.Fatalf("guest 6 after guest 5 died: %v", err)
	}
	if d6.Err() != nil {
		t.Fatal(d6.Err())
	}
	must(t, b6.Close())
	must(t, b5.Close())
	e.checkClean()
}

// TestDomainExitedHook: with a toolstack check, a domain that shut down
// (still known to xenstored) lets go of its devices at once.
func TestDomainExitedHook(t *testing.T) {
	e := newEnv(t, 5)
	exited := make(chan struct{})
	check := func(ctx context.Context, domid uint32) (bool, error) {
		if domid != 5 {
			return false, errors.New("wrong domain")
		}
		select {
		case <-exited:
			return true, nil
		default:
			return false, nil
		}
	}
	_, d, _, _ := connected(t, e, func(c *xen9pfs.Config) { c.DomainExited = check })
	e.xs.ReleaseDomain(7) // another domain: nothing happens
	time.Sleep(20 * time.Millisecond)
	if d.Err() != nil {
		t.Fatalf("device ended on another domain's death: %v", d.Err())
	}
	close(exited)
	e.xs.IntroduceDomain(9)
	e.xs.ReleaseDomain(9) // any @releaseDomain makes the backend look again
	if err := waitDone(t, d); !errors.Is(err, xen9pfs.ErrDomainGone) {
		t.Fatalf("Err = %v", err)
	}
	e.checkClean()
}

// TestToolstackRemovesNodes: the toolstack destroying the domain removes
// its whole home directory; the backend follows and removes its own node.
func TestToolstackRemovesNodes(t *testing.T) {
	e := newEnv(t, 5)
	_, d, _, _ := connected(t, e, nil)
	must(t, e.xs.Rm("/local/domain/5"))
	if err := waitDone(t, d); !errors.Is(err, xen9pfs.ErrRemoved) {
		t.Fatalf("Err = %v", err)
	}
	e.checkClean()

	e2 := newEnv(t, 5)
	_, d2, _, _ := connected(t, e2, nil)
	must(t, e2.xs.Write(d2.BackendPath()+"/online", []byte("0")))
	if err := waitDone(t, d2); !errors.Is(err, xen9pfs.ErrRemoved) {
		t.Fatalf("online=0: Err = %v", err)
	}
	e2.checkClean()
}

// TestNeverConnects: a guest that never probes the device makes
// WaitConnected fail within its deadline with an error saying where the
// handshake stopped; Close then leaves nothing.
func TestNeverConnects(t *testing.T) {
	e := newEnv(t, 5)
	b := e.backend(5, nil)
	d := e.add(b, "rootfs", &echo{})
	ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := b.WaitConnected(ctx)
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("WaitConnected took %v", el)
	}
	if !errors.Is(err, xen9pfs.ErrNotConnected) || !errors.Is(err, context.DeadlineExceeded) ||
		!strings.Contains(err.Error(), "frontend Initialising, backend InitWait") ||
		!strings.Contains(err.Error(), `tag "rootfs"`) {
		t.Fatalf("WaitConnected: %v", err)
	}
	t.Log(err)
	must(t, b.Close())
	if !errors.Is(d.Err(), xen9pfs.ErrClosed) {
		t.Fatalf("Err = %v", d.Err())
	}
	e.checkClean()
}

// TestFrontendFatal: Linux's xenbus_dev_fatal writes an error node and
// switches to Closing; WaitConnected reports the guest's words.
func TestFrontendFatal(t *testing.T) {
	e := newEnv(t, 5)
	b := e.backend(5, func(c *xen9pfs.Config) { c.CloseTimeout = 50 * time.Millisecond })
	d := e.add(b, "rootfs", &echo{})
	g := e.guests[5]
	ctx := ctxT(t)
	must(t, g.xs.Write(ctx, "/local/domain/5/error/device/9pfs/0/error", []byte("-12 writing xenstore")))
	must(t, g.xs.Write(ctx, d.FrontendPath()+"/state", []byte("5")))
	err := d.WaitConnected(ctx)
	if !errors.Is(err, xen9pfs.ErrFrontendClosed) || !strings.Contains(err.Error(), "-12 writing xenstore") {
		t.Fatalf("WaitConnected: %v", err)
	}
	e.checkClean()
}

func TestHandlerEnds(t *testing.T) {
	for name, h := range map[string]xen9pfs.HandlerFunc{
		"returns": func(ctx context.Context, conn io.ReadWriteCloser) error { return errors.New("no more") },
		"panics":  func(ctx context.Context, conn io.ReadWriteCloser) error { panic("bug") },
		"closes": func(ctx context.Context, conn io.ReadWriteCloser) error {
			conn.Close()
			<-ctx.Done()
			return nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, 5)
			b := e.backend(5, nil)
			d := e.add(b, "rootfs", h)
			other := e.add(b, "vol", &echo{})
			// The device may fail before the guest saw it connected.
			f, err := xen9pfstest.Start(ctxT(t), e.frontendConfig(5, d.DevID()))
			if err == nil {
				defer f.Close()
				f.WaitConnected(ctxT(t))
			}
			fo := e.connect(5, other.DevID(), nil)
			err = waitDone(t, d)
			if err == nil || errors.Is(err, xen9pfs.ErrClosed) {
				t.Fatalf("Err = %v", err)
			}
			t.Log(err)
			e.checkGone(d)
			if _, err := fo.RoundTrip(ctxT(t), xen9pfstest.Msg(1, 1, nil)); err != nil {
				t.Fatalf("the other device: %v", err)
			}
			must(t, b.Close())
			e.checkClean()
		})
	}
}

// TestReconnect: a guest that starts over (Initialising after Connected)
// gets a fresh connection and a fresh Serve.
func TestReconnect(t *testing.T) {
	e := newEnv(t, 5)
	b, d, f, h := connected(t, e, nil)
	ctx := ctxT(t)
	f.Close()
	must(t, f.SetState(ctx, 1))
	waitFor(t, "backend InitWait", func() bool {
		v, _ := e.xs.Read(d.BackendPath() + "/state")
		return string(v) == "2"
	})
	if e.hostDev.Open() != 0 {
		t.Fatalf("old connection still holds %d mappings/ports", e.hostDev.Open())
	}
	f2 := e.connect(5, d.DevID(), nil)
	if _, err := f2.RoundTrip(ctx, xen9pfstest.Msg(100, 9, []byte("again"))); err != nil {
		t.Fatal(err)
	}
	if h.served.Load() != 2 {
		t.Fatalf("Serve called %d times, want 2", h.served.Load())
	}
	must(t, b.Close())
	e.checkClean()
}

func TestRemoveAll(t *testing.T) {
	e := newEnv(t, 5)
	b := e.backend(5, nil)
	e.add(b, "a", &echo{})
	e.add(b, "b", &echo{})
	// The process owning b dies: its nodes stay behind.
	must(t, xen9pfs.RemoveAll(ctxT(t), e.hostXS, 0, 5))
	for _, d := range b.Devices() {
		waitDone(t, d)
	}
	e.checkClean()
}
