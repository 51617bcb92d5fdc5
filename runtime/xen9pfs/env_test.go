package xen9pfs_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/vchan/vchantest"
	"github.com/runxen/runxen/runtime/xen9pfs"
	"github.com/runxen/runxen/runtime/xen9pfs/xen9pfstest"
	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

// ctxT bounds a test's calls: a hang fails the test, not the run.
var ctxT = vchantest.Context

// env is dom0 (the backend) and any number of guests, over one fake
// xenstored and one fake hypervisor.
type env struct {
	t       testing.TB
	hv      *vchantest.Hypervisor
	xs      *xenstoretest.Server
	hostXS  *xenstore.Client
	hostDev *vchantest.Domain
	guests  map[uint32]*guest
}

type guest struct {
	id  uint32
	xs  *xenstore.Client // the guest's own, unprivileged connection
	dev *vchantest.Domain
}

func newEnv(t testing.TB, guests ...uint32) *env {
	t.Helper()
	h := vchantest.NewHost(t)
	e := &env{t: t, hv: h.Hypervisor, xs: h.Xenstored, hostXS: h.Dom0.Store, hostDev: h.Dom0.Devices,
		guests: make(map[uint32]*guest)}
	for _, g := range guests {
		ep := h.AddGuest(g)
		e.guests[g] = &guest{id: g, xs: ep.Store, dev: ep.Devices}
	}
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) backend(g uint32, mod func(*xen9pfs.Config)) *xen9pfs.Backend {
	e.t.Helper()
	cfg := xen9pfs.Config{Store: e.hostXS, Devices: e.hostDev, Domain: g, CloseTimeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	b, err := xen9pfs.New(ctxT(e.t), cfg)
	must(e.t, err)
	e.t.Cleanup(func() { b.Close() })
	return b
}

func (e *env) add(b *xen9pfs.Backend, tag string, h xen9pfs.Handler) *xen9pfs.Device {
	e.t.Helper()
	d, err := b.Add(ctxT(e.t), xen9pfs.Share{Tag: tag, Handler: h, Path: "/srv/" + tag})
	must(e.t, err)
	return d
}

func (e *env) frontendConfig(g uint32, devid uint32) xen9pfstest.Config {
	gu := e.guests[g]
	return xen9pfstest.Config{Store: gu.xs, Devices: gu.dev, Domain: g, DevID: devid}
}

func (e *env) connect(g, devid uint32, mod func(*xen9pfstest.Config)) *xen9pfstest.Frontend {
	e.t.Helper()
	cfg := e.frontendConfig(g, devid)
	if mod != nil {
		mod(&cfg)
	}
	f, err := xen9pfstest.Connect(ctxT(e.t), cfg)
	must(e.t, err)
	e.t.Cleanup(f.Close)
	return f
}

// checkGone verifies that the device's nodes are gone and dom0 holds no
// mapping or event channel any more.
func (e *env) checkGone(d *xen9pfs.Device) {
	e.t.Helper()
	for _, p := range []string{d.FrontendPath(), d.BackendPath()} {
		if e.xs.Exists(p) {
			e.t.Errorf("%s still in xenstore:\n%s", p, e.xs.Dump())
		}
	}
}

// checkClean verifies that nothing of any 9pfs device is left: no nodes,
// no mappings, no bound event channels in dom0.
func (e *env) checkClean() {
	e.t.Helper()
	if n := e.hostDev.Open(); n != 0 {
		e.t.Errorf("dom0 still holds %d mappings/event channels", n)
	}
	for g := range e.guests {
		for _, p := range []string{
			fmt.Sprintf("/local/domain/%d/device/9pfs", g),
			"/local/domain/0/backend/9pfs",
			fmt.Sprintf("/local/domain/%d/error/device/9pfs", g),
		} {
			if e.xs.Exists(p) {
				e.t.Errorf("%s still in xenstore:\n%s", p, e.xs.Dump())
			}
		}
	}
}

func waitDone(t testing.TB, d *xen9pfs.Device) error {
	t.Helper()
	select {
	case <-d.Done():
		return d.Err()
	case <-time.After(10 * time.Second):
		t.Fatalf("%v not torn down", d)
		return nil
	}
}

// echo is a stand-in 9P server: it reads whole messages and answers each
// with type+1, the same tag and the same body, through a conn used as the
// byte stream a real server sees. It counts the Serve calls running.
type echo struct {
	running   atomic.Int32
	served    atomic.Int32
	mu        sync.Mutex
	lastErr   error
	maxSize   atomic.Int64
	transform func(req []byte) [][]byte // optional: the replies to send
}

func (h *echo) Serve(ctx context.Context, conn io.ReadWriteCloser) error {
	h.running.Add(1)
	h.served.Add(1)
	defer h.running.Add(-1)
	if m, ok := conn.(interface{ MaxMessageSize() int }); ok {
		h.maxSize.Store(int64(m.MaxMessageSize()))
	}
	for {
		req, err := readMsg(conn)
		if err != nil {
			h.mu.Lock()
			h.lastErr = err
			h.mu.Unlock()
			return nil
		}
		replies := [][]byte{reply(req)}
		if h.transform != nil {
			replies = h.transform(req)
		}
		for _, r := range replies {
			if _, err := conn.Write(r); err != nil {
				return nil
			}
		}
	}
}

func (h *echo) err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastErr
}

func readMsg(r io.Reader) ([]byte, error) {
	var hdr [7]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n < 7 {
		return nil, errors.New("short message")
	}
	m := make([]byte, n)
	copy(m, hdr[:])
	if _, err := io.ReadFull(r, m[7:]); err != nil {
		return nil, err
	}
	return m, nil
}

func reply(req []byte) []byte {
	r := append([]byte(nil), req...)
	r[4]++
	return r
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
