package vchan

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/runxen/runxen/runtime/ring"
)

var (
	// ErrPeerClosed is returned by Write once the peer closed its end (its
	// live byte is 0). It wraps syscall.EPIPE.
	ErrPeerClosed = fmt.Errorf("vchan: peer closed: %w", syscall.EPIPE)
	// ErrPeerGone is returned once PeerGone was called: Read returns what
	// is left in the ring first, Write fails at once.
	ErrPeerGone = errors.New("vchan: peer domain is gone")
	// ErrWriteClosed is returned by Write after CloseWrite.
	ErrWriteClosed = errors.New("vchan: write after CloseWrite")
	// ErrProtocol reports a shared page or xenstore entry that breaks the
	// vchan format; ring.ErrCorrupt reports inconsistent ring indices.
	ErrProtocol = errors.New("vchan: protocol violation")
)

// Addr is a vchan endpoint address: a domain and the xenstore path of the
// vchan.
type Addr struct {
	Domain uint32
	Path   string
}

// Network returns "vchan".
func (Addr) Network() string { return "vchan" }

func (a Addr) String() string { return fmt.Sprintf("%d:%s", a.Domain, a.Path) }

// Conn is one end of a vchan. It implements net.Conn; all methods are safe
// for concurrent use. Reads are serialised, and so are Writes: a Write is
// never interleaved with another.
type Conn struct {
	server bool
	ev     EventChannel
	mem    []Memory // ring areas first, the shared page last
	word   *uint32  // the live and notify bytes
	rd     *ring.Reader
	wr     *ring.Writer

	myLive, peerLive uint // shifts within *word
	reqShift         uint // the peer's notify byte, where we ask to be woken
	ackShift         uint // our notify byte, where the peer asks

	local, remote Addr

	rlock, wlock chan struct{} // capacity 1: held while reading, writing
	readWake     chan struct{} // capacity 1: poked on every event
	writeWake    chan struct{}
	connWake     chan struct{}
	rdl, wdl     deadline

	done      chan struct{} // closed when Close starts
	closeOnce sync.Once
	closeErr  error
	closed    chan struct{} // closed when Close has finished
	loopDone  chan struct{}

	wshut     chan struct{} // closed by CloseWrite
	wshutOnce sync.Once

	failed   chan struct{} // closed on a fatal error
	failOnce sync.Once
	failErr  error

	cleanup func() error // run last by Close (the server removes its keys)

	notifies atomic.Uint64 // events sent, for tests and diagnostics
}

