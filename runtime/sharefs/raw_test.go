//go:build linux

package sharefs

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
)

// Raw 9P messages, for talking to the server the way a hostile guest would.

// 9P message types used by the tests.
const (
	tRlerror     = 7
	tTstatfs     = 8
	tTlopen      = 12
	tTlcreate    = 14
	tTsymlink    = 16
	tTmknod      = 18
	tTreadlink   = 22
	tTgetattr    = 24
	tTsetattr    = 26
	tTxattrwalk  = 30
	tTxattrcreat = 32
	tTreaddir    = 40
	tTfsync      = 50
	tTlock       = 52
	tTgetlock    = 54
	tTlink       = 70
	tTmkdir      = 72
	tTrenameat   = 74
	tTunlinkat   = 76
	tTversion    = 100
	tRversion    = 101
	tTattach     = 104
	tTflush      = 108
	tTwalk       = 110
	tRwalk       = 111
	tTread       = 116
	tRread       = 117
	tTwrite      = 118
	tTclunk      = 120
	tTremove     = 122
	noTag        = 0xffff
	noFID        = 0xffffffff
)

// enc builds a message body.
type enc struct{ b []byte }

func (e *enc) u8(v uint8) *enc   { e.b = append(e.b, v); return e }
func (e *enc) u16(v uint16) *enc { e.b = binary.LittleEndian.AppendUint16(e.b, v); return e }
func (e *enc) u32(v uint32) *enc { e.b = binary.LittleEndian.AppendUint32(e.b, v); return e }
func (e *enc) u64(v uint64) *enc { e.b = binary.LittleEndian.AppendUint64(e.b, v); return e }
func (e *enc) str(s string) *enc { e.u16(uint16(len(s))); e.b = append(e.b, s...); return e }
func (e *enc) raw(p []byte) *enc { e.b = append(e.b, p...); return e }

// frame makes a whole message: size[4] type[1] tag[2] body.
func frame(typ uint8, tag uint16, body []byte) []byte {
	m := binary.LittleEndian.AppendUint32(nil, uint32(7+len(body)))
	m = append(m, typ)
	m = binary.LittleEndian.AppendUint16(m, tag)
	return append(m, body...)
}

func versionMsg(msize uint32, version string) []byte {
	return frame(tTversion, noTag, (&enc{}).u32(msize).str(version).b)
}

func attachMsg(tag uint16, fid uint32) []byte {
	return frame(tTattach, tag, (&enc{}).u32(fid).u32(noFID).str("root").str("").u32(0).b)
}

func walkMsg(tag uint16, fid, newfid uint32, names ...string) []byte {
	e := (&enc{}).u32(fid).u32(newfid).u16(uint16(len(names)))
	for _, n := range names {
		e.str(n)
	}
	return frame(tTwalk, tag, e.b)
}

type reply struct {
	typ  uint8
	tag  uint16
	body []byte
}

// errno returns the errno of an Rlerror, or 0.
func (r reply) errno() uint32 {
	if r.typ != tRlerror || len(r.body) < 4 {
		return 0
	}
	return binary.LittleEndian.Uint32(r.body)
}

// rawConn is a raw connection to a share.
type rawConn struct {
	t       testing.TB
	c       net.Conn
	served  chan error // Serve's result
	replies chan reply // parsed replies, closed at EOF
}

func dialRaw(t testing.TB, share *Share) *rawConn {
	return dialRawConn(t, share, nil)
}

// dialRawConn serves share over a pipe; wrap, if set, wraps the server end.
func dialRawConn(t testing.TB, share *Share, wrap func(net.Conn) io.ReadWriteCloser) *rawConn {
	t.Helper()
	srv, cli := net.Pipe()
	rc := &rawConn{t: t, c: cli, served: make(chan error, 1), replies: make(chan reply, 64)}
	var conn io.ReadWriteCloser = srv
	if wrap != nil {
		conn = wrap(srv)
	}
	go func() { rc.served <- share.Serve(context.Background(), conn) }()
	go rc.readLoop()
	t.Cleanup(func() { cli.Close() })
	return rc
}

func (rc *rawConn) readLoop() {
	defer close(rc.replies)
	hdr := make([]byte, 7)
	for {
		if _, err := io.ReadFull(rc.c, hdr); err != nil {
			return
		}
		size := binary.LittleEndian.Uint32(hdr)
		if size < 7 {
			return
		}
		body := make([]byte, size-7)
		if _, err := io.ReadFull(rc.c, body); err != nil {
			return
		}
		rc.replies <- reply{typ: hdr[4], tag: binary.LittleEndian.Uint16(hdr[5:]), body: body}
	}
}

func (rc *rawConn) send(msgs ...[]byte) error {
	for _, m := range msgs {
		if _, err := rc.c.Write(m); err != nil {
			return err
		}
	}
	return nil
}

// recv returns the next reply, or fails the test if the connection closed.
func (rc *rawConn) recv() reply {
	rc.t.Helper()
	r, ok := <-rc.replies
	if !ok {
		rc.t.Fatal("connection closed, want a reply")
	}
	return r
}

// roundTrip sends one message and returns its reply.
func (rc *rawConn) roundTrip(m []byte) reply {
	rc.t.Helper()
	if err := rc.send(m); err != nil {
		rc.t.Fatal(err)
	}
	return rc.recv()
}

// handshake negotiates msize and attaches fid 0.
func (rc *rawConn) handshake(msize uint32) {
	rc.t.Helper()
	if r := rc.roundTrip(versionMsg(msize, "9P2000.L")); r.typ != tRversion {
		rc.t.Fatalf("Tversion: reply type %d", r.typ)
	}
	if r := rc.roundTrip(attachMsg(1, 0)); r.typ == tRlerror {
		rc.t.Fatalf("Tattach: errno %d", r.errno())
	}
}

// closedByServer waits for the server to end the connection: Serve returns
// and the client side reads EOF.
func (rc *rawConn) closedByServer() {
	rc.t.Helper()
	for range rc.replies {
	}
	if err := <-rc.served; err != nil && !errors.Is(err, io.EOF) {
		rc.t.Logf("Serve: %v", err)
	}
}
