package p9

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"

	"github.com/runxen/runxen/runtime/internal/bufpool"
)

// ErrClientClosed is returned by calls on a closed Client.
var ErrClientClosed = errors.New("p9: client closed")

// Client is a 9P2000.L client over one connection, safe for concurrent
// use: requests are tagged and may be in flight together. It is what
// tests and tools use to talk to a server (sharefs's suites, hostile
// clients); a guest mounts with its kernel's v9fs instead.
type Client struct {
	conn  io.ReadWriteCloser
	msize uint32

	wmu sync.Mutex // one request written at a time

	mu       sync.Mutex
	pending  map[uint16]chan clientReply // guarded by mu
	nextTag  uint16                      // guarded by mu
	nextFID  uint32                      // guarded by mu
	freeFIDs []uint32                    // guarded by mu
	err      error                       // why the connection ended; guarded by mu

	done chan struct{} // closed when the reader exits
}

type clientReply struct {
	h   Header
	buf []byte // the whole message, pooled
	err error
}

type clientConfig struct{ msize uint32 }

// ClientOption configures NewClient.
type ClientOption func(*clientConfig)

// WithMessageSize asks for an msize of n bytes (the server may agree to
// less). The default is DefaultMaxMessageSize.
func WithMessageSize(n uint32) ClientOption { return func(c *clientConfig) { c.msize = n } }

// NewClient negotiates a 9P2000.L session over conn. The Client then owns
// conn (Close closes it); if NewClient fails, the caller still does.
func NewClient(conn io.ReadWriteCloser, opts ...ClientOption) (*Client, error) {
	cfg := clientConfig{msize: DefaultMaxMessageSize}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.msize = min(max(cfg.msize, MinMessageSize), maxMessageSizeLimit)
	b, err := AppendMessage(nil, NoTag, &Tversion{MSize: cfg.msize, Version: Version})
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(b); err != nil {
		return nil, fmt.Errorf("p9: Tversion: %w", err)
	}
	h, buf, err := readMessage(conn, cfg.msize)
	if err != nil {
		return nil, fmt.Errorf("p9: Rversion: %w", err)
	}
	defer bufpool.Put(buf)
	if h.Type == MsgRlerror {
		m, err := DecodeMessage(h.Type, buf[headerSize:])
		if err != nil {
			return nil, err
		}
		return nil, &remoteError{op: MsgTversion, errno: syscall.Errno(m.(*Rlerror).Errno)}
	}
	if h.Type != MsgRversion {
		return nil, fmt.Errorf("p9: %v in answer to Tversion", h.Type)
	}
	m, err := DecodeMessage(h.Type, buf[headerSize:])
	if err != nil {
		return nil, err
	}
	rv := m.(*Rversion)
	if rv.Version != Version {
		return nil, fmt.Errorf("p9: server speaks %q, not %s", rv.Version, Version)
	}
	if rv.MSize < MinMessageSize || rv.MSize > cfg.msize {
		return nil, fmt.Errorf("p9: server's msize %d (asked for %d)", rv.MSize, cfg.msize)
	}
	c := &Client{
		conn:    conn,
		msize:   rv.MSize,
		pending: make(map[uint16]chan clientReply),
		nextFID: 1,
		done:    make(chan struct{}),
	}
	go c.readLoop()
	return c, nil
}

// MessageSize returns the negotiated msize.
func (c *Client) MessageSize() uint32 { return c.msize }

// Close closes the connection; calls in flight fail.
func (c *Client) Close() error {
	err := c.conn.Close()
	<-c.done
	return err
}

// readLoop hands each reply to the call waiting for its tag.
func (c *Client) readLoop() {
	defer close(c.done)
	var err error
	for {
		var h Header
		var buf []byte
		h, buf, err = readMessage(c.conn, c.msize)
		if err != nil {
			break
		}
		c.mu.Lock()
		ch, ok := c.pending[h.Tag]
		delete(c.pending, h.Tag)
		c.mu.Unlock()
		if !ok {
			bufpool.Put(buf)
			err = fmt.Errorf("%w: reply with tag %d, which no request has", ErrProtocol, h.Tag)
			break
		}
		ch <- clientReply{h: h, buf: buf}
	}
	c.conn.Close()
	if isClosed(err) {
		err = ErrClientClosed
	}
	c.mu.Lock()
	c.err = err
	for tag, ch := range c.pending {
		ch <- clientReply{err: err}
		delete(c.pending, tag)
	}
	c.mu.Unlock()
}