// newConn wires up a Conn over page (the shared page) and the two ring
// areas; it does not start the event goroutine.
func newConn(server bool, ev EventChannel, mem []Memory, page, left, right []byte) (*Conn, error) {
	idx := func(off int) *uint32 { return word(page, off) }
	c := &Conn{
		server:    server,
		ev:        ev,
		mem:       mem,
		word:      idx(offWord),
		rlock:     make(chan struct{}, 1),
		wlock:     make(chan struct{}, 1),
		readWake:  make(chan struct{}, 1),
		writeWake: make(chan struct{}, 1),
		connWake:  make(chan struct{}, 1),
		done:      make(chan struct{}),
		closed:    make(chan struct{}),
		loopDone:  make(chan struct{}),
		wshut:     make(chan struct{}),
		failed:    make(chan struct{}),
	}
	c.rdl.init()
	c.wdl.init()
	var err error
	if server {
		c.myLive, c.peerLive = shiftOf(byteSrvLive), shiftOf(byteCliLive)
		c.reqShift, c.ackShift = shiftOf(byteCliNotify), shiftOf(byteSrvNotify)
		c.rd, err = ring.NewReader(idx(offLeftCons), idx(offLeftProd), left)
		if err == nil {
			c.wr, err = ring.NewWriter(idx(offRightCons), idx(offRightProd), right)
		}
	} else {
		c.myLive, c.peerLive = shiftOf(byteCliLive), shiftOf(byteSrvLive)
		c.reqShift, c.ackShift = shiftOf(byteSrvNotify), shiftOf(byteCliNotify)
		c.wr, err = ring.NewWriter(idx(offLeftCons), idx(offLeftProd), left)
		if err == nil {
			c.rd, err = ring.NewReader(idx(offRightCons), idx(offRightProd), right)
		}
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// start runs the event goroutine: it turns each event into a wakeup for
// whoever is blocked.
func (c *Conn) start() { go c.loop() }

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (c *Conn) loop() {
	defer close(c.loopDone)
	for {
		if err := c.ev.Wait(); err != nil {
			select {
			case <-c.done:
			default:
				c.fail(fmt.Errorf("vchan: event channel: %w", err))
			}
			return
		}
		// A server serves one client: once it left, this endpoint is
		// finished, and saying so keeps a new client from attaching to it
		// (Dial refuses a server whose live byte is 0).
		if c.server && c.peerLiveByte() == liveClosed {
			storeByte(c.word, c.myLive, liveClosed)
		}
		poke(c.readWake)
		poke(c.writeWake)
		poke(c.connWake)
	}
}

// fail records the first fatal error and wakes every waiter.
func (c *Conn) fail(err error) {
	c.failOnce.Do(func() {
		c.failErr = err
		close(c.failed)
	})
}

func (c *Conn) failure() error {
	select {
	case <-c.failed:
		return c.failErr
	default:
		return nil
	}
}

// PeerGone tells the Conn that the peer's domain died (the caller watches
// @releaseDomain). Blocked and later Writes fail with ErrPeerGone; Reads
// return what is left in the ring, then ErrPeerGone. Close is still needed.
func (c *Conn) PeerGone() { c.fail(ErrPeerGone) }

func (c *Conn) peerLiveByte() uint8 { return loadByte(c.word, c.peerLive) }

// request asks the peer to signal us after its next write or read.
func (c *Conn) request(bit uint32) { atomic.OrUint32(c.word, bit<<c.reqShift) }

// ack clears bit in our notify byte and signals the peer if it had asked.
func (c *Conn) ack(bit uint32) {
	prev := atomic.AndUint32(c.word, ^(bit << c.ackShift))
	if (prev>>c.ackShift)&bit != 0 {
		c.signal()
	}
}

func (c *Conn) signal() {
	c.notifies.Add(1)
	if err := c.ev.Notify(); err != nil {
		c.fail(fmt.Errorf("vchan: notify: %w", err))
	}
}

func (c *Conn) opError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &net.OpError{Op: op, Net: "vchan", Source: c.local, Addr: c.remote, Err: err}
}

// lock takes a capacity-1 channel lock, giving up at the deadline or Close.
func (c *Conn) lock(l chan struct{}, d *deadline) error {
	select {
	case <-c.done:
		return net.ErrClosed
	default:
	}
	select {
	case l <- struct{}{}:
		return nil
	case <-d.wait():
		return os.ErrDeadlineExceeded
	case <-c.done:
		return net.ErrClosed
	}
}

// Read reads up to len(p) bytes, blocking until at least one is there.
// It returns io.EOF once the peer closed and the ring is drained.
func (c *Conn) Read(p []byte) (int, error) {
	if err := c.lock(c.rlock, &c.rdl); err != nil {
		return 0, c.opError("read", err)
	}
	n, err := c.read(p)
	<-c.rlock
	return n, c.opError("read", err)
}

func (c *Conn) read(p []byte) (int, error) {
	dl := c.rdl.wait()
	armed := false
	for {
		select {
		case <-dl:
			return 0, os.ErrDeadlineExceeded
		case <-c.done:
			return 0, net.ErrClosed
		default:
		}
		if len(p) == 0 {
			return 0, nil
		}
		// Load the peer's live byte before the ring: data written before
		// it closed is then certainly seen.
		live := c.peerLiveByte()
		n, err := c.rd.Read(p)
		if err != nil {
			c.fail(err)
			return 0, err
		}
		if n > 0 {
			c.ack(notifyRead)
			return n, nil
		}
		if live == liveClosed {
			return 0, io.EOF
		}
		if err := c.failure(); err != nil {
			return 0, err
		}
		if !armed {
			// Ask to be woken, then look once more: the peer may have
			// written between our look and our asking.
			c.request(notifyWrite)
			armed = true
			continue
		}
		armed = false
		select {
		case <-c.readWake:
		case <-dl:
		case <-c.done:
		case <-c.failed:
		}
	}
}

// Write writes all of p, blocking while the ring is full. It fails with
// ErrPeerClosed once the peer closed.
func (c *Conn) Write(p []byte) (int, error) {
	if err := c.lock(c.wlock, &c.wdl); err != nil {
		return 0, c.opError("write", err)
	}
	n, err := c.write(p)
	<-c.wlock
	return n, c.opError("write", err)
}

func (c *Conn) write(p []byte) (int, error) {
	dl := c.wdl.wait()
	total := 0
	armed := false
	for {
		select {
		case <-dl:
			return total, os.ErrDeadlineExceeded
		case <-c.done:
			return total, net.ErrClosed
		case <-c.wshut:
			return total, ErrWriteClosed
		default:
		}
		if err := c.failure(); err != nil {
			return total, err
		}
		if c.peerLiveByte() == liveClosed {
			return total, ErrPeerClosed
		}
		if total == len(p) {
			return total, nil
		}
		n, err := c.wr.Write(p[total:])
		if err != nil {
			c.fail(err)
			return total, err
		}
		if n > 0 {
			total += n
			c.ack(notifyWrite)
			if total == len(p) {
				return total, nil
			}
			armed = false
			continue
		}
		if !armed {
			c.request(notifyRead)
			armed = true
			continue
		}
		armed = false
		select {
		case <-c.writeWake:
		case <-dl:
		case <-c.done:
		case <-c.wshut:
		case <-c.failed:
		}
	}
}

// CloseWrite tells the peer we will write no more: our live byte becomes 0,
// which the peer (this package or libxenvchan) takes as closed. See the
// package documentation for what that means for the peer's writes.
func (c *Conn) CloseWrite() error {
	select {
	case <-c.done:
		return c.opError("close", net.ErrClosed)
	default:
	}
	first := false
	c.wshutOnce.Do(func() {
		first = true
		close(c.wshut)
	})
	if !first {
		return nil
	}
	// Wait for a Write in progress to stop, so nothing follows the close.
	select {
	case c.wlock <- struct{}{}:
		defer func() { <-c.wlock }()
	case <-c.done:
		return nil // Close does the rest
	}
	storeByte(c.word, c.myLive, liveClosed)
	c.signal()
	return nil
}

// Close closes the connection: blocked Reads and Writes return
// net.ErrClosed, the peer sees our live byte go to 0 and is signalled, the
// memory is unshared or unmapped and the event channel unbound; a server
// removes its xenstore entries.
func (c *Conn) Close() error {
	first := false
	c.closeOnce.Do(func() {
		first = true
		c.closeErr = c.teardown()
		close(c.closed)
	})
	if !first {
		return c.opError("close", net.ErrClosed)
	}
	return c.closeErr
}

func (c *Conn) teardown() error {
	close(c.done)
	// Wait until no Read or Write touches the rings, and keep the locks.
	c.rlock <- struct{}{}
	c.wlock <- struct{}{}
	storeByte(c.word, c.myLive, liveClosed)
	c.notifies.Add(1)
	c.ev.Notify() // the peer may be gone already
	var errs []error
	// Stop the event goroutine before the memory goes away: it reads the
	// live bytes.
	if err := c.ev.Close(); err != nil {
		errs = append(errs, err)
	}
	<-c.loopDone
	for _, m := range c.mem {
		if err := m.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	c.rdl.stop()
	c.wdl.stop()
	if c.cleanup != nil {
		if err := c.cleanup(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("vchan: close: %w", errors.Join(errs...))
	}
	return nil
}

// Done is closed when Close starts.
func (c *Conn) Done() <-chan struct{} { return c.done }

// LocalAddr returns this end's domain and the vchan's xenstore path.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's domain and the vchan's xenstore path.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline sets the deadline for blocked and future Reads; past it
// they fail with an error wrapping os.ErrDeadlineExceeded.
func (c *Conn) SetReadDeadline(t time.Time) error { c.rdl.set(t); return nil }

// SetWriteDeadline sets the deadline for blocked and future Writes; a Write
// that times out may have written part of its data.
func (c *Conn) SetWriteDeadline(t time.Time) error { c.wdl.set(t); return nil }

// Notifications returns how many events this end has sent.
func (c *Conn) Notifications() uint64 { return c.notifies.Load() }

// ReadBufferSize and WriteBufferSize return the ring sizes in bytes.
func (c *Conn) ReadBufferSize() int  { return c.rd.Size() }
func (c *Conn) WriteBufferSize() int { return c.wr.Size() }

var _ net.Conn = (*Conn)(nil)
