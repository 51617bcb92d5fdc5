package xen9pfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/containerd/log"

	"github.com/runxen/runxen/runtime/gnttab"
	"github.com/runxen/runxen/runtime/ring"
	"github.com/runxen/runxen/runtime/xenstore"
)

// Device is one 9pfs device of a guest: one share, one tag, one xenstore
// device (frontend and backend node), and while the frontend is connected
// one connection of several rings carrying one 9P session.
//
// Its goroutine follows the frontend through the XenbusState handshake:
//
//	frontend Initialised  -> read num-rings, ring-ref<N>, event-channel-<N>;
//	                         map and bind every ring; serve; backend Connected
//	frontend Connected    -> WaitConnected returns
//	frontend Closing      -> stop serving, unmap, unbind; backend Closing
//	frontend Closed       -> backend Closed; remove both nodes; end
//	frontend Initialising -> (after a connection: the guest starts over)
//	                         drop the connection; backend InitWait again
//
// and ends, releasing everything and removing its nodes, on the first of:
// the frontend closing, its nodes disappearing, the domain exiting, Close,
// or a failure (a frontend breaking the protocol, the file server quitting,
// xenstore going away). A failure ends this device only: the domain's other
// devices keep serving.
type Device struct {
	b       *Backend
	tag     string
	h       Handler
	started bool // guarded by b.mu: run was started

	// Set by init, constant afterwards.
	id    uint32
	fpath string // /local/domain/<domid>/device/9pfs/<id>
	bpath string // /local/domain/<backend>/backend/9pfs/<domid>/<id>
	epath string // where Linux's xenbus_dev_fatal writes: /local/domain/<domid>/error/device/9pfs/<id>
	ctx   context.Context

	stopCh   chan struct{}
	stopOnce sync.Once
	stopWhy  error

	connCh   chan struct{} // closed when the frontend first reached Connected
	connOnce sync.Once

	done     chan struct{} // closed when the device is torn down
	endErr   error         // why it ended, set before done is closed
	cleanErr error         // what went wrong tearing down, likewise

	mu    sync.Mutex
	front XenbusState // last frontend state seen
	back  XenbusState // last backend state written

	// Owned by the run goroutine.
	conn     *conn
	handlers []chan struct{} // handlerDone of every connection made
	closing  <-chan time.Time
	errs     []error // teardown errors
}

func newDevice(b *Backend, share Share) *Device {
	return &Device{
		b:      b,
		tag:    share.Tag,
		h:      share.Handler,
		stopCh: make(chan struct{}),
		connCh: make(chan struct{}),
		done:   make(chan struct{}),
		back:   StateInitWait,
	}
}

func (d *Device) init(id uint32) {
	sid := strconv.FormatUint(uint64(id), 10)
	d.id = id
	d.fpath = d.b.fbase + "/" + sid
	d.bpath = d.b.bbase + "/" + sid
	d.epath = d.b.ebase + "/" + sid
	d.ctx = log.WithLogger(d.b.ctx, log.G(d.b.ctx).WithField("devid", id).WithField("tag", d.tag))
}

// DevID returns the device ID, the last element of its xenstore paths.
func (d *Device) DevID() uint32 { return d.id }

// Tag returns the mount tag.
func (d *Device) Tag() string { return d.tag }

// FrontendPath and BackendPath return the device's xenstore directories.
func (d *Device) FrontendPath() string { return d.fpath }
func (d *Device) BackendPath() string  { return d.bpath }

func (d *Device) String() string {
	return fmt.Sprintf("9pfs device %d (tag %q) of domain %d", d.id, d.tag, d.b.cfg.Domain)
}

// Done is closed once the device is torn down: everything released, its
// nodes removed.
func (d *Device) Done() <-chan struct{} { return d.done }

// Err returns nil while the device lives, then why it ended: ErrClosed,
// ErrDomainGone, ErrFrontendClosed, ErrRemoved, or an error describing a
// failure (wrapping ErrProtocol or ring.ErrCorrupt for a frontend that
// broke the protocol).
func (d *Device) Err() error {
	select {
	case <-d.done:
		return d.endErr
	default:
		return nil
	}
}

// Close tears the device down at once: serving stops, event channels are
// unbound, grants unmapped and both xenstore nodes removed. It does not
// wait for the frontend: a running guest sees its device disappear, and a
// mount on it stops working. It is idempotent and returns what went wrong
// in the teardown, if anything.
func (d *Device) Close() error {
	d.stop(ErrClosed)
	<-d.done
	return d.cleanErr
}

// stop asks the device to end with why.
func (d *Device) stop(why error) {
	d.stopOnce.Do(func() {
		d.stopWhy = why
		close(d.stopCh)
	})
}

