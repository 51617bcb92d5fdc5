package p9

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/containerd/log"

	"github.com/runxen/runxen/runtime/internal/bufpool"
)

// Server defaults for zero fields.
const (
	// DefaultMaxMessageSize is the largest msize offered: 512 KiB, the
	// most Linux's Xen transport uses.
	DefaultMaxMessageSize = 512 << 10
	// DefaultMaxFIDs bounds a connection's fids (EMFILE beyond).
	DefaultMaxFIDs = 16384
	// DefaultMaxInflight bounds the requests of a connection read and not
	// yet answered; each holds up to two msize buffers.
	DefaultMaxInflight = 32
	// DefaultMaxXattrBytes bounds the extended attribute values a
	// connection holds between Txattrwalk/Txattrcreate and Tclunk (ENOMEM
	// beyond).
	DefaultMaxXattrBytes = 16 * MaxXattrSize

	// maxMessageSizeLimit caps any configured msize. Messages above
	// bufpool.MaxSize (possible only over a transport other than a Xen
	// ring) are allocated per message rather than pooled.
	maxMessageSizeLimit = 16 << 20
)

// VectorWriter is implemented by a transport that takes one whole message
// in pieces (package xen9pfs's connections): the server then writes every
// reply with one WriteVectors call.
type VectorWriter interface {
	WriteVectors(bufs [][]byte) error
}

// Server serves 9P2000.L on connections, handing requests to the Files of
// its Attacher. One Server may serve any number of connections at once;
// each has its own fids, msize and bounds. The fields are read when Serve
// starts.
type Server struct {
	// Attacher gives the root for each Tattach. Required.
	Attacher Attacher

	// MaxMessageSize is the largest msize agreed to (at least
	// MinMessageSize); a connection with a MaxMessageSize() int method
	// lowers it further.
	MaxMessageSize uint32
	// MaxFIDs, MaxInflight and MaxXattrBytes: see the defaults above.
	MaxFIDs       int
	MaxInflight   int
	MaxXattrBytes int

	// BeginRequest and EndRequest, if set, are called for every request
	// the server read: Begin before it is handled, End once its reply was
	// written (or could not be). A caller that must know no request is in
	// progress (a file system sync) counts them.
	BeginRequest func()
	EndRequest   func()
}

func (s *Server) withDefaults() Server {
	c := *s
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	c.MaxMessageSize = max(min(c.MaxMessageSize, maxMessageSizeLimit), MinMessageSize)
	if c.MaxFIDs <= 0 {
		c.MaxFIDs = DefaultMaxFIDs
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.MaxXattrBytes <= 0 {
		c.MaxXattrBytes = DefaultMaxXattrBytes
	}
	return c
}

// Serve runs one 9P session (or several in turn: each Tversion starts
// afresh) over conn until the peer goes away, ctx ends or the client
// breaks the protocol, then closes conn, waits for the requests being
// handled and closes every File the connection still holds. It returns nil
// when the connection simply ended, an error wrapping ErrProtocol when the
// client broke the protocol, or the transport's error.
//
// conn carries 9P messages as a byte stream: Read is called by one
// goroutine; replies are written whole, one at a time, with WriteVectors if
// conn is a VectorWriter, else with Write. Close must make a pending Read
// return. If conn has a MaxMessageSize() int method, the negotiated msize
// stays within it.
func (s *Server) Serve(ctx context.Context, conn io.ReadWriteCloser) error {
	if s.Attacher == nil {
		return errors.New("p9: server without an Attacher")
	}
	cfg := s.withDefaults()
	c := &srvConn{
		srv:      &cfg,
		ctx:      ctx,
		log:      log.G(ctx),
		rw:       conn,
		maxMsize: cfg.MaxMessageSize,
		tokens:   make(chan struct{}, cfg.MaxInflight),
		tags:     make(map[uint16]*pending),
		fids:     make(map[uint32]*fid),
	}
	if vw, ok := conn.(VectorWriter); ok {
		c.vw = vw
	}
	if m, ok := conn.(interface{ MaxMessageSize() int }); ok {
		if n := m.MaxMessageSize(); n > 0 && uint64(n) < uint64(c.maxMsize) {
			c.maxMsize = uint32(n)
		}
	}
	stop := context.AfterFunc(ctx, c.closeConn)
	defer stop()

	err := c.readLoop()
	c.closeConn()
	c.handlers.Wait()
	c.clunkAll()

	switch {
	case errors.Is(err, ErrProtocol):
		c.log.WithError(err).Warn("p9: closing the connection")
		return err
	case err == nil || ctx.Err() != nil || isClosed(err):
		return nil
	default:
		return fmt.Errorf("p9: read: %w", err)
	}
}

// srvConn is one connection's state.
type srvConn struct {
	srv      *Server
	ctx      context.Context
	log      *log.Entry
	rw       io.ReadWriteCloser
	vw       VectorWriter
	maxMsize uint32 // the configured and transport limit

	msize atomic.Uint32 // negotiated; 0 until a Tversion succeeded

	tokens   chan struct{} // one per request read and not yet answered
	handlers sync.WaitGroup

	tagMu sync.Mutex
	tags  map[uint16]*pending // requests in flight; guarded by tagMu

	writeMu sync.Mutex // one reply at a time

	fidMu      sync.Mutex
	fids       map[uint32]*fid // guarded by fidMu
	fidSeq     uint64          // guarded by fidMu
	xattrBytes int             // reserved by xattr fids; guarded by fidMu

	closeOnce sync.Once
}

// pending is a request in flight.
type pending struct {
	done  chan struct{} // closed once its reply was written
	flush bool          // a Tflush: never waited for by another Tflush
}

func (c *srvConn) closeConn() {
	c.closeOnce.Do(func() { c.rw.Close() })
}

func protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, args...)...)
}