// newTag reserves a tag and the channel its reply arrives on.
func (c *Client) newTag() (uint16, chan clientReply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, nil, c.err
	}
	if len(c.pending) >= int(NoTag) {
		return 0, nil, errors.New("p9: every tag is in use")
	}
	for {
		tag := c.nextTag
		c.nextTag++
		if c.nextTag == NoTag {
			c.nextTag = 0
		}
		if _, used := c.pending[tag]; !used {
			ch := make(chan clientReply, 1)
			c.pending[tag] = ch
			return tag, ch, nil
		}
	}
}

// rpc sends t and returns its reply as a pooled whole message the caller
// gives back with bufpool.Put. An Rlerror is returned as an error carrying the
// errno.
func (c *Client) rpc(t Message) (Header, []byte, error) {
	tag, ch, err := c.newTag()
	if err != nil {
		return Header{}, nil, err
	}
	b, err := AppendMessage(bufpool.Get(sizeHint(t))[:0], tag, t)
	if err == nil && uint64(len(b)) > uint64(c.msize) {
		err = fmt.Errorf("p9: %v of %d bytes exceeds msize %d", t.Type(), len(b), c.msize)
	}
	if err == nil {
		c.wmu.Lock()
		_, err = c.conn.Write(b)
		c.wmu.Unlock()
	}
	bufpool.Put(b)
	if err != nil {
		c.mu.Lock()
		if _, ok := c.pending[tag]; ok {
			delete(c.pending, tag)
			c.mu.Unlock()
			return Header{}, nil, err
		}
		c.mu.Unlock()
		// The reader already answered it (with the connection's end).
	}
	r := <-ch
	if r.err != nil {
		return Header{}, nil, r.err
	}
	if r.h.Type == MsgRlerror {
		defer bufpool.Put(r.buf)
		m, err := DecodeMessage(MsgRlerror, r.buf[headerSize:])
		if err != nil {
			return Header{}, nil, err
		}
		return Header{}, nil, &remoteError{op: t.Type(), errno: syscall.Errno(m.(*Rlerror).Errno)}
	}
	if r.h.Type != t.Type()+1 {
		bufpool.Put(r.buf)
		return Header{}, nil, fmt.Errorf("%w: %v in answer to %v", ErrProtocol, r.h.Type, t.Type())
	}
	return r.h, r.buf, nil
}

// Call sends any request and returns the decoded reply; an Rlerror comes
// back as an error carrying its errno. Replies own their data.
func (c *Client) Call(t Message) (Message, error) {
	h, buf, err := c.rpc(t)
	if err != nil {
		return nil, err
	}
	defer bufpool.Put(buf)
	m, err := DecodeMessage(h.Type, buf[headerSize:])
	if err != nil {
		return nil, err
	}
	if r, ok := m.(*Rread); ok {
		r.Data = bytes.Clone(r.Data)
	}
	return m, nil
}

func (c *Client) newFID() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := len(c.freeFIDs); n > 0 {
		f := c.freeFIDs[n-1]
		c.freeFIDs = c.freeFIDs[:n-1]
		return f
	}
	f := c.nextFID
	c.nextFID++
	return f
}

func (c *Client) freeFID(f uint32) {
	c.mu.Lock()
	c.freeFIDs = append(c.freeFIDs, f)
	c.mu.Unlock()
}

// Attach attaches as no particular user (n_uname NoUID) to aname.
func (c *Client) Attach(aname string) (File, error) { return c.AttachUID(aname, NoUID) }

// AttachUID attaches as uid to aname and returns the root.
func (c *Client) AttachUID(aname string, uid UID) (File, error) {
	f := c.newFID()
	_, err := c.Call(&Tattach{FID: f, AFID: NoFID, AName: aname, NUName: uid})
	if err != nil {
		c.freeFID(f)
		return nil, err
	}
	return &clientFile{c: c, fid: f}, nil
}

// readData reads count[4] data[count] of an Rread or Rreaddir body into p.
func readData(body []byte, p []byte) (int, error) {
	if len(body) < 4 {
		return 0, fmt.Errorf("%w: short reply", ErrMalformed)
	}
	n := binary.LittleEndian.Uint32(body)
	if uint64(n) != uint64(len(body)-4) || int(n) > len(p) {
		return 0, fmt.Errorf("%w: %d bytes of data for at most %d", ErrMalformed, n, len(p))
	}
	return copy(p, body[4:]), nil
}
