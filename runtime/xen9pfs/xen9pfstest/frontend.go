// Package xen9pfstest plays the guest side of Xen's 9pfs transport in
// tests, as Linux's net/9p/trans_xen.c (Linux 6.12) does it, over the
// in-process fakes of package vchantest and xenstoretest, so a backend
// (package xen9pfs) and the file server behind it can be tested without
// Xen.
//
// Like Linux, a Frontend waits for the backend's InitWait, reads versions,
// max-rings and max-ring-page-order, grants one interface page and
// 2^order data pages per ring, allocates one event channel per ring,
// publishes version, num-rings, ring-ref<N> and event-channel-<N> in one
// transaction (reading its tag there), switches to Initialised, and to
// Connected once the backend is. It sends each request whole on ring
// tag % num-rings, waiting for room, and reads replies as Linux does: as
// soon as a 7-byte header is in the in ring it takes the header's size as
// the reply's length. Unlike Linux, it checks that the whole reply really
// was there, and records a violation otherwise (Err): a backend must never
// publish part of a reply.
//
// The ring arithmetic here is written independently of package ring and
// of xen9pfs's own layout constants, from docs/misc/9pfs.pandoc, so that
// the two sides check each other.
//
// Hostile tests reach the raw shared memory through Intf and Data, and
// Send writes any bytes, framed or not.
package xen9pfstest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/runxen/runxen/runtime/gnttab"
	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/xenstore"
)

// Byte offsets in struct xen_9pfs_data_intf (docs/misc/9pfs.pandoc).
const (
	inConsOff    = 0
	inProdOff    = 4
	outConsOff   = 64
	outProdOff   = 68
	ringOrderOff = 128
	refOff       = 132
)

// Linux's choices (net/9p/trans_xen.c).
const (
	LinuxNumRings  = 2
	LinuxMaxOrder  = 9
	headerSize     = 7
	stateInitWait  = 2
	stateInitd     = 3
	stateConnected = 4
	stateClosing   = 5
	stateClosed    = 6
)

// GuestDevices is what the frontend needs of the Xen devices:
// *vchantest.Domain of the guest domain.
type GuestDevices interface {
	BindUnboundPort(remote uint32) (vchan.EventChannel, error)
	Share(remote uint32, pages int, notify *gnttab.UnmapNotify) (vchan.Memory, []uint32, error)
}

// Config describes the guest side of one device.
type Config struct {
	Store   *xenstore.Client // the guest's own xenstore connection
	Devices GuestDevices
	Domain  uint32 // the guest
	DevID   uint32
	// NumRings is the number of rings to ask for; 0 means Linux's 2.
	NumRings int
	// Order is the ring order to use; 0 means Linux's choice, the
	// backend's max-ring-page-order capped at 9. A test may set more than
	// the backend allows, to play a hostile frontend.
	Order int
	// StartIndex is where all four ring indices start (Linux: 0); a
	// value near 2^32 makes them wrap around soon.
	StartIndex uint32
}

// Ring is one ring as the frontend sees it.
type Ring struct {
	f     *Frontend
	idx   int
	ev    vchan.EventChannel
	page  []byte // interface page
	in    []byte // replies, backend -> frontend
	out   []byte // requests, frontend -> backend
	mems  []vchan.Memory
	ref   uint32
	order int

	sendMu   sync.Mutex
	sendKick chan struct{}
	recvKick chan struct{}
	evDone   chan struct{}
	rxDone   chan struct{}
}

// Frontend is one connected (or connecting) 9pfs device of the guest.
type Frontend struct {
	cfg     Config
	path    string // /local/domain/<domid>/device/9pfs/<devid>
	backend string // the backend's path, as the frontend node says
	backID  uint32
	tag     string
	rings   []*Ring

	stop     chan struct{}
	stopOnce sync.Once
	started  bool // the ring goroutines run

	holdMu   sync.Mutex
	hold     chan struct{} // closed while replies are taken
	released bool

	mu      sync.Mutex
	waiting map[uint16]chan []byte
	errs    []error
	stray   int // replies for tags nobody waited for
}

func word(mem []byte, off int) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }

