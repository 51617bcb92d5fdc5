package xen9pfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/runxen/runxen/runtime/internal/bufpool"
	"github.com/runxen/runxen/runtime/ring"
	"github.com/runxen/runxen/runtime/vchan"
)

// Handler serves the 9P traffic of one device connection: the file server
// behind a share.
//
// Serve is called in its own goroutine each time the frontend connects,
// with conn carrying that connection's 9P messages as a byte stream: Read
// returns the requests of all the device's rings, whole message after
// whole message (a short Read may split one, but messages never
// interleave), and Write takes the replies, which may be written in any
// pieces but must follow each other whole, as on any stream. The
// transport sends each reply on the ring its request came from (matched by
// tag), and only once it is complete, because the Linux frontend reads a
// reply as soon as its header is in the ring.
//
// All rings of a device belong to ONE 9P session: Linux puts each request
// on ring tag % num-rings, so a fid attached through one ring is used
// through the other. A guest may run several sessions in turn on one
// connection (every mount starts with Tversion).
//
// conn also has MaxMessageSize() int, the largest message the rings carry
// (a server should not agree to a larger msize; Linux never asks for one),
// and WriteVectors([][]byte) error, which publishes one whole reply given
// in pieces without gathering it first. runtime/sharefs's Share.Serve
// uses both.
//
// When the connection ends (the frontend closes, the domain dies, the
// device is closed or fails), ctx is cancelled and conn's Read returns
// io.EOF, or the error that ended it; Serve should then return promptly.
// If Serve returns while the connection is up, or panics, the device is
// torn down: a share without its server cannot work.
type Handler interface {
	Serve(ctx context.Context, conn io.ReadWriteCloser) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, conn io.ReadWriteCloser) error

// Serve calls f.
func (f HandlerFunc) Serve(ctx context.Context, conn io.ReadWriteCloser) error { return f(ctx, conn) }

var (
	// errConnClosed ends a connection without a failure: the frontend or
	// the owner closed it.
	errConnClosed = errors.New("xen9pfs: connection closed")
	// errServerClosed: the Handler closed its conn.
	errServerClosed = errors.New("xen9pfs: file server closed the connection")
)

// dataRing is one of a connection's rings: its interface page, its data
// pages (the in half written by us, the out half read-only), its event
// channel and the goroutines that serve it.
type dataRing struct {
	idx  int
	ev   vchan.EventChannel
	mems []vchan.Memory // out data, in data, interface page: unmapped in this order
	rd   *ring.Reader   // out: requests, the frontend produces
	wr   *ring.Writer   // in: replies, we produce
	size int            // bytes per direction

	readWake  chan struct{} // capacity 1, poked on every event
	writeWake chan struct{}
	rdDone    chan struct{} // closed when the reader goroutine exited
	evDone    chan struct{} // closed when the event goroutine exited
}

// inbound is a request taken from ring idx.
type inbound struct {
	ring int
	msg  []byte
}

// conn is one frontend connection: the rings, and the stream the Handler
// sees. It is torn down by shutdown, called once by the device.
type conn struct {
	rings  []*dataRing
	maxMsg int
	reqs   chan inbound // unbuffered: each ring holds at most one message back

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the connection ends
	endMu  sync.Mutex
	endErr error // why: errConnClosed, errServerClosed or the failure
	ended  bool

	rlock chan struct{} // capacity 1: held while reading
	cur   []byte        // the request being read, from cur[off:]
	off   int

	wlock chan struct{} // capacity 1: held while writing; shutdown keeps it
	fr    framer
	one   [1][]byte // a single reply as vectors, under wlock

	routeMu sync.Mutex
	route   map[uint16]int // tag of a request handed to the Handler -> its ring

	handlerDone chan struct{} // closed when Serve returned
}

var _ io.ReadWriteCloser = (*conn)(nil)

// newConn wires a connection over rings; start runs it.
func newConn(rings []*dataRing) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	maxMsg := rings[0].size
	for _, r := range rings[1:] {
		maxMsg = min(maxMsg, r.size)
	}
	return &conn{
		rings:       rings,
		maxMsg:      maxMsg,
		reqs:        make(chan inbound),
		ctx:         ctx,
		cancel:      cancel,
		done:        make(chan struct{}),
		rlock:       make(chan struct{}, 1),
		wlock:       make(chan struct{}, 1),
		fr:          framer{max: maxMsg},
		route:       make(map[uint16]int),
		handlerDone: make(chan struct{}),
	}
}