// readLoop reads requests and starts a handler for each until reading
// fails or the client breaks the protocol. It takes a token before
// reading each message, so at most MaxInflight requests are in the server
// at once and a client that sends more waits on its transport.
func (c *srvConn) readLoop() error {
	for {
		select {
		case c.tokens <- struct{}{}:
		case <-c.ctx.Done():
			return nil
		}
		// Before a session, only a Tversion is expected, and a real one
		// is a few dozen bytes.
		limit := c.msize.Load()
		if limit == 0 {
			limit = min(c.maxMsize, MinMessageSize)
		}
		h, buf, err := readMessage(c.rw, limit)
		if err != nil {
			<-c.tokens
			if errors.Is(err, ErrMalformed) {
				return fmt.Errorf("%w: %w", ErrProtocol, err)
			}
			return err
		}
		if h.Type == MsgTversion {
			err = c.version(h.Tag, buf)
			bufpool.Put(buf)
			<-c.tokens
			if err != nil {
				return err
			}
			continue
		}
		if c.msize.Load() == 0 {
			bufpool.Put(buf)
			<-c.tokens
			return protocolError("%v before Tversion", h.Type)
		}
		var m Message
		if known := newMessage(h.Type); known != nil && isRequest(h.Type) {
			if m, err = DecodeMessage(h.Type, buf[headerSize:]); err != nil {
				bufpool.Put(buf)
				<-c.tokens
				return fmt.Errorf("%w: %w", ErrProtocol, err)
			}
		}
		p := &pending{done: make(chan struct{}), flush: h.Type == MsgTflush}
		c.tagMu.Lock()
		if _, dup := c.tags[h.Tag]; dup {
			c.tagMu.Unlock()
			bufpool.Put(buf)
			<-c.tokens
			return protocolError("tag %d reused while in flight", h.Tag)
		}
		c.tags[h.Tag] = p
		c.tagMu.Unlock()

		if c.srv.BeginRequest != nil {
			c.srv.BeginRequest()
		}
		c.handlers.Add(1)
		go c.serveRequest(h, m, buf, p)
	}
}

// isRequest reports whether t is a request this server answers (other
// than Tversion, handled in the read loop).
func isRequest(t MsgType) bool {
	return t&1 == 0 && t != MsgTversion
}