// Connect runs the whole handshake: Start, then WaitConnected.
func Connect(ctx context.Context, cfg Config) (*Frontend, error) {
	f, err := Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := f.WaitConnected(ctx); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Start probes the device as Linux does when the backend reaches
// InitWait, and leaves the frontend Initialised.
func Start(ctx context.Context, cfg Config) (*Frontend, error) {
	f := &Frontend{
		cfg:     cfg,
		path:    fmt.Sprintf("/local/domain/%d/device/9pfs/%d", cfg.Domain, cfg.DevID),
		stop:    make(chan struct{}),
		waiting: make(map[uint16]chan []byte),
		hold:    make(chan struct{}),
	}
	close(f.hold)
	f.released = true
	st := cfg.Store
	b, err := st.Read(ctx, f.path+"/backend")
	if err != nil {
		return nil, fmt.Errorf("frontend: read backend: %w", err)
	}
	f.backend = string(b)
	b, err = st.Read(ctx, f.path+"/backend-id")
	if err != nil {
		return nil, fmt.Errorf("frontend: read backend-id: %w", err)
	}
	id, err := strconv.ParseUint(string(b), 10, 16)
	if err != nil {
		return nil, fmt.Errorf("frontend: backend-id %q: %w", b, err)
	}
	f.backID = uint32(id)
	if s, err := f.readState(ctx, f.path+"/state"); err != nil || s != 1 {
		return nil, fmt.Errorf("frontend: own state %d, %v: want Initialising", s, err)
	}
	if _, err := f.waitBackend(ctx, func(s int) bool { return s >= stateInitWait }); err != nil {
		return nil, err
	}

	// xen_9pfs_front_init.
	v, err := st.Read(ctx, f.backend+"/versions")
	if err != nil {
		return nil, fmt.Errorf("frontend: read versions: %w", err)
	}
	if !hasVersion1(string(v)) {
		return nil, fmt.Errorf("frontend: backend versions %q lack 1", v)
	}
	maxRings, err := f.readUint(ctx, f.backend+"/max-rings")
	if err != nil {
		return nil, err
	}
	n := cfg.NumRings
	if n == 0 {
		n = LinuxNumRings
	}
	if maxRings < uint64(LinuxNumRings) || maxRings < uint64(n) {
		return nil, fmt.Errorf("frontend: backend max-rings %d is too few", maxRings)
	}
	maxOrder, err := f.readUint(ctx, f.backend+"/max-ring-page-order")
	if err != nil {
		return nil, err
	}
	order := cfg.Order
	if order == 0 {
		order = int(min(maxOrder, LinuxMaxOrder))
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	for i := 0; i < n; i++ {
		r, err := f.allocRing(i, order)
		if err != nil {
			return nil, err
		}
		f.rings = append(f.rings, r)
	}
	err = st.Transaction(ctx, func(tx *xenstore.Tx) error {
		w := func(k, v string) error { return tx.Write(ctx, f.path+"/"+k, []byte(v)) }
		if err := w("version", "1"); err != nil {
			return err
		}
		if err := w("num-rings", strconv.Itoa(n)); err != nil {
			return err
		}
		for i, r := range f.rings {
			if err := w("ring-ref"+strconv.Itoa(i), strconv.FormatUint(uint64(r.ref), 10)); err != nil {
				return err
			}
			if err := w("event-channel-"+strconv.Itoa(i), strconv.FormatUint(uint64(r.ev.Port()), 10)); err != nil {
				return err
			}
		}
		tag, err := tx.Read(ctx, f.path+"/tag")
		if err != nil {
			return err
		}
		f.tag = string(tag)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("frontend: publish rings: %w", err)
	}
	f.started = true
	for _, r := range f.rings {
		go r.events()
		go r.receive()
	}
	if err := f.SetState(ctx, stateInitd); err != nil {
		return nil, err
	}
	ok = true
	return f, nil
}

func hasVersion1(s string) bool {
	for _, v := range strings.Split(s, ",") {
		if v == "1" {
			return true
		}
	}
	return false
}

func (f *Frontend) allocRing(i, order int) (*Ring, error) {
	d := f.cfg.Devices
	r := &Ring{
		f: f, idx: i, order: order,
		sendKick: make(chan struct{}, 1),
		recvKick: make(chan struct{}, 1),
		evDone:   make(chan struct{}),
		rxDone:   make(chan struct{}),
	}
	pageMem, refs, err := d.Share(f.backID, 1, nil)
	if err != nil {
		return nil, err
	}
	r.mems = append(r.mems, pageMem)
	r.page, r.ref = pageMem.Bytes()[:gnttab.PageSize], refs[0]
	if order >= 0 && order <= 10 {
		data, drefs, err := d.Share(f.backID, 1<<order, nil)
		if err != nil {
			r.free()
			return nil, err
		}
		r.mems = append(r.mems, data)
		half := len(data.Bytes()) / 2
		r.in, r.out = data.Bytes()[:half], data.Bytes()[half:]
		for j, ref := range drefs {
			if refOff+4*j+4 <= len(r.page) {
				atomic.StoreUint32(word(r.page, refOff+4*j), ref)
			}
		}
	}
	atomic.StoreUint32(word(r.page, ringOrderOff), uint32(order))
	for _, off := range []int{inConsOff, inProdOff, outConsOff, outProdOff} {
		atomic.StoreUint32(word(r.page, off), f.cfg.StartIndex)
	}
	if r.ev, err = d.BindUnboundPort(f.backID); err != nil {
		r.free()
		return nil, err
	}
	return r, nil
}

func (r *Ring) free() {
	for _, m := range r.mems {
		m.Close()
	}
	r.mems = nil
	if r.ev != nil {
		r.ev.Close()
	}
}

func (f *Frontend) readUint(ctx context.Context, path string) (uint64, error) {
	b, err := f.cfg.Store.Read(ctx, path)
	if err != nil {
		return 0, fmt.Errorf("frontend: read %s: %w", path, err)
	}
	v, err := strconv.ParseUint(string(b), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("frontend: %s = %q: %w", path, b, err)
	}
	return v, nil
}

func (f *Frontend) readState(ctx context.Context, path string) (int, error) {
	v, err := f.readUint(ctx, path)
	return int(v), err
}

// waitBackend waits until the backend's state satisfies ok and returns it.
func (f *Frontend) waitBackend(ctx context.Context, ok func(int) bool) (int, error) {
	w, err := f.cfg.Store.Watch(ctx, f.backend+"/state", "")
	if err != nil {
		return 0, err
	}
	defer w.Close()
	for {
		select {
		case _, open := <-w.Events():
			if !open {
				return 0, fmt.Errorf("frontend: watch ended: %v", w.Err())
			}
			s, err := f.readState(ctx, f.backend+"/state")
			if err != nil {
				// Linux reads a missing (or unreadable) backend
				// state as Unknown and waits on; a test wants to know.
				return 0, fmt.Errorf("frontend: backend state unreadable (removed?): %w", err)
			}
			if ok(s) {
				return s, nil
			}
		case <-ctx.Done():
			return 0, fmt.Errorf("frontend: waiting for the backend: %w", ctx.Err())
		}
	}
}

// WaitConnected waits for the backend's Connected and switches the
// frontend to Connected, as Linux's otherend_changed does.
func (f *Frontend) WaitConnected(ctx context.Context) error {
	s, err := f.waitBackend(ctx, func(s int) bool { return s >= stateConnected })
	if err != nil {
		return err
	}
	if s != stateConnected {
		return fmt.Errorf("frontend: backend went to state %d", s)
	}
	return f.SetState(ctx, stateConnected)
}

// SetState writes the frontend's state node.
func (f *Frontend) SetState(ctx context.Context, s int) error {
	return f.cfg.Store.Write(ctx, f.path+"/state", []byte(strconv.Itoa(s)))
}

// Shutdown closes the device as Linux does when the guest shuts down
// (xenbus_dev_shutdown): Closing, wait for the backend to close, Closed;
// then it releases the rings.
func (f *Frontend) Shutdown(ctx context.Context) error {
	defer f.Close()
	if err := f.SetState(ctx, stateClosing); err != nil {
		return err
	}
	if _, err := f.waitBackend(ctx, func(s int) bool { return s >= stateClosing }); err != nil {
		return err
	}
	return f.SetState(ctx, stateClosed)
}

// Close stops the frontend's goroutines and releases its grants and event
// channels, without any handshake (a module unloaded, a crash). It is
// idempotent.
func (f *Frontend) Close() {
	f.stopOnce.Do(func() {
		close(f.stop)
		for _, r := range f.rings {
			if r.ev != nil {
				r.ev.Close()
			}
		}
		for _, r := range f.rings {
			if f.started {
				<-r.evDone
				<-r.rxDone
			}
			for _, m := range r.mems {
				m.Close()
			}
			r.mems = nil
		}
	})
}

// Tag returns the tag the frontend read, which Linux matches against the
// mount source.
func (f *Frontend) Tag() string { return f.tag }

// Rings returns the frontend's rings.
func (f *Frontend) Rings() []*Ring { return f.rings }

// Err returns the protocol violations the frontend saw, joined.
func (f *Frontend) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return errors.Join(f.errs...)
}

// Stray counts replies whose tag no RoundTrip waited for.
func (f *Frontend) Stray() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stray
}

func (f *Frontend) violation(err error) {
	f.mu.Lock()
	f.errs = append(f.errs, err)
	f.mu.Unlock()
}

// Intf returns the ring's interface page, Data its in (reply) and out
// (request) areas, for tests that play a hostile frontend.
func (r *Ring) Intf() []byte           { return r.page }
func (r *Ring) Data() (in, out []byte) { return r.in, r.out }

// Notify signals the backend on the ring's event channel.
func (r *Ring) Notify() error { return r.ev.Notify() }

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// events is the ring's interrupt handler: wake the senders and the
// receiver.
func (r *Ring) events() {
	defer close(r.evDone)
	for {
		if err := r.ev.Wait(); err != nil {
			return
		}
		poke(r.sendKick)
		poke(r.recvKick)
	}
}

// Send writes b whole to the ring's out area once there is room, then
// notifies the backend (p9_xen_request). b need not be a valid message.
func (r *Ring) Send(ctx context.Context, b []byte) error {
	r.sendMu.Lock()
	defer r.sendMu.Unlock()
	size := uint32(len(r.out))
	if uint32(len(b)) > size {
		return fmt.Errorf("frontend: %d bytes never fit a %d-byte ring", len(b), size)
	}
	for {
		cons := atomic.LoadUint32(word(r.page, outConsOff))
		prod := atomic.LoadUint32(word(r.page, outProdOff))
		if size-(prod-cons) >= uint32(len(b)) {
			for i := range b {
				r.out[(prod+uint32(i))&(size-1)] = b[i]
			}
			atomic.StoreUint32(word(r.page, outProdOff), prod+uint32(len(b)))
			return r.ev.Notify()
		}
		select {
		case <-r.sendKick:
		case <-r.f.stop:
			return errors.New("frontend: closed")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// HoldReplies stops (true) or resumes (false) taking replies out of the
// rings, to let them fill up.
func (f *Frontend) HoldReplies(hold bool) {
	f.holdMu.Lock()
	defer f.holdMu.Unlock()
	if hold && f.released {
		f.hold, f.released = make(chan struct{}), false
	} else if !hold && !f.released {
		close(f.hold)
		f.released = true
	}
}

func (f *Frontend) holding() chan struct{} {
	f.holdMu.Lock()
	defer f.holdMu.Unlock()
	return f.hold
}

// receive is p9_xen_response, plus the check Linux does not make.
func (r *Ring) receive() {
	defer close(r.rxDone)
	size := uint32(len(r.in))
	for {
		select {
		case <-r.f.holding():
		case <-r.f.stop:
			return
		}
		cons := atomic.LoadUint32(word(r.page, inConsOff))
		prod := atomic.LoadUint32(word(r.page, inProdOff))
		queued := prod - cons
		if queued > size {
			r.f.violation(fmt.Errorf("ring %d: backend in_prod %d - in_cons %d exceeds %d", r.idx, prod, cons, size))
			return
		}
		if queued >= headerSize {
			var h [headerSize]byte
			for i := range h {
				h[i] = r.in[(cons+uint32(i))&(size-1)]
			}
			n := binary.LittleEndian.Uint32(h[:4])
			if n < headerSize || n > queued {
				r.f.violation(fmt.Errorf("ring %d: reply header says %d bytes, %d published: a partial or malformed reply", r.idx, n, queued))
				return
			}
			msg := make([]byte, n)
			for i := range msg {
				msg[i] = r.in[(cons+uint32(i))&(size-1)]
			}
			atomic.StoreUint32(word(r.page, inConsOff), cons+n)
			r.f.deliver(msg)
			continue
		}
		// Drained: tell the backend there is room, as Linux does.
		r.ev.Notify()
		select {
		case <-r.recvKick:
		case <-r.f.stop:
			return
		}
	}
}

func (f *Frontend) deliver(msg []byte) {
	tag := binary.LittleEndian.Uint16(msg[5:7])
	f.mu.Lock()
	ch := f.waiting[tag]
	delete(f.waiting, tag)
	if ch == nil {
		f.stray++
	}
	f.mu.Unlock()
	if ch != nil {
		ch <- msg
	}
}

// RoundTrip sends the 9P message msg on ring tag % num-rings, as Linux
// does, and returns the reply carrying the same tag.
func (f *Frontend) RoundTrip(ctx context.Context, msg []byte) ([]byte, error) {
	if len(msg) < headerSize {
		return nil, errors.New("frontend: message shorter than a header")
	}
	tag := binary.LittleEndian.Uint16(msg[5:7])
	ch := make(chan []byte, 1)
	f.mu.Lock()
	if f.waiting[tag] != nil {
		f.mu.Unlock()
		return nil, fmt.Errorf("frontend: tag %d already in flight", tag)
	}
	f.waiting[tag] = ch
	f.mu.Unlock()
	forget := func() {
		f.mu.Lock()
		if f.waiting[tag] == ch {
			delete(f.waiting, tag)
		}
		f.mu.Unlock()
	}
	r := f.rings[int(tag)%len(f.rings)]
	if err := r.Send(ctx, msg); err != nil {
		forget()
		return nil, err
	}
	select {
	case reply := <-ch:
		return reply, nil
	case <-f.stop:
		forget()
		return nil, errors.New("frontend: closed")
	case <-ctx.Done():
		forget()
		return nil, ctx.Err()
	}
}

// Msg builds a 9P message: size[4] type[1] tag[2] body.
func Msg(typ uint8, tag uint16, body []byte) []byte {
	m := make([]byte, headerSize+len(body))
	binary.LittleEndian.PutUint32(m, uint32(len(m)))
	m[4] = typ
	binary.LittleEndian.PutUint16(m[5:], tag)
	copy(m[headerSize:], body)
	return m
}