// WaitConnected waits until the frontend has connected (reached
// Connected with our rings serving). If ctx ends first, it returns an
// error wrapping ErrNotConnected and ctx's error, saying where the
// handshake stopped and what the guest reported, if anything; if the
// device ends first, an error wrapping why. Either way the caller should
// then Close the device (or its Backend), which leaves nothing behind. Give
// ctx a deadline: a guest that never loads its 9pfs driver never connects.
func (d *Device) WaitConnected(ctx context.Context) error {
	select {
	case <-d.connCh:
		return nil
	default:
	}
	select {
	case <-d.connCh:
		return nil
	case <-d.done:
		return fmt.Errorf("xen9pfs: %s ended before the frontend connected: %w", d, d.endErr)
	case <-ctx.Done():
		return d.notConnected(ctx.Err())
	}
}

func (d *Device) notConnected(cause error) error {
	d.mu.Lock()
	front, back := d.front, d.back
	d.mu.Unlock()
	msg := fmt.Sprintf("frontend %v, backend %v", front, back)
	if front == StateUnknown || front == StateInitialising {
		msg += "; the guest has not started the device (did the domain run, and is its 9pnet_xen driver loaded?)"
	}
	if e := d.frontendError(); e != "" {
		msg += "; the guest reported: " + e
	}
	return fmt.Errorf("xen9pfs: %s: %w: %w (%s)", d, ErrNotConnected, cause, msg)
}

// frontendError returns, sanitised, the error Linux's xenbus_dev_fatal
// wrote for the device, if any.
func (d *Device) frontendError() string {
	ctx, cancel := context.WithTimeout(d.b.ctx, 2*time.Second)
	defer cancel()
	v, err := d.b.cfg.Store.Read(ctx, d.epath+"/error")
	if err != nil || len(v) == 0 {
		return ""
	}
	if len(v) > 200 {
		v = v[:200]
	}
	return quote(v)
}

func (d *Device) setFront(s XenbusState) {
	d.mu.Lock()
	d.front = s
	d.mu.Unlock()
}

func (d *Device) backState() XenbusState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.back
}

func (d *Device) setBack(ctx context.Context, s XenbusState) error {
	if err := d.b.cfg.Store.Write(ctx, d.bpath+"/state", []byte(strconv.Itoa(int(s)))); err != nil {
		return fmt.Errorf("xen9pfs: switch backend to %v: %w", s, err)
	}
	d.mu.Lock()
	d.back = s
	d.mu.Unlock()
	return nil
}

func (d *Device) markConnected() {
	d.connOnce.Do(func() {
		log.G(d.ctx).WithField("rings", len(d.conn.rings)).WithField("msize", d.conn.maxMsg).
			Info("xen9pfs: frontend connected")
		close(d.connCh)
	})
}

// run is the device's goroutine: it follows the frontend until the device
// ends, then tears it down.
func (d *Device) run(fw, bw *xenstore.Watch) {
	why := d.loop(fw, bw)
	d.teardown(why, fw, bw)
}

func (d *Device) loop(fw, bw *xenstore.Watch) error {
	for {
		var connDone <-chan struct{}
		if d.conn != nil {
			connDone = d.conn.done
		}
		select {
		case _, ok := <-fw.Events():
			if !ok {
				return fmt.Errorf("xen9pfs: watch on %s ended: %w", fw.Path(), fw.Err())
			}
			if why := d.frontendChanged(); why != nil {
				return why
			}
		case _, ok := <-bw.Events():
			if !ok {
				return fmt.Errorf("xen9pfs: watch on %s ended: %w", bw.Path(), bw.Err())
			}
			if why := d.backendChanged(); why != nil {
				return why
			}
		case <-connDone:
			why := d.conn.why()
			if why == errServerClosed {
				return errors.New("xen9pfs: file server closed the connection")
			}
			return why
		case <-d.stopCh:
			return d.stopWhy
		case <-d.closing:
			log.G(d.ctx).Warnf("xen9pfs: frontend did not reach Closed within %v of backend Closing", d.b.cfg.CloseTimeout)
			return ErrFrontendClosed
		}
	}
}