// start runs the goroutines of every ring, then the Handler. The rings
// are looked at once straight away: requests the frontend wrote before we
// bound its event channel raised no event we could see.
func (c *conn) start(h Handler) {
	for _, r := range c.rings {
		go c.events(r)
		go c.reads(r)
	}
	go func() {
		defer close(c.handlerDone)
		err := serveGuarded(h, c.ctx, c)
		select {
		case <-c.done:
			// The connection ended first: the Handler's return is the
			// expected consequence.
		default:
			if err == nil {
				err = errors.New("xen9pfs: file server returned while the frontend was connected")
			} else {
				err = fmt.Errorf("xen9pfs: file server: %w", err)
			}
			c.end(err)
		}
	}()
}

// serveGuarded runs h.Serve, turning a panic into an error: a file server
// bug a guest can trigger must cost that device, not the process.
func serveGuarded(h Handler, ctx context.Context, c *conn) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return h.Serve(ctx, c)
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// end marks the connection finished with why (first caller wins) and
// wakes everything blocked on it. It reports whether this call did it.
func (c *conn) end(why error) bool {
	c.endMu.Lock()
	defer c.endMu.Unlock()
	if c.ended {
		return false
	}
	c.ended, c.endErr = true, why
	close(c.done)
	c.cancel()
	return true
}

func (c *conn) why() error {
	c.endMu.Lock()
	defer c.endMu.Unlock()
	return c.endErr
}

// fail ends the connection with a failure; the device, which watches
// done, tears itself down.
func (c *conn) fail(err error) { c.end(err) }

// events owns the ring's event channel: it waits for the frontend's
// notifications and wakes the reader and any writer. It is the only
// goroutine that waits on the channel; others only notify.
func (c *conn) events(r *dataRing) {
	defer close(r.evDone)
	for {
		if err := r.ev.Wait(); err != nil {
			select {
			case <-c.done: // shutdown closed the channel
			default:
				c.fail(fmt.Errorf("xen9pfs: ring %d: event channel: %w", r.idx, err))
			}
			return
		}
		poke(r.readWake)
		poke(r.writeWake)
	}
}

func (c *conn) notify(r *dataRing) bool {
	if err := r.ev.Notify(); err != nil {
		c.fail(fmt.Errorf("xen9pfs: ring %d: notify: %w", r.idx, err))
		return false
	}
	return true
}

// reads takes requests out of the ring and hands them to the Handler's
// Reads, one at a time: while a request waits to be read, the ring is not
// drained further, which is the back-pressure the frontend feels.
func (c *conn) reads(r *dataRing) {
	defer close(r.rdDone)
	mr := msgReader{rd: r.rd, max: r.size}
	freed := false // consumed bytes the frontend has not been told about
	for {
		select {
		case <-c.done:
			return
		default:
		}
		msg, n, err := mr.next()
		if err != nil {
			c.fail(fmt.Errorf("xen9pfs: ring %d requests: %w", r.idx, err))
			return
		}
		if n > 0 {
			freed = true
		}
		// The frontend may be waiting for room: tell it before we wait.
		if freed {
			if !c.notify(r) {
				return
			}
			freed = false
		}
		if msg != nil {
			select {
			case c.reqs <- inbound{ring: r.idx, msg: msg}:
			case <-c.done:
				return
			}
			continue
		}
		select {
		case <-r.readWake:
		case <-c.done:
			return
		}
	}
}

func (c *conn) lock(l chan struct{}) error {
	select {
	case <-c.done:
		return c.closedErr()
	default:
	}
	select {
	case l <- struct{}{}:
		return nil
	case <-c.done:
		return c.closedErr()
	}
}

// closedErr is what Read and Write return once the connection ended:
// net.ErrClosed after a close by either side, else the failure.
func (c *conn) closedErr() error {
	if err := c.why(); err != nil && err != errConnClosed && err != errServerClosed {
		return err
	}
	return net.ErrClosed
}

// Read returns request bytes; see Handler. It returns io.EOF once the
// connection was closed, or the error that broke it.
func (c *conn) Read(p []byte) (int, error) {
	if err := c.lock(c.rlock); err != nil {
		if errors.Is(err, net.ErrClosed) {
			return 0, io.EOF
		}
		return 0, err
	}
	defer func() { <-c.rlock }()
	if len(p) == 0 {
		return 0, nil
	}
	if c.off == len(c.cur) {
		select {
		case in := <-c.reqs:
			// Remember where the reply goes before anyone can see the
			// request, so the reply can never overtake the entry.
			c.routeMu.Lock()
			c.route[msgTag(in.msg)] = in.ring
			c.routeMu.Unlock()
			c.cur, c.off = in.msg, 0
		case <-c.done:
			if err := c.closedErr(); !errors.Is(err, net.ErrClosed) {
				return 0, err
			}
			return 0, io.EOF
		}
	}
	n := copy(p, c.cur[c.off:])
	c.off += n
	if c.off == len(c.cur) {
		bufpool.Put(c.cur)
		c.cur, c.off = nil, 0
	}
	return n, nil
}

