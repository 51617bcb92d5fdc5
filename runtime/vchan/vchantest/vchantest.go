// Package vchantest is an in-process stand-in for the Xen devices a vchan
// uses: grant tables over plain Go memory and event channels over Go
// channels, so vchan endpoints (and their users) can be tested in one
// process without Xen.
//
// A Hypervisor holds the grants and ports of every fake domain;
// Hypervisor.Domain returns the vchan.Devices of one domain. Like Xen, it
// only lets the domain a page was granted to map it, and only the domain a
// port was allocated for bind to it. Unmap notifications happen as the
// kernel does them: the byte is cleared (with an atomic operation on its
// aligned word, which is what makes the fake race-detector clean) and the
// event sent. Domain.Crash simulates the death of the process owning a
// domain's vchans: all its mappings and ports go away, with their unmap
// notifications, while the vchan objects themselves are left alone.
//
// Host puts a Hypervisor together with an in-memory xenstored
// (xenstoretest) and each domain's connection to it: the fake host most
// tests of vchan users start from.
package vchantest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/runxen/runxen/runtime/gnttab"
	"github.com/runxen/runxen/runtime/vchan"
)

// Hypervisor is the shared state of the fake domains. Create it with New.
type Hypervisor struct {
	mu       sync.Mutex
	grants   map[key]*grant
	ports    map[key]*port
	nextRef  map[uint32]uint32
	nextPort map[uint32]uint32
	domains  map[uint32]*Domain
}

type key struct{ dom, n uint32 }

type grant struct {
	to    uint32
	area  []byte // the whole Share call's memory
	index int    // which page of area
	alloc *allocation
}

type allocation struct{ area []byte }

type port struct {
	dom, num  uint32
	remoteDom uint32 // allowed or bound remote domain
	peer      *port  // nil while unbound
	pending   chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
}

// New returns an empty Hypervisor.
func New() *Hypervisor {
	return &Hypervisor{
		grants:   make(map[key]*grant),
		ports:    make(map[key]*port),
		nextRef:  make(map[uint32]uint32),
		nextPort: make(map[uint32]uint32),
		domains:  make(map[uint32]*Domain),
	}
}

// Domain returns the devices of domain id, creating it on first use.
func (h *Hypervisor) Domain(id uint32) *Domain {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.domains[id]
	if d == nil {
		d = &Domain{h: h, id: id, live: make(map[any]struct{})}
		h.domains[id] = d
	}
	return d
}

// Domain is one fake domain's view of the devices; it implements
// vchan.Devices.
type Domain struct {
	h  *Hypervisor
	id uint32

	mu   sync.Mutex
	live map[any]struct{} // *memory and *event not yet closed

	fault atomic.Pointer[func(op string) error]
}

// SetFault installs f, called before every operation with "bind", "share"
// or "map"; an error it returns fails the operation. Nil removes it.
func (d *Domain) SetFault(f func(op string) error) {
	if f == nil {
		d.fault.Store(nil)
		return
	}
	d.fault.Store(&f)
}

func (d *Domain) injected(op string) error {
	if f := d.fault.Load(); f != nil {
		return (*f)(op)
	}
	return nil
}

var (
	_ vchan.Devices = (*Domain)(nil)
	_ vchan.Mapped  = (*memory)(nil)
)

// ID returns the domain ID.
func (d *Domain) ID() uint32 { return d.id }

func (d *Domain) track(x any) {
	d.mu.Lock()
	d.live[x] = struct{}{}
	d.mu.Unlock()
}

func (d *Domain) untrack(x any) {
	d.mu.Lock()
	delete(d.live, x)
	d.mu.Unlock()
}

// Open returns how many memories and event channels of the domain are not
// closed: zero after every vchan was closed.
func (d *Domain) Open() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.live)
}

// Crash tears down every memory and event channel of the domain as the
// kernel does when the owning process dies: unmap notifications fire.
func (d *Domain) Crash() {
	d.mu.Lock()
	var xs []any
	for x := range d.live {
		xs = append(xs, x)
	}
	d.mu.Unlock()
	// A dying process loses its mappings (exit_mm) before its files
	// (exit_files).
	for _, x := range xs {
		if m, ok := x.(*memory); ok {
			m.Close()
		}
	}
	for _, x := range xs {
		if e, ok := x.(*event); ok {
			e.Close()
		}
	}
}