// frontendChanged reads the frontend's state and acts on it; a non-nil
// result ends the device.
func (d *Device) frontendChanged() error {
	ctx, cancel := context.WithTimeout(d.ctx, cleanupTimeout)
	defer cancel()
	v, err := d.b.cfg.Store.Read(ctx, d.fpath+"/state")
	if errors.Is(err, fs.ErrNotExist) {
		return ErrRemoved
	}
	if err != nil {
		return fmt.Errorf("xen9pfs: read frontend state: %w", err)
	}
	st, err := parseState(v)
	if err != nil {
		return fmt.Errorf("xen9pfs: frontend state: %w", err)
	}
	d.setFront(st)
	switch st {
	case StateInitialising:
		if d.conn != nil || d.backState() != StateInitWait {
			// The guest starts over (a reset or kexec'd kernel): offer
			// a fresh connection.
			log.G(d.ctx).Info("xen9pfs: frontend restarted the handshake")
			d.disconnect()
			d.closing = nil
			return d.setBack(ctx, StateInitWait)
		}
	case StateInitialised, StateConnected:
		if d.conn == nil && d.backState() == StateInitWait {
			if err := d.connect(ctx); err != nil {
				return err
			}
			if err := d.setBack(ctx, StateConnected); err != nil {
				return err
			}
		}
		if st == StateConnected && d.conn != nil {
			d.markConnected()
		}
	case StateClosing:
		if b := d.backState(); b != StateClosing && b != StateClosed {
			d.disconnect()
			if err := d.setBack(ctx, StateClosing); err != nil {
				return err
			}
			d.closing = time.After(d.b.cfg.CloseTimeout)
		}
	case StateClosed:
		d.disconnect()
		if err := d.setBack(ctx, StateClosed); err != nil {
			log.G(d.ctx).WithError(err).Debug("xen9pfs: cannot confirm Closed")
		}
		return ErrFrontendClosed
	}
	// Unknown, InitWait, Reconfiguring, Reconfigured: nothing to do.
	return nil
}

// backendChanged notices a toolstack removing the backend node or setting
// it offline.
func (d *Device) backendChanged() error {
	ctx, cancel := context.WithTimeout(d.ctx, cleanupTimeout)
	defer cancel()
	v, err := d.b.cfg.Store.Read(ctx, d.bpath+"/online")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ErrRemoved
	case err != nil:
		return fmt.Errorf("xen9pfs: read backend online: %w", err)
	case string(v) == "0":
		return ErrRemoved
	}
	return nil
}

// connect reads the frontend's parameters, maps and binds every ring and
// starts serving.
func (d *Device) connect(ctx context.Context) error {
	p, err := d.readFrontend(ctx)
	if err != nil {
		return fmt.Errorf("xen9pfs: frontend parameters: %w", err)
	}
	rings, err := d.mapRings(p)
	if err != nil {
		return err
	}
	c := newConn(rings)
	d.conn = c
	d.handlers = append(d.handlers, c.handlerDone)
	c.start(d.h)
	return nil
}

// readFrontend reads the frontend's nodes in one transaction, so they are
// seen as one consistent set, and checks them.
func (d *Device) readFrontend(ctx context.Context) (frontendParams, error) {
	var p frontendParams
	err := d.b.cfg.Store.Transaction(ctx, func(tx *xenstore.Tx) error {
		var rerr error
		get := func(key string) ([]byte, bool) {
			if rerr != nil {
				return nil, false
			}
			v, err := tx.Read(ctx, d.fpath+"/"+key)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					rerr = err
				}
				return nil, false
			}
			return v, true
		}
		var perr error
		p, perr = parseFrontend(get, d.b.cfg.MaxRings)
		if rerr != nil {
			return fmt.Errorf("read frontend nodes: %w", rerr)
		}
		return perr
	})
	return p, err
}

// mapRings binds and maps every ring the frontend offers. On error
// everything it did is undone.
func (d *Device) mapRings(p frontendParams) (_ []*dataRing, err error) {
	cfg := &d.b.cfg
	var rings []*dataRing
	defer func() {
		if err != nil {
			for _, r := range rings {
				r.release()
			}
		}
	}()
	for i, rp := range p.Rings {
		r := &dataRing{
			idx:       i,
			readWake:  make(chan struct{}, 1),
			writeWake: make(chan struct{}, 1),
			rdDone:    make(chan struct{}),
			evDone:    make(chan struct{}),
		}
		rings = append(rings, r)
		if r.ev, err = cfg.Devices.BindInterdomain(cfg.Domain, rp.Port); err != nil {
			return nil, fmt.Errorf("xen9pfs: ring %d: bind event channel %d of domain %d: %w", i, rp.Port, cfg.Domain, err)
		}
		intf, err := cfg.Devices.Map(cfg.Domain, []uint32{rp.Ref}, true)
		if err != nil {
			return nil, fmt.Errorf("xen9pfs: ring %d: map interface page (grant %d): %w", i, rp.Ref, err)
		}
		r.mems = append(r.mems, intf)
		page := intf.Bytes()
		order, refs, err := parseIntf(page, cfg.MaxRingPageOrder)
		if err != nil {
			return nil, fmt.Errorf("xen9pfs: ring %d: %w", i, err)
		}
		r.size = ringBytes(order)
		half := len(refs) / 2
		// The in half carries our replies; the out half, the frontend's
		// requests, is mapped read-only: we never write there.
		in, err := cfg.Devices.Map(cfg.Domain, refs[:half], true)
		if err != nil {
			return nil, fmt.Errorf("xen9pfs: ring %d: map %d data pages: %w", i, half, err)
		}
		r.mems = append(r.mems, in)
		out, err := cfg.Devices.Map(cfg.Domain, refs[half:], false)
		if err != nil {
			return nil, fmt.Errorf("xen9pfs: ring %d: map %d data pages: %w", i, len(refs)-half, err)
		}
		r.mems = append(r.mems, out)
		if len(in.Bytes()) < r.size || len(out.Bytes()) < r.size || len(page) < gnttab.PageSize {
			return nil, fmt.Errorf("xen9pfs: ring %d: mappings too small", i)
		}
		idx := func(off int) *uint32 {
			p, err := ring.Index(page, off)
			if err != nil {
				panic(err) // offsets are constants inside the page
			}
			return p
		}
		if r.wr, err = ring.NewWriter(idx(offInCons), idx(offInProd), in.Bytes()[:r.size]); err != nil {
			return nil, err
		}
		if r.rd, err = ring.NewReader(idx(offOutCons), idx(offOutProd), out.Bytes()[:r.size]); err != nil {
			return nil, err
		}
	}
	return rings, nil
}

