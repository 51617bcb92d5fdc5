package vchan

import (
	"context"
	"net"
	"sync"
)

// Listener serves one vchan connection at a time at a fixed xenstore path,
// as a net.Listener (for ttrpc's Server.Serve and the like).
//
// Listen publishes the first endpoint at once. Accept returns the
// connection once a client connected to it. The next Accept waits until
// that connection is closed, then publishes a fresh endpoint (new grants,
// new event channel) at the same path and waits for the next client: a
// restarted client can reconnect, and there is never more than one client.
// Closing the Listener withdraws an endpoint not yet accepted; accepted
// connections stay open.
type Listener struct {
	cfg    Config
	addr   Addr
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	accept chan struct{} // capacity 1: serialises Accept

	mu      sync.Mutex
	pending *Conn // published, not yet accepted
	active  *Conn // accepted and maybe still open
	closed  bool
}

// Listen publishes a vchan server endpoint at cfg.Path for domain cfg.Peer
// and returns a Listener for it.
func Listen(ctx context.Context, cfg Config) (*Listener, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.LocalDomain == nil {
		d, err := LocalDomain(ctx, cfg.Store)
		if err != nil {
			return nil, err
		}
		cfg.LocalDomain = &d
	}
	c, err := NewServer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &Listener{
		cfg:     cfg,
		addr:    Addr{Domain: *cfg.LocalDomain, Path: cfg.Path},
		ctx:     lctx,
		cancel:  cancel,
		accept:  make(chan struct{}, 1),
		pending: c,
	}, nil
}

// Accept waits for the previous connection to close, then for a client,
// and returns the connection (a *Conn). After Close it returns an error
// wrapping net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case l.accept <- struct{}{}:
	case <-l.ctx.Done():
		return nil, l.closedErr()
	}
	defer func() { <-l.accept }()

	l.mu.Lock()
	prev := l.active
	l.mu.Unlock()
	if prev != nil {
		// Wait for Close to finish: it removes the xenstore entries,
		// which must not happen after the next endpoint published its.
		select {
		case <-prev.closed:
		case <-l.ctx.Done():
			return nil, l.closedErr()
		}
	}

	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, l.closedErr()
	}
	c := l.pending
	l.active = nil
	l.mu.Unlock()
	if c == nil {
		nc, err := NewServer(l.ctx, l.cfg)
		if err != nil {
			if l.ctx.Err() != nil {
				return nil, l.closedErr()
			}
			return nil, err
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			nc.Close()
			return nil, l.closedErr()
		}
		l.pending = nc
		l.mu.Unlock()
		c = nc
	}

	if err := c.WaitConnected(l.ctx); err != nil {
		l.mu.Lock()
		closed := l.closed
		if l.pending == c {
			l.pending = nil
		}
		l.mu.Unlock()
		c.Close()
		if closed {
			return nil, l.closedErr()
		}
		return nil, &net.OpError{Op: "accept", Net: "vchan", Addr: l.addr, Err: err}
	}
	l.mu.Lock()
	l.pending = nil
	l.active = c
	l.mu.Unlock()
	return c, nil
}

func (l *Listener) closedErr() error {
	return &net.OpError{Op: "accept", Net: "vchan", Addr: l.addr, Err: net.ErrClosed}
}

// Close withdraws the endpoint not yet accepted, if any, and makes Accept
// return. Accepted connections are not closed.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return &net.OpError{Op: "close", Net: "vchan", Addr: l.addr, Err: net.ErrClosed}
	}
	l.closed = true
	c := l.pending
	l.pending = nil
	l.mu.Unlock()
	l.cancel()
	if c != nil {
		return c.Close()
	}
	return nil
}

// Addr returns the local domain and the xenstore path.
func (l *Listener) Addr() net.Addr { return l.addr }

var _ net.Listener = (*Listener)(nil)