// Write takes reply bytes; see Handler. It blocks while the reply's ring
// has no room for the whole reply. Bytes that cannot frame as a 9P message
// of at most MaxMessageSize bytes fail the write (and only the write).
func (c *conn) Write(p []byte) (int, error) {
	if err := c.lock(c.wlock); err != nil {
		return 0, err
	}
	defer func() { <-c.wlock }()
	return c.fr.feed(p, c.sendOne)
}

// WriteVectors publishes one whole reply given in pieces (header, then
// payload buffers), copied straight into the ring; runtime/sharefs calls
// it instead of Write, saving a copy per reply. The pieces must add up to
// exactly one message.
func (c *conn) WriteVectors(vecs [][]byte) error {
	if err := c.lock(c.wlock); err != nil {
		return err
	}
	defer func() { <-c.wlock }()
	if len(c.fr.buf) > 0 {
		return fmt.Errorf("%w: WriteVectors after an unfinished Write", errMessageSize)
	}
	var hdr [hdrSize]byte
	total, n := 0, 0
	for _, v := range vecs {
		total += len(v)
		n += copy(hdr[n:], v)
	}
	if n < hdrSize || int(msgSize(hdr[:])) != total || total > c.maxMsg {
		return fmt.Errorf("%w: %d bytes in %d pieces", errMessageSize, total, len(vecs))
	}
	return c.send(msgTag(hdr[:]), vecs)
}

// sendOne publishes a reply the framer cut out of the stream.
func (c *conn) sendOne(msg []byte) error {
	c.one[0] = msg
	err := c.send(msgTag(msg), c.one[:])
	c.one[0] = nil
	return err
}

// send publishes one whole reply on the ring of its request (or, for a tag
// no request is waiting under, the ring Linux would use: tag % rings).
func (c *conn) send(tag uint16, msg [][]byte) error {
	c.routeMu.Lock()
	idx, ok := c.route[tag]
	delete(c.route, tag)
	c.routeMu.Unlock()
	if !ok {
		idx = int(tag) % len(c.rings)
	}
	r := c.rings[idx]
	for {
		select {
		case <-c.done:
			return c.closedErr()
		default:
		}
		ok, err := r.wr.WriteWholeVec(msg)
		if err != nil {
			err = fmt.Errorf("xen9pfs: ring %d replies: %w", r.idx, err)
			c.fail(err)
			return err
		}
		if ok {
			if !c.notify(r) {
				return c.closedErr()
			}
			return nil
		}
		// No room: the frontend signals after it consumed replies.
		select {
		case <-r.writeWake:
		case <-c.done:
			return c.closedErr()
		}
	}
}

// Close ends the connection from the Handler's side; the device then
// tears itself down (a share whose server hung up cannot work).
func (c *conn) Close() error {
	c.end(errServerClosed)
	return nil
}

// MaxMessageSize is the largest 9P message, header included, that every
// ring of the connection carries whole.
func (c *conn) MaxMessageSize() int { return c.maxMsg }

// shutdown ends the connection (with why, unless it ended already), waits
// until nothing touches the shared memory any more, then unbinds the event
// channels and unmaps the pages: the order matters, because touching an
// unmapped page kills the process. It does not wait for the Handler.
func (c *conn) shutdown(why error) error {
	c.end(why)
	for _, r := range c.rings {
		<-r.rdDone
	}
	c.wlock <- struct{}{} // a Write in progress has left its ring; keep the lock
	var errs []error
	for _, r := range c.rings {
		if err := r.ev.Close(); err != nil {
			errs = append(errs, fmt.Errorf("ring %d: unbind event channel: %w", r.idx, err))
		}
		<-r.evDone
	}
	for _, r := range c.rings {
		for _, m := range r.mems {
			if err := m.Close(); err != nil {
				errs = append(errs, fmt.Errorf("ring %d: unmap: %w", r.idx, err))
			}
		}
	}
	return errors.Join(errs...)
}