// release undoes a ring whose goroutines never started.
func (r *dataRing) release() {
	for i := len(r.mems) - 1; i >= 0; i-- {
		r.mems[i].Close()
	}
	r.mems = nil
	if r.ev != nil {
		r.ev.Close()
	}
}

// disconnect ends the current connection, if any, and releases its rings.
func (d *Device) disconnect() {
	c := d.conn
	if c == nil {
		return
	}
	d.conn = nil
	if err := c.shutdown(errConnClosed); err != nil {
		d.errs = append(d.errs, err)
	}
}

// teardown releases everything, removes the nodes and ends the device.
func (d *Device) teardown(why error, fw, bw *xenstore.Watch) {
	if c := d.conn; c != nil {
		d.conn = nil
		// A Handler sees a failure as its Read error, an orderly end as
		// io.EOF.
		connWhy := why
		if cleanEnd(why) {
			connWhy = errConnClosed
		}
		if err := c.shutdown(connWhy); err != nil {
			d.errs = append(d.errs, err)
		}
	}
	fw.Close()
	bw.Close()
	if why != nil && !errors.Is(why, ErrClosed) && !errors.Is(why, ErrDomainGone) {
		select {
		case <-d.connCh:
		default:
			if e := d.frontendError(); e != "" {
				why = fmt.Errorf("%w (the guest reported: %s)", why, e)
			}
		}
	}
	if err := d.removeNodes(); err != nil {
		d.errs = append(d.errs, err)
	}
	d.waitHandlers()
	d.b.forget(d)
	d.endErr = why
	if len(d.errs) > 0 {
		d.cleanErr = fmt.Errorf("xen9pfs: tear down %s: %w", d, errors.Join(d.errs...))
		log.G(d.ctx).WithError(d.cleanErr).Warn("xen9pfs: teardown incomplete")
	}
	if cleanEnd(why) {
		log.G(d.ctx).WithField("reason", why).Info("xen9pfs: device removed")
	} else {
		log.G(d.ctx).WithError(why).Error("xen9pfs: device failed and was removed")
	}
	close(d.done)
}

// cleanEnd tells the orderly ends of a device from failures.
func cleanEnd(why error) bool {
	return errors.Is(why, ErrClosed) || errors.Is(why, ErrDomainGone) ||
		errors.Is(why, ErrFrontendClosed) || errors.Is(why, ErrRemoved)
}

// waitHandlers waits, for at most HandlerGrace, until every Serve returned.
func (d *Device) waitHandlers() {
	t := time.NewTimer(d.b.cfg.HandlerGrace)
	defer t.Stop()
	for _, h := range d.handlers {
		select {
		case <-h:
		case <-t.C:
			log.G(d.ctx).Warnf("xen9pfs: file server did not return within %v of the connection's end", d.b.cfg.HandlerGrace)
			return
		}
	}
}

// removeNodes removes the frontend and backend nodes and the guest's
// error node for the device, and their parent directories once empty, in
// one transaction.
func (d *Device) removeNodes() error {
	ctx, cancel := context.WithTimeout(d.b.ctx, cleanupTimeout)
	defer cancel()
	err := d.b.cfg.Store.Transaction(ctx, func(tx *xenstore.Tx) error {
		for _, p := range []string{d.fpath, d.bpath, d.epath} {
			if err := tx.Rm(ctx, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		// Parents go once empty, the backend's per-type directory last.
		for _, p := range []string{d.b.fbase, d.b.bbase, path.Dir(d.b.bbase), d.b.ebase} {
			names, err := tx.Directory(ctx, p)
			if err != nil || len(names) > 0 {
				continue
			}
			if err := tx.Rm(ctx, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove xenstore nodes: %w", err)
	}
	return nil
}
