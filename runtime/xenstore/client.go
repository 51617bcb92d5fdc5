package xenstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"sync"
	"time"

	"github.com/containerd/log"
)

// Transports tried by Dial, in order, after $XENSTORED_PATH.
var (
	// dom0: the xenstored unix socket (both historical locations).
	socketPaths = []string{"/var/run/xenstored/socket", "/run/xenstored/socket"}
	// any domain: the kernel's xenbus device, which relays to xenstored
	// over the shared ring. /proc/xen/xenbus is the pre-3.x kernel name.
	devicePaths = []string{"/dev/xen/xenbus", "/proc/xen/xenbus"}
)

// cleanupTimeout bounds the requests the Client sends on its own behalf:
// aborting a transaction whose caller went away, unwatching on Watch.Close.
const cleanupTimeout = 10 * time.Second

// Client is a connection to xenstored. It is safe for concurrent use: any
// number of goroutines may issue requests at once; they are multiplexed on
// the connection by request id and answered as replies arrive, in any order.
//
// Every call takes a context. When it is cancelled or its deadline passes,
// the call returns the context's error at once; a reply arriving later is
// discarded (and, for requests that leave state behind in xenstored, undone:
// a transaction started for a caller who has gone is aborted, a watch
// registered for one is removed).
//
// When the connection fails (read or write error, or the peer breaks the
// protocol), every pending call fails with an error wrapping ErrConnLost,
// every Watch's channel is closed with Err set, and later calls fail fast.
// A Client does not reconnect: watches and transactions are per-connection
// state in xenstored, so the owner must redial and re-establish them.
type Client struct {
	conn io.ReadWriteCloser
	// maxPayload is the largest request payload the transport accepts:
	// PayloadMax, or less for the xenbus device (see DialPath).
	maxPayload int
	wq         chan []byte   // unbuffered hand-off to the writer goroutine
	done       chan struct{} // closed when the Client stops, err is then set

	mu       sync.Mutex
	err      error // terminal error, nil while healthy
	pending  map[uint32]*call
	nextID   uint32
	watches  map[string]*Watch
	tokenSeq uint64
}

// call is one request awaiting its reply.
type call struct {
	typ msgType
	ch  chan result // capacity 1: the reader never blocks on it
	// late, when set, runs (in its own goroutine) on the reply to a call its
	// caller abandoned; it undoes state the request left in xenstored.
	late func(result)
}

// result is a reply (typ, payload) or a connection error.
type result struct {
	typ     msgType
	payload []byte
	err     error
}

// Dial connects to the local xenstored: $XENSTORED_PATH if set (as
// libxenstore honours it), else the dom0 unix socket at
// /var/run/xenstored/socket or /run/xenstored/socket, else the xenbus device
// /dev/xen/xenbus (or /proc/xen/xenbus) available in any domain.
func Dial(ctx context.Context) (*Client, error) {
	if p := os.Getenv("XENSTORED_PATH"); p != "" {
		return DialPath(ctx, p)
	}
	var errs []error
	for _, p := range append(append([]string(nil), socketPaths...), devicePaths...) {
		c, err := DialPath(ctx, p)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		if !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("xenstore: no xenstored socket or xenbus device found (tried %v and %v): %w",
			socketPaths, devicePaths, fs.ErrNotExist)
	}
	return nil, fmt.Errorf("xenstore: cannot connect to xenstored: %w", errors.Join(errs...))
}

// devicePayloadMax is the request payload limit through Linux's xenbus
// device: its write buffer is XENSTORE_PAYLOAD_MAX bytes including the
// 16-byte header, and write() fails with E2BIG beyond that.
const devicePayloadMax = PayloadMax - headerSize

// DialPath connects through the given transport: a unix socket (xenstored's
// own) or a character device (the kernel's xenbus device, a byte stream of
// the same messages). Through the device, requests are limited to 4080
// payload bytes rather than 4096, because Linux buffers header and payload
// together in XENSTORE_PAYLOAD_MAX bytes; longer requests are refused
// locally with E2BIG.
func DialPath(ctx context.Context, path string) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("xenstore: %w", err)
	}
	switch {
	case fi.Mode()&fs.ModeSocket != 0:
		var d net.Dialer
		conn, err := d.DialContext(ctx, "unix", path)
		if err != nil {
			return nil, fmt.Errorf("xenstore: %w", err)
		}
		return NewClient(conn), nil
	case fi.Mode()&fs.ModeDevice != 0:
		// The xenbus device supports poll and O_NONBLOCK, so os.File puts it
		// in the runtime poller and Close interrupts a pending Read.
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return nil, fmt.Errorf("xenstore: %w", err)
		}
		return newClient(f, devicePayloadMax), nil
	default:
		return nil, fmt.Errorf("xenstore: %s is neither a unix socket nor a character device (mode %v)", path, fi.Mode())
	}
}

