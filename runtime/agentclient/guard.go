package agentclient

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
)

// ttrpc's framing (containerd/ttrpc PROTOCOL.md, channel.go): every message
// is a 10-byte header, big-endian {u32 length, u32 stream ID, u8 type, u8
// flags}, then length bytes of payload. Clients open streams with odd IDs,
// counting up; the server answers on the same ID.
const (
	frameHeaderLen = 10
	// maxFrameLen is ttrpc's messageLengthMax (4 MiB).
	maxFrameLen = 4 << 20

	frameRequest  = 1
	frameResponse = 2
	frameData     = 3
)

// ErrProtocol is wrapped by the error a connection fails with when the
// agent sends bytes that are not ttrpc framing a client could have asked
// for.
var ErrProtocol = errors.New("agent broke the ttrpc protocol")

// frameParser follows the frame boundaries of a ttrpc byte stream fed to it
// in pieces of any size.
type frameParser struct {
	hdr       [frameHeaderLen]byte
	have      int    // header bytes gathered
	remaining uint32 // payload bytes of the current frame still to come
}

// feed consumes p and calls check on every complete header. It stops at
// the first error check returns, which it returns.
func (f *frameParser) feed(p []byte, check func(length, stream uint32, typ, flags byte) error) error {
	for len(p) > 0 {
		if f.remaining > 0 {
			n := uint32(len(p))
			if n > f.remaining {
				n = f.remaining
			}
			f.remaining -= n
			p = p[n:]
			continue
		}
		n := copy(f.hdr[f.have:], p)
		f.have += n
		p = p[n:]
		if f.have < frameHeaderLen {
			return nil
		}
		f.have = 0
		length := binary.BigEndian.Uint32(f.hdr[0:4])
		stream := binary.BigEndian.Uint32(f.hdr[4:8])
		if err := check(length, stream, f.hdr[8], f.hdr[9]); err != nil {
			return err
		}
		f.remaining = length
	}
	return nil
}

// guardConn sits between ttrpc's client and the vchan and checks every
// frame the guest sends before ttrpc reads it: the length within ttrpc's
// limit, a response or data type, an odd stream ID the client has opened.
// ttrpc by itself skips a frame on a stream it does not know and, for an
// oversized length, waits to discard that many bytes; either lets a
// hostile guest keep a connection alive while feeding it garbage. Here the
// first bad header fails the connection: the Read returns the violation,
// ttrpc's receive loop ends, and every pending call fails.
type guardConn struct {
	net.Conn
	fail func(error) // records the cause and closes; called once per violation

	inMu sync.Mutex // serialises Reads (ttrpc has one reader anyway)
	in   frameParser
	bad  error // set once a violation was seen: Reads return it

	outMu   sync.Mutex
	out     frameParser
	maxSent atomic.Uint32 // highest stream ID the client has sent
}

func newGuardConn(c net.Conn, fail func(error)) *guardConn {
	return &guardConn{Conn: c, fail: fail}
}

func (g *guardConn) Read(p []byte) (int, error) {
	g.inMu.Lock()
	defer g.inMu.Unlock()
	if g.bad != nil {
		return 0, g.bad
	}
	n, err := g.Conn.Read(p)
	if n > 0 {
		if verr := g.in.feed(p[:n], g.checkIncoming); verr != nil {
			g.bad = fmt.Errorf("%w: %v", ErrProtocol, verr)
			g.fail(g.bad)
			return 0, g.bad
		}
	}
	return n, err
}

func (g *guardConn) checkIncoming(length, stream uint32, typ, flags byte) error {
	switch {
	case length > maxFrameLen:
		return fmt.Errorf("frame of %d bytes, more than ttrpc's %d", length, maxFrameLen)
	case typ != frameResponse && typ != frameData:
		return fmt.Errorf("frame of type %d on stream %d; an agent sends only responses (2) and data (3)", typ, stream)
	case stream%2 == 0:
		return fmt.Errorf("frame on even stream %d; client streams are odd", stream)
	case stream > g.maxSent.Load():
		return fmt.Errorf("frame on stream %d, which the client never opened (last opened %d)", stream, g.maxSent.Load())
	}
	return nil
}

// Write records the stream IDs the client opens, then writes. It parses
// before writing, so a response can never arrive before its stream is
// known.
func (g *guardConn) Write(p []byte) (int, error) {
	g.outMu.Lock()
	defer g.outMu.Unlock()
	_ = g.out.feed(p, func(_, stream uint32, typ, _ byte) error {
		if typ == frameRequest && stream > g.maxSent.Load() {
			g.maxSent.Store(stream)
		}
		return nil
	})
	return g.Conn.Write(p)
}