// BindUnboundPort implements vchan.Devices.
func (d *Domain) BindUnboundPort(remote uint32) (vchan.EventChannel, error) {
	if err := d.injected("bind"); err != nil {
		return nil, err
	}
	h := d.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextPort[d.id]++
	p := &port{dom: d.id, num: h.nextPort[d.id], remoteDom: remote,
		pending: make(chan struct{}, 1), closed: make(chan struct{})}
	h.ports[key{d.id, p.num}] = p
	e := &event{d: d, p: p}
	d.track(e)
	return e, nil
}

// BindInterdomain implements vchan.Devices.
func (d *Domain) BindInterdomain(remote, remotePort uint32) (vchan.EventChannel, error) {
	if err := d.injected("bind"); err != nil {
		return nil, err
	}
	h := d.h
	h.mu.Lock()
	defer h.mu.Unlock()
	rp := h.ports[key{remote, remotePort}]
	if rp == nil || rp.peer != nil || rp.remoteDom != d.id {
		return nil, fmt.Errorf("vchantest: port %d of domain %d is not open to domain %d", remotePort, remote, d.id)
	}
	h.nextPort[d.id]++
	p := &port{dom: d.id, num: h.nextPort[d.id], remoteDom: remote, peer: rp,
		pending: make(chan struct{}, 1), closed: make(chan struct{})}
	rp.peer = p
	h.ports[key{d.id, p.num}] = p
	e := &event{d: d, p: p}
	d.track(e)
	return e, nil
}

type event struct {
	d *Domain
	p *port
}

func (e *event) Port() uint32 { return e.p.num }

func (e *event) Notify() error {
	select {
	case <-e.p.closed:
		return errors.New("vchantest: notify on a closed port")
	default:
	}
	e.d.h.mu.Lock()
	peer := e.p.peer
	e.d.h.mu.Unlock()
	if peer != nil {
		select {
		case peer.pending <- struct{}{}:
		default: // already pending: events coalesce, as in Xen
		}
	}
	return nil
}

func (e *event) Wait() error {
	select {
	case <-e.p.pending:
		return nil
	case <-e.p.closed:
		return errors.New("vchantest: port closed")
	}
}

func (e *event) Close() error {
	first := false
	e.p.closeOnce.Do(func() {
		first = true
		close(e.p.closed)
	})
	if !first {
		return errors.New("vchantest: port already closed")
	}
	h := e.d.h
	h.mu.Lock()
	delete(h.ports, key{e.p.dom, e.p.num})
	if e.p.peer != nil {
		e.p.peer.peer = nil // the remote end is left unbound, as in Xen
	}
	h.mu.Unlock()
	e.d.untrack(e)
	return nil
}

type memory struct {
	d      *Domain
	mem    []byte
	notify *gnttab.UnmapNotify
	// notifyPort is the port to signal on unmap. Like the kernel (which
	// takes a reference on the event channel), it stays usable after the
	// port's owner closed it.
	notifyPort *port
	mu         sync.Mutex // guards notify and notifyPort
	onClose    func()
	once       sync.Once
}

