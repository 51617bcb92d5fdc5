package vchan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/runxen/runxen/runtime/gnttab"
	"github.com/runxen/runxen/runtime/xenstore"
)

// cleanupTimeout bounds removing the xenstore entries on Close.
const cleanupTimeout = 10 * time.Second

// NewServer creates the server end of a vchan for domain cfg.Peer: it
// binds an unbound event channel port, grants the shared page (and ring
// pages if the rings are large), and publishes ring-ref and event-channel
// under cfg.Path in one xenstore transaction, readable by the peer only.
// The returned Conn is usable at once (writes wait in the ring for the
// client); WaitConnected reports when the client arrived.
func NewServer(ctx context.Context, cfg Config) (_ *Conn, err error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	lo, ro, err := chooseOrders(cfg.RecvSize, cfg.SendSize)
	if err != nil {
		return nil, err
	}
	self := cfg.LocalDomain
	if self == nil {
		d, err := LocalDomain(ctx, cfg.Store)
		if err != nil {
			return nil, err
		}
		self = &d
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
	ev, err = cfg.Devices.BindUnboundPort(cfg.Peer)
	if err != nil {
		return nil, fmt.Errorf("vchan: bind unbound port for domain %d: %w", cfg.Peer, err)
	}
	pageMem, refs, err := cfg.Devices.Share(cfg.Peer, 1, &gnttab.UnmapNotify{
		Offset: offSrvLive,
		Action: gnttab.NotifyClearByte | gnttab.NotifySendEvent,
		Port:   ev.Port(),
	})
	if err != nil {
		return nil, fmt.Errorf("vchan: share page with domain %d: %w", cfg.Peer, err)
	}
	page := pageMem.Bytes()
	if len(page) < pageSize || len(refs) != 1 {
		pageMem.Close()
		return nil, fmt.Errorf("vchan: shared page has %d bytes and %d refs", len(page), len(refs))
	}
	page = page[:pageSize]
	clear(page[:offWord])
	clear(page[offWord+4:])

	// Ring areas: in the page for orders 10 and 11, else granted pages
	// whose refs follow the header (left's first).
	grants := offGrants
	area := func(order int) ([]byte, error) {
		if order < pageOrder {
			return inPage(page, order), nil
		}
		m, rr, err := cfg.Devices.Share(cfg.Peer, pagesFor(order), nil)
		if err != nil {
			return nil, fmt.Errorf("vchan: share %d ring pages with domain %d: %w", pagesFor(order), cfg.Peer, err)
		}
		mems = append(mems, m)
		if len(m.Bytes()) < 1<<order || len(rr) != pagesFor(order) {
			return nil, fmt.Errorf("vchan: shared ring area has %d bytes and %d refs", len(m.Bytes()), len(rr))
		}
		for _, r := range rr {
			putUint32(page, grants, r)
			grants += 4
		}
		return m.Bytes()[:1<<order], nil
	}
	left, err := area(lo)
	if err != nil {
		pageMem.Close()
		return nil, err
	}
	right, err := area(ro)
	if err != nil {
		pageMem.Close()
		return nil, err
	}
	mems = append(mems, pageMem)
	putUint16(page, offOrders, uint16(lo))
	putUint16(page, offOrders+2, uint16(ro))
	// cli_live = 2 (waiting), srv_live = 1, cli_notify = NOTIFY_WRITE (we
	// want to hear of the client's writes), srv_notify = 0.
	w := word(page, offWord)
	atomic.StoreUint32(w, liveWaiting<<shiftOf(byteCliLive)|liveOpen<<shiftOf(byteSrvLive)|notifyWrite<<shiftOf(byteCliNotify))

	c, err := newConn(true, ev, mems, page, left, right)
	if err != nil {
		return nil, err
	}
	c.local = Addr{Domain: *self, Path: cfg.Path}
	c.remote = Addr{Domain: cfg.Peer, Path: cfg.Path}

	if err = publish(ctx, cfg.Store, cfg.Path, *self, cfg.Peer, refs[0], ev.Port()); err != nil {
		// The commit may have reached xenstored even so: ctx can end while
		// its reply is on the way (seen in the lab, a Listener closed as it
		// published a fresh endpoint left entries pointing at unshared
		// pages). Take them back; requests are served in order, so this
		// removal follows the commit.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		cfg.Store.Rm(rctx, cfg.Path)
		cancel()
		return nil, err
	}
	st, path := cfg.Store, cfg.Path
	c.cleanup = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := st.Rm(ctx, path); err != nil && !errors.Is(err, xenstore.ErrNotExist) {
			return fmt.Errorf("vchan: remove %s: %w", path, err)
		}
		return nil
	}
	c.start()
	return c, nil
}

// publish writes ring-ref and event-channel in one transaction, owned by
// self with no access for others, readable by peer.
func publish(ctx context.Context, st Store, path string, self, peer, ref, port uint32) error {
	perms := []xenstore.Permission{
		{Domain: self, Access: xenstore.AccessNone},
		{Domain: peer, Access: xenstore.AccessRead},
	}
	err := st.Transaction(ctx, func(tx *xenstore.Tx) error {
		for _, kv := range [...]struct {
			key string
			val uint32
		}{{"ring-ref", ref}, {"event-channel", port}} {
			p := path + "/" + kv.key
			if err := tx.Write(ctx, p, []byte(strconv.FormatUint(uint64(kv.val), 10))); err != nil {
				return err
			}
			if err := tx.SetPermissions(ctx, p, perms); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("vchan: publish %s: %w", path, err)
	}
	return nil
}

// WaitConnected blocks until the client has connected (its live byte left
// the waiting state), ctx ends, or the Conn is closed or fails. On the
// client end it returns at once.
func (c *Conn) WaitConnected(ctx context.Context) error {
	if !c.server {
		return nil
	}
	for {
		if c.peerLiveByte() != liveWaiting {
			return nil
		}
		select {
		case <-c.connWake:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return net.ErrClosed
		case <-c.failed:
			return c.failErr
		}
	}
}
