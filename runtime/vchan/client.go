package vchan

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"github.com/runxen/runxen/runtime/gnttab"
)

func putUint16(b []byte, off int, v uint16) { binary.NativeEndian.PutUint16(b[off:], v) }
func putUint32(b []byte, off int, v uint32) { binary.NativeEndian.PutUint32(b[off:], v) }

// Dial connects to the vchan served by domain cfg.Peer at cfg.Path. If the
// server has not published its entries yet, Dial watches the path and
// tries again on each change until ctx ends; so give ctx a deadline, or
// cancel it when the server's domain dies.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	w, err := cfg.Store.Watch(ctx, cfg.Path, "")
	if err != nil {
		return nil, fmt.Errorf("vchan: watch %s: %w", cfg.Path, err)
	}
	defer w.Close()
	var last error
	for {
		select {
		case _, ok := <-w.Events():
			if !ok {
				if err := w.Err(); err != nil {
					return nil, fmt.Errorf("vchan: watch %s: %w", cfg.Path, err)
				}
				return nil, fmt.Errorf("vchan: watch %s ended", cfg.Path)
			}
		case <-ctx.Done():
			if last != nil {
				return nil, fmt.Errorf("vchan: dial %s: %w (last attempt: %v)", cfg.Path, ctx.Err(), last)
			}
			return nil, fmt.Errorf("vchan: dial %s: %w", cfg.Path, ctx.Err())
		}
		c, err := dialOnce(ctx, &cfg)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		last = err
	}
}

// dialOnce reads the server's entries and connects.
func dialOnce(ctx context.Context, cfg *Config) (_ *Conn, err error) {
	refB, err := cfg.Store.Read(ctx, cfg.Path+"/ring-ref")
	if err != nil {
		return nil, err
	}
	portB, err := cfg.Store.Read(ctx, cfg.Path+"/event-channel")
	if err != nil {
		return nil, err
	}
	ref, err := parseUint32("ring-ref", refB)
	if err != nil {
		return nil, err
	}
	port, err := parseUint32("event-channel", portB)
	if err != nil {
		return nil, err
	}
	if ref == 0 || port == 0 {
		return nil, fmt.Errorf("%w: ring-ref %d, event-channel %d", ErrProtocol, ref, port)
	}

	var mems []Memory
	var ev EventChannel
	defer func() {
		if err != nil {
			for _, m := range mems {
				m.Close()
			}
			if ev != nil {
				ev.Close()
			}
		}
	}()
	ev, err = cfg.Devices.BindInterdomain(cfg.Peer, port)
	if err != nil {
		return nil, fmt.Errorf("vchan: bind to port %d of domain %d: %w", port, cfg.Peer, err)
	}
	pageMem, err := cfg.Devices.Map(cfg.Peer, []uint32{ref}, true)
	if err != nil {
		return nil, fmt.Errorf("vchan: map grant %d of domain %d: %w", ref, cfg.Peer, err)
	}
	page := pageMem.Bytes()
	if len(page) < pageSize {
		pageMem.Close()
		return nil, fmt.Errorf("vchan: mapped page has %d bytes", len(page))
	}
	page = page[:pageSize]
	// The page is the server's to change at any time: read each field once,
	// into locals, and validate those.
	orders := atomic.LoadUint32(word(page, offOrders))
	var lo, ro int
	if littleEndian {
		lo, ro = int(orders&0xffff), int(orders>>16)
	} else {
		lo, ro = int(orders>>16), int(orders&0xffff)
	}
	if err := checkOrders(lo, ro); err != nil {
		pageMem.Close()
		return nil, err
	}
	// A server that closed (or, for this package, whose one client left)
	// takes no client; nor does one that has a client. A libxenvchan
	// server whose client left (cli_live 0) may take a new one.
	live := atomic.LoadUint32(word(page, offWord))
	switch {
	case uint8(live>>shiftOf(byteSrvLive)) == liveClosed:
		pageMem.Close()
		return nil, fmt.Errorf("vchan: server at %s has closed", cfg.Path)
	case uint8(live>>shiftOf(byteCliLive)) == liveOpen:
		pageMem.Close()
		return nil, fmt.Errorf("vchan: server at %s already has a client", cfg.Path)
	}
	// A server whose previous client left (cli_live 0) is reused: what it
	// wrote for that client and nobody read is not for us.
	reattach := uint8(live>>shiftOf(byteCliLive)) == liveClosed
	n := pagesFor(lo) + pagesFor(ro)
	grants := make([]uint32, n)
	for i := range grants {
		grants[i] = atomic.LoadUint32(word(page, offGrants+4*i))
	}
	// The client writes the left ring and reads the right one, which it
	// maps read-only.
	area := func(order int, refs []uint32, writable bool) ([]byte, error) {
		if order < pageOrder {
			return inPage(page, order), nil
		}
		m, err := cfg.Devices.Map(cfg.Peer, refs, writable)
		if err != nil {
			return nil, fmt.Errorf("vchan: map %d ring grants of domain %d: %w", len(refs), cfg.Peer, err)
		}
		mems = append(mems, m)
		if len(m.Bytes()) < 1<<order {
			return nil, fmt.Errorf("vchan: mapped ring area has %d bytes", len(m.Bytes()))
		}
		return m.Bytes()[:1<<order], nil
	}
	left, err := area(lo, grants[:pagesFor(lo)], true)
	if err != nil {
		pageMem.Close()
		return nil, err
	}
	right, err := area(ro, grants[pagesFor(lo):], false)
	if err != nil {
		pageMem.Close()
		return nil, err
	}
	mems = append(mems, pageMem)
	// Only now arm the unmap notification on cli_live: had anything above
	// failed, unmapping would have cleared it and finished the server's
	// endpoint for nothing.
	err = pageMem.SetUnmapNotify(gnttab.UnmapNotify{
		Offset: offCliLive,
		Action: gnttab.NotifyClearByte | gnttab.NotifySendEvent,
		Port:   ev.Port(),
	})
	if err != nil {
		return nil, fmt.Errorf("vchan: set unmap notification: %w", err)
	}

	if reattach {
		// Seen in the lab: a client of vchan-socket-proxy's persistent
		// server read the previous client's unread ttrpc replies as the
		// start of its own stream. We own the right ring's consumer
		// index: skip to the producer's.
		atomic.StoreUint32(word(page, offRightCons), atomic.LoadUint32(word(page, offRightProd)))
	}
	c, err := newConn(false, ev, mems, page, left, right)
	if err != nil {
		return nil, err
	}
	c.local = Addr{Domain: domainSelf, Path: cfg.Path}
	if cfg.LocalDomain != nil {
		c.local.Domain = *cfg.LocalDomain
	}
	c.remote = Addr{Domain: cfg.Peer, Path: cfg.Path}
	// Connected; and, as libxenvchan does, ask to hear of server writes.
	storeByte(c.word, shiftOf(byteSrvNotify), notifyWrite)
	storeByte(c.word, shiftOf(byteCliLive), liveOpen)
	mems, ev = nil, nil // the Conn owns them now
	c.start()
	c.signal()
	if err := c.failure(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// domainSelf is Xen's DOMID_SELF, shown when the client's own ID is not
// known.
const domainSelf = 0x7FF0