// NewClient runs the xenstore protocol over conn, which must be a reliable
// byte stream: a unix socket, the xenbus device, a net.Pipe in tests. The
// Client owns conn and closes it on Close or on failure. For Close to
// interrupt a pending Read, conn.Close must unblock Read (true of net.Conn
// and pollable *os.File).
//
// Each request is written with a single Write call, as the xenbus device
// requires.
func NewClient(conn io.ReadWriteCloser) *Client {
	return newClient(conn, PayloadMax)
}

func newClient(conn io.ReadWriteCloser, maxPayload int) *Client {
	c := &Client{
		conn:       conn,
		maxPayload: maxPayload,
		wq:         make(chan []byte),
		done:       make(chan struct{}),
		pending:    make(map[uint32]*call),
		watches:    make(map[string]*Watch),
	}
	go c.readLoop()
	go c.writeLoop()
	return c
}

// Close shuts the connection down. Pending calls fail with ErrClosed, Watch
// channels close with Err() == ErrClosed. xenstored drops the connection's
// watches and aborts its open transactions itself. Close is idempotent; the
// first call returns the transport's Close error.
func (c *Client) Close() error {
	_, err := c.fail(ErrClosed)
	return err
}

// Err returns nil while the Client is usable, ErrClosed after Close, or an
// error wrapping ErrConnLost and its cause after the connection failed.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Done is closed when the Client stops working (Close or connection loss);
// Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// fail stops the Client with cause. It reports whether this call did it
// and, if so, the transport's Close error.
func (c *Client) fail(cause error) (first bool, closeErr error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return false, nil
	}
	if errors.Is(cause, ErrClosed) {
		c.err = ErrClosed
	} else {
		c.err = fmt.Errorf("%w: %w", ErrConnLost, cause)
	}
	err := c.err
	close(c.done)
	pending, watches := c.pending, c.watches
	c.pending, c.watches = map[uint32]*call{}, map[string]*Watch{}
	c.mu.Unlock()
	// Closing the transport unblocks the reader and a writer stuck in Write.
	closeErr = c.conn.Close()

	for _, cl := range pending {
		if cl.late == nil {
			cl.ch <- result{err: err}
		}
	}
	for _, w := range watches {
		w.terminate(err)
	}
	return true, closeErr
}

func (c *Client) writeLoop() {
	for {
		select {
		case b := <-c.wq:
			// A short write leaves the peer mid-message: the stream is
			// unusable afterwards, so any error is fatal.
			if _, err := c.conn.Write(b); err != nil {
				c.fail(fmt.Errorf("write: %w", err))
				return
			}
		case <-c.done:
			return
		}
	}
}

func (c *Client) readLoop() {
	r := bufio.NewReaderSize(c.conn, headerSize+PayloadMax)
	for {
		m, err := readMessage(r)
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("read: peer closed the connection: %w", io.EOF)
			} else if !errors.Is(err, ErrProtocol) {
				err = fmt.Errorf("read: %w", err)
			}
			c.fail(err)
			return
		}
		c.dispatch(m)
	}
}

