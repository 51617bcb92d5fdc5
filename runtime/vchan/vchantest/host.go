package vchantest

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

// Host is a fake Xen host for tests of code that reaches guests through
// xenstore and the grant and event channel devices (vchan users, the 9pfs
// backend, the agent client): one in-memory xenstored and one Hypervisor,
// with dom0's privileged xenstore connection and devices ready. Create it
// with NewHost; everything it opens is closed when the test ends.
type Host struct {
	Xenstored  *xenstoretest.Server
	Hypervisor *Hypervisor
	Dom0       *Endpoint

	t      testing.TB
	mu     sync.Mutex
	guests map[uint32]*Endpoint
}

// Endpoint is one domain's side of the host: its own xenstore connection
// (privileged for dom0, unprivileged for a guest) and its devices.
type Endpoint struct {
	ID      uint32
	Store   *xenstore.Client
	Devices *Domain
}

// NewHost returns a host with dom0 only, its domid in xenstore as on Xen.
func NewHost(t testing.TB) *Host {
	t.Helper()
	xs := xenstoretest.New()
	h := &Host{
		Xenstored:  xs,
		Hypervisor: New(),
		t:          t,
		guests:     make(map[uint32]*Endpoint),
	}
	h.Dom0 = &Endpoint{ID: 0, Store: xenstore.NewClient(xs.Conn()), Devices: h.Hypervisor.Domain(0)}
	// Registered first, so it runs after the test's own clean-ups, which
	// may still talk to xenstore.
	t.Cleanup(func() {
		h.mu.Lock()
		for _, g := range h.guests {
			g.Store.Close()
		}
		h.mu.Unlock()
		h.Dom0.Store.Close()
		xs.Close()
	})
	if err := xs.Write("/local/domain/0/domid", []byte("0")); err != nil {
		t.Fatalf("vchantest: dom0 domid: %v", err)
	}
	return h
}

// AddGuest creates domain id's xenstore directory as libxl leaves a new
// domain (in the parts these fakes use), introduces the domain and
// connects it: /local/domain/<id> and its device/ owned by dom0 and
// readable by the guest, with domid; data/ and error/ (where Linux
// reports device failures) owned by the guest.
func (h *Host) AddGuest(id uint32) *Endpoint {
	h.t.Helper()
	xs := h.Xenstored
	d := strconv.FormatUint(uint64(id), 10)
	home, owner, reader := "/local/domain/"+d, "n"+d, "r"+d
	for _, err := range []error{
		xs.Mkdir(home),
		xs.SetPermissions(home, "n0", reader),
		xs.Write(home+"/domid", []byte(d)),
		xs.Mkdir(home + "/device"),
		xs.SetPermissions(home+"/device", "n0", reader),
		xs.Mkdir(home + "/data"),
		xs.SetPermissions(home+"/data", owner),
		xs.Mkdir(home + "/error"),
		xs.SetPermissions(home+"/error", owner),
	} {
		if err != nil {
			h.t.Fatalf("vchantest: lay out domain %d: %v", id, err)
		}
	}
	xs.IntroduceDomain(id)
	return h.Connect(id)
}

// Connect returns domain id's side of the host, connecting it on first
// use. The domain's xenstore directory is the caller's business (AddGuest,
// or a xentest.Toolstack given this host's Xenstored).
func (h *Host) Connect(id uint32) *Endpoint {
	if id == 0 {
		return h.Dom0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	g := h.guests[id]
	if g == nil {
		g = &Endpoint{ID: id, Store: xenstore.NewClient(h.Xenstored.ConnAs(id)), Devices: h.Hypervisor.Domain(id)}
		h.guests[id] = g
	}
	return g
}

// Context returns a context that ends with the test, or after 30 seconds
// so that a hang fails the one test rather than the whole run.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