// newMemory returns a memory with notify set as by SET_UNMAP_NOTIFY.
func (d *Domain) newMemory(mem []byte, notify *gnttab.UnmapNotify) (*memory, error) {
	m := &memory{d: d, mem: mem}
	if notify != nil {
		if err := m.SetUnmapNotify(*notify); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// SetUnmapNotify implements vchan.Mapped, checking n as the kernel does.
func (m *memory) SetUnmapNotify(n gnttab.UnmapNotify) error {
	if n.Offset < 0 || n.Offset >= len(m.mem) {
		return fmt.Errorf("vchantest: notify offset %d out of range", n.Offset)
	}
	if n.Action == 0 || n.Action&^(gnttab.NotifyClearByte|gnttab.NotifySendEvent) != 0 {
		return fmt.Errorf("vchantest: bad notify action %d", n.Action)
	}
	var p *port
	if n.Action&gnttab.NotifySendEvent != 0 {
		m.d.h.mu.Lock()
		p = m.d.h.ports[key{m.d.id, n.Port}]
		m.d.h.mu.Unlock()
		if p == nil {
			return fmt.Errorf("vchantest: notify port %d is not bound", n.Port)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.notify, m.notifyPort = &n, p
	return nil
}

func (m *memory) Bytes() []byte { return m.mem }

func (m *memory) Close() error {
	first := false
	m.once.Do(func() {
		first = true
		m.mu.Lock()
		n, p := m.notify, m.notifyPort
		m.mu.Unlock()
		if n != nil {
			if n.Action&gnttab.NotifyClearByte != 0 {
				clearByte(m.mem, n.Offset)
			}
			if p != nil {
				m.d.h.mu.Lock()
				peer := p.peer
				m.d.h.mu.Unlock()
				if peer != nil {
					select {
					case peer.pending <- struct{}{}:
					default:
					}
				}
			}
		}
		if m.onClose != nil {
			m.onClose()
		}
		m.d.untrack(m)
	})
	if !first {
		return errors.New("vchantest: memory already closed")
	}
	return nil
}

// clearByte zeroes one byte with a CAS on its aligned 32-bit word, so it
// is atomic with respect to the vchan's own atomic operations on that word.
func clearByte(mem []byte, off int) {
	base := off &^ 3
	w := (*uint32)(unsafe.Pointer(&mem[base]))
	b := []byte{0, 0, 0, 0}
	b[off-base] = 0xff
	mask := binary.NativeEndian.Uint32(b)
	for {
		old := atomic.LoadUint32(w)
		if atomic.CompareAndSwapUint32(w, old, old&^mask) {
			return
		}
	}
}

// Share implements vchan.Devices: it allocates zeroed, page-aligned memory
// and grants each page to remote.
func (d *Domain) Share(remote uint32, pages int, notify *gnttab.UnmapNotify) (vchan.Memory, []uint32, error) {
	if err := d.injected("share"); err != nil {
		return nil, nil, err
	}
	if pages <= 0 || pages > gnttab.MaxPages {
		return nil, nil, fmt.Errorf("vchantest: share %d pages", pages)
	}
	area := alignedPages(pages)
	m, err := d.newMemory(area, notify)
	if err != nil {
		return nil, nil, err
	}
	a := &allocation{area: area}
	h := d.h
	h.mu.Lock()
	refs := make([]uint32, pages)
	for i := range refs {
		h.nextRef[d.id]++
		refs[i] = h.nextRef[d.id] + 7 // never 0
		h.grants[key{d.id, refs[i]}] = &grant{to: remote, area: area, index: i, alloc: a}
	}
	h.mu.Unlock()
	m.onClose = func() {
		// Like gntalloc after DEALLOC_GREF: the grants end when the
		// granter unmaps; an existing peer mapping keeps the memory.
		h.mu.Lock()
		for _, r := range refs {
			delete(h.grants, key{d.id, r})
		}
		h.mu.Unlock()
	}
	d.track(m)
	return m, refs, nil
}

// Map implements vchan.Devices. The refs must be pages of one Share call,
// in order, granted to this domain.
func (d *Domain) Map(remote uint32, refs []uint32, writable bool) (vchan.Mapped, error) {
	if err := d.injected("map"); err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		return nil, errors.New("vchantest: map no refs")
	}
	h := d.h
	h.mu.Lock()
	var first *grant
	for i, r := range refs {
		g := h.grants[key{remote, r}]
		if g == nil || g.to != d.id {
			h.mu.Unlock()
			return nil, fmt.Errorf("vchantest: grant %d of domain %d is not open to domain %d", r, remote, d.id)
		}
		if i == 0 {
			first = g
		} else if g.alloc != first.alloc || g.index != first.index+i {
			h.mu.Unlock()
			return nil, errors.New("vchantest: refs are not consecutive pages of one share")
		}
	}
	h.mu.Unlock()
	start := first.index * gnttab.PageSize
	mem := first.area[start : start+len(refs)*gnttab.PageSize : start+len(refs)*gnttab.PageSize]
	m, _ := d.newMemory(mem, nil)
	d.track(m)
	return m, nil
}

// alignedPages returns zeroed memory of n pages starting on a page
// boundary, like a mapping.
func alignedPages(n int) []byte {
	buf := make([]byte, (n+1)*gnttab.PageSize)
	off := int(-uintptr(unsafe.Pointer(&buf[0])) & (gnttab.PageSize - 1))
	return buf[off : off+n*gnttab.PageSize : off+n*gnttab.PageSize]
}