// dispatch routes one message. It never blocks: replies go into their
// call's 1-slot channel, events into a Watch's queue.
func (c *Client) dispatch(m message) {
	if m.Type == typeWatchEvent {
		path, token, err := parseWatchEvent(m.Payload)
		if err != nil {
			log.L.WithError(err).Debug("xenstore: dropping malformed watch event")
			return
		}
		c.mu.Lock()
		w := c.watches[token]
		c.mu.Unlock()
		if w == nil {
			log.L.WithField("token", sanitize(token, 64)).Debug("xenstore: dropping event for unknown watch token")
			return
		}
		w.deliver(Event{Path: path, Token: token})
		return
	}

	c.mu.Lock()
	cl := c.pending[m.ReqID]
	if cl == nil {
		c.mu.Unlock()
		// A reply to a call whose caller gave up (its entry was removed),
		// or garbage: nobody is waiting for it.
		log.L.WithField("req_id", m.ReqID).WithField("type", m.Type).Debug("xenstore: discarding unmatched reply")
		return
	}
	delete(c.pending, m.ReqID)
	r := result{typ: m.Type, payload: m.Payload}
	if cl.late != nil {
		c.mu.Unlock()
		go cl.late(r)
		return
	}
	cl.ch <- r
	c.mu.Unlock()
}

// roundTrip sends one request and waits for its reply, the context or the
// connection's end. op and path only label errors. If late is non-nil and
// the caller abandons the call after the request was handed to the writer,
// late runs on the eventual reply; armed reports that case.
func (c *Client) roundTrip(ctx context.Context, op, path string, t msgType, tx uint32, payload []byte, late func(result)) (reply []byte, armed bool, err error) {
	if len(payload) > c.maxPayload {
		limit := "XENSTORE_PAYLOAD_MAX"
		if c.maxPayload != PayloadMax {
			limit = "the xenbus device's limit"
		}
		return nil, false, invalid(op, path, "E2BIG",
			fmt.Sprintf("request payload of %d bytes exceeds %s (%d)", len(payload), limit, c.maxPayload))
	}
	if err := ctx.Err(); err != nil {
		return nil, false, ctxError(op, path, err)
	}
	cl := &call{typ: t, ch: make(chan result, 1)}
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return nil, false, err
	}
	id := c.allocID()
	c.pending[id] = cl
	c.mu.Unlock()

	msg := appendMessage(make([]byte, 0, headerSize+len(payload)), t, id, tx, payload)
	select {
	case c.wq <- msg:
	case <-ctx.Done():
		c.forget(id, cl)
		return nil, false, ctxError(op, path, ctx.Err())
	case <-c.done:
		return nil, false, c.Err()
	}

	var r result
	select {
	case r = <-cl.ch:
	case <-ctx.Done():
		var ok bool
		if r, ok = c.abandon(id, cl, late); !ok {
			return nil, late != nil, ctxError(op, path, ctx.Err())
		}
		// The reply raced the cancellation and won: use it.
	}
	if r.err != nil {
		return nil, false, r.err
	}
	if r.typ == typeError {
		e, err := parseErrorReply(op, path, r.payload)
		if err != nil {
			return nil, false, err
		}
		return nil, false, e
	}
	if r.typ != t {
		return nil, false, fmt.Errorf("%w: %v reply to %v request (%s %s)", ErrProtocol, r.typ, t, op, path)
	}
	return r.payload, false, nil
}

// allocID picks a request id not in use. 0 is skipped so that no reply can
// look like the req_id 0 of a watch event. Called with c.mu held.
func (c *Client) allocID() uint32 {
	for {
		c.nextID++
		if c.nextID == 0 {
			continue
		}
		if _, busy := c.pending[c.nextID]; !busy {
			return c.nextID
		}
	}
}

// forget drops a call that was never sent.
func (c *Client) forget(id uint32, cl *call) {
	c.mu.Lock()
	if c.pending[id] == cl {
		delete(c.pending, id)
	}
	c.mu.Unlock()
}

// abandon gives up waiting on a sent call. If its reply already arrived it
// returns it. Otherwise the pending entry is dropped (the late reply will be
// discarded) or, with a late handler, kept so the handler sees the reply.
func (c *Client) abandon(id uint32, cl *call, late func(result)) (result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[id] == cl {
		if late != nil {
			cl.late = late
		} else {
			delete(c.pending, id)
		}
		return result{}, false
	}
	// Delivered (or failed) under c.mu before we got it: the value is in
	// the channel already.
	select {
	case r := <-cl.ch:
		return r, true
	default:
		return result{}, false
	}
}

// ctxError labels a context error with the operation; errors.Is still
// finds context.Canceled / context.DeadlineExceeded.
func ctxError(op, path string, err error) error {
	if path != "" {
		return fmt.Errorf("xenstore %s %s: %w", op, path, err)
	}
	return fmt.Errorf("xenstore %s: %w", op, err)
}