// serveRequest handles one request in its own goroutine and writes the
// reply. m is nil for a message type the server does not implement.
func (c *srvConn) serveRequest(h Header, m Message, buf []byte, p *pending) {
	defer c.handlers.Done()
	var reply Message
	var err error
	if m == nil {
		err = enosys
	} else {
		reply, err = c.dispatchGuarded(m)
	}
	bufpool.Put(buf) // Twrite's data aliased it; the handler is done with it
	c.reply(h.Tag, reply, err, p)
	if c.srv.EndRequest != nil {
		c.srv.EndRequest()
	}
	<-c.tokens
}

// dispatchGuarded runs the handler, turning a panic into EFAULT for this
// request only.
func (c *srvConn) dispatchGuarded(m Message) (reply Message, err error) {
	defer func() {
		if v := recover(); v != nil {
			c.log.WithField("panic", v).Errorf("p9: panic handling %v", m.Type())
			reply, err = nil, efault
		}
	}()
	return c.dispatch(m)
}

// reply writes the reply to the request tag and retires the tag. The tag
// leaves the table before the reply is written, because the client may
// reuse it the moment it sees the reply; a Tflush waiting for the request
// is released only after the write, so its Rflush always follows.
func (c *srvConn) reply(tag uint16, m Message, err error, p *pending) {
	defer close(p.done)
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.tagMu.Lock()
	delete(c.tags, tag)
	c.tagMu.Unlock()
	c.writeReply(tag, m, err)
}

// writeReply encodes and writes one reply; the caller holds writeMu.
func (c *srvConn) writeReply(tag uint16, m Message, err error) {
	msize := c.msize.Load()
	if msize == 0 {
		msize = c.maxMsize
	}
	var b []byte
	if rr, ok := m.(*rreadReply); ok && err == nil {
		b = rr.frame(tag)
	} else {
		if err != nil {
			m = &Rlerror{Errno: uint32(errnoOf(err))}
		}
		var eerr error
		b, eerr = AppendMessage(bufpool.Get(sizeHint(m))[:0], tag, m)
		if eerr == nil && uint64(len(b)) > uint64(msize) {
			eerr = fmt.Errorf("%v of %d bytes exceeds msize %d", m.Type(), len(b), msize)
		}
		if eerr != nil {
			c.log.WithError(eerr).Warn("p9: reply does not fit; sending EIO")
			bufpool.Put(b)
			b, _ = AppendMessage(bufpool.Get(512)[:0], tag, &Rlerror{Errno: uint32(eio)})
		}
	}
	defer bufpool.Put(b)
	var werr error
	if c.vw != nil {
		werr = c.vw.WriteVectors([][]byte{b})
	} else {
		_, werr = c.rw.Write(b)
	}
	if werr != nil {
		// The connection is broken: stop reading too.
		c.log.WithError(werr).Debug("p9: writing a reply failed")
		c.closeConn()
	}
}

// version handles Tversion in the read loop: it waits for every request in
// flight, drops every fid (a new session starts) and agrees on msize.
func (c *srvConn) version(tag uint16, buf []byte) error {
	m, err := DecodeMessage(MsgTversion, buf[headerSize:])
	if err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	tv := m.(*Tversion)
	if c.srv.BeginRequest != nil {
		c.srv.BeginRequest()
	}
	defer func() {
		if c.srv.EndRequest != nil {
			c.srv.EndRequest()
		}
	}()
	c.handlers.Wait()
	c.clunkAll()

	reply := &Rversion{MSize: min(tv.MSize, c.maxMsize), Version: Version}
	if !versionOK(tv.Version) || tv.MSize < MinMessageSize {
		// Not a session we can offer: say so, and wait for another
		// Tversion.
		reply.Version = "unknown"
		c.msize.Store(0)
	} else {
		c.msize.Store(reply.MSize)
	}
	c.writeMu.Lock()
	c.writeReply(tag, reply, nil)
	c.writeMu.Unlock()
	return nil
}

// versionOK accepts "9P2000.L" and its dotted extensions
// ("9P2000.L.Google.7"), answered with plain 9P2000.L as version(5)
// allows.
func versionOK(v string) bool {
	return v == Version || (len(v) > len(Version) && v[:len(Version)+1] == Version+".")
}
