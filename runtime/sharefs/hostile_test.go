//go:build linux

package sharefs

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/iolimit"
	"github.com/runxen/runxen/runtime/iolimit/iolimittest"
	"github.com/runxen/runxen/runtime/p9"
)

// A hostile client can only ever end its own connection.

func TestProtocolViolationsCloseTheConnection(t *testing.T) {
	tests := map[string][][]byte{
		"message before Tversion": {attachMsg(1, 0)},
		"undecodable message": {
			versionMsg(8192, "9P2000.L"),
			// Twalk claiming five names and carrying none.
			frame(tTwalk, 2, (&enc{}).u32(0).u32(1).u16(5).b),
		},
		"message larger than msize": {
			versionMsg(8192, "9P2000.L"),
			frame(tTwrite, 2, make([]byte, 9000)),
		},
		"size smaller than a header": {
			versionMsg(8192, "9P2000.L"),
			{3, 0, 0, 0, 0, 0, 0},
		},
	}
	for name, msgs := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			rc := dialRaw(t, e.share)
			go rc.send(msgs...)
			rc.closedByServer()
			// The share still serves others.
			if _, err := e.root.StatFS(); err != nil {
				t.Fatalf("other connection after the violation: %v", err)
			}
		})
	}
}

func TestVersionNegotiation(t *testing.T) {
	e := newEnv(t)
	msize := func(r reply) uint32 { return binary.LittleEndian.Uint32(r.body) }
	version := func(r reply) string { return string(r.body[6:]) }

	rc := dialRaw(t, e.share)
	if r := rc.roundTrip(versionMsg(100<<20, "9P2000.L")); msize(r) != DefaultMaxMessageSize || version(r) != "9P2000.L" {
		t.Fatalf("huge msize: got %d %q", msize(r), version(r))
	}
	if r := rc.roundTrip(versionMsg(1<<20, "9P2000.L.Google.7")); msize(r) != DefaultMaxMessageSize || version(r) != "9P2000.L" {
		t.Fatalf("extension version: got %d %q, want plain 9P2000.L", msize(r), version(r))
	}
	if r := rc.roundTrip(versionMsg(100, "9P2000.L")); version(r) != "unknown" {
		t.Fatalf("msize 100: got %q, want unknown", version(r))
	}
	if r := rc.roundTrip(versionMsg(8192, "9P2000.u")); version(r) != "unknown" {
		t.Fatalf("9P2000.u: got %q", version(r))
	}

	// A connection that carries at most 64 KiB lowers the msize.
	small := dialRawConn(t, e.share, func(c net.Conn) io.ReadWriteCloser { return maxMsgConn{c, 64 << 10} })
	if r := small.roundTrip(versionMsg(1<<20, "9P2000.L")); msize(r) != 64<<10 {
		t.Fatalf("msize over a 64 KiB transport: %d", msize(r))
	}
}

type maxMsgConn struct {
	net.Conn
	max int
}

func (c maxMsgConn) MaxMessageSize() int { return c.max }

func TestTversionResetsTheSession(t *testing.T) {
	e := newEnv(t)
	rc := dialRaw(t, e.share)
	rc.handshake(8192)
	if r := rc.roundTrip(walkMsg(2, 0, 1)); r.typ != tRwalk {
		t.Fatalf("clone: %d", r.errno())
	}
	// A remount on the same connection: every old fid is gone.
	rc.handshake(8192)
	if r := rc.roundTrip(frame(tTgetattr, 3, (&enc{}).u32(1).u64(0x7ff).b)); r.errno() != uint32(unix.EBADF) {
		t.Fatalf("old fid after Tversion: errno %d, want EBADF", r.errno())
	}
}

func TestUnknownMessageIsAnError(t *testing.T) {
	e := newEnv(t)
	rc := dialRaw(t, e.share)
	rc.handshake(8192)
	for _, typ := range []uint8{1, 112, 114, 200} { // not 9P2000.L requests
		if r := rc.roundTrip(frame(typ, 5, []byte{1, 2, 3, 4})); r.errno() != uint32(unix.ENOSYS) {
			t.Fatalf("type %d: reply %d errno %d, want ENOSYS", typ, r.typ, r.errno())
		}
	}
	// Extension messages (9P2000.L.Google) are not offered: Twalkgetattr.
	if r := rc.roundTrip(frame(126, 5, (&enc{}).u32(0).u32(9).u16(0).b)); r.errno() != uint32(unix.ENOSYS) {
		t.Fatalf("Twalkgetattr: reply %d errno %d, want ENOSYS", r.typ, r.errno())
	}
	if r := rc.roundTrip(walkMsg(2, 0, 1)); r.typ != tRwalk {
		t.Fatal("connection unusable after unknown messages")
	}
}

func TestReadCountClampedToMsize(t *testing.T) {
	e := newEnv(t)
	e.writeHost("big", string(make([]byte, 64<<10)), 0o644)
	rc := dialRaw(t, e.share)
	rc.handshake(8192)
	rc.roundTrip(walkMsg(2, 0, 1, "big"))
	if r := rc.roundTrip(frame(tTlopen, 3, (&enc{}).u32(1).u32(0).b)); r.typ == tRlerror {
		t.Fatalf("open: %d", r.errno())
	}
	r := rc.roundTrip(frame(tTread, 4, (&enc{}).u32(1).u64(0).u32(4<<20).b))
	if r.typ != tRread || 7+len(r.body) > 8192 {
		t.Fatalf("Rread of %d bytes for msize 8192", 7+len(r.body))
	}
}

func TestFidAndDescriptorLimits(t *testing.T) {
	e := newEnv(t)
	e.stop()
	for _, tc := range []struct {
		name string
		cfg  Config
		want unix.Errno
	}{
		{"fids", Config{Dir: e.dir, MaxFIDs: 10}, unix.EMFILE},
		{"descriptors", Config{Dir: e.dir, MaxOpenFiles: 10}, unix.ENFILE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			share, err := New(tc.cfg)
			must(t, err)
			defer share.Close()
			rc := dialRaw(t, share)
			rc.handshake(8192) // fid 0: one fid, one descriptor
			var got uint32
			for i := uint32(1); i < 20 && got == 0; i++ {
				got = rc.roundTrip(walkMsg(2, 0, i)).errno()
			}
			if got != uint32(tc.want) {
				t.Fatalf("errno %d, want %v", got, tc.want)
			}
			// Clunking one makes room again.
			rc.roundTrip(frame(tTclunk, 3, (&enc{}).u32(1).b))
			if r := rc.roundTrip(walkMsg(2, 0, 1)); r.typ != tRwalk {
				t.Fatalf("after a clunk: errno %d", r.errno())
			}
		})
	}
}

func TestXattrBounds(t *testing.T) {
	e := newEnv(t)
	e.writeHost("f", "", 0o644)
	rc := dialRaw(t, e.share)
	rc.handshake(8192)
	xattrCreate := func(fid uint32, size uint64) reply {
		return rc.roundTrip(frame(tTxattrcreat, 9, (&enc{}).u32(fid).str("user.x").u64(size).u32(0).b))
	}
	rc.roundTrip(walkMsg(2, 0, 1, "f"))
	if r := xattrCreate(1, 1<<40); r.errno() != uint32(unix.E2BIG) {
		t.Fatalf("1 TiB xattr: errno %d, want E2BIG", r.errno())
	}
	// Pending values are bounded per connection: 16 x 64 KiB, then ENOMEM.
	var got uint32
	for i := uint32(10); i < 40 && got == 0; i++ {
		rc.roundTrip(walkMsg(2, 1, i))
		got = xattrCreate(i, 64<<10).errno()
	}
	if got != uint32(unix.ENOMEM) {
		t.Fatalf("errno %d, want ENOMEM once the budget is spent", got)
	}
}

// blockedEnv is a share whose writes wait on a fake clock: one byte per
// second and nothing in the bucket after the first byte.
func blockedEnv(t *testing.T, cfg Config) (*env, *iolimittest.Clock) {
	clk := iolimittest.NewClock()
	e := newEnv(t)
	e.stop()
	cfg.Dir = e.dir
	cfg.Limiter = iolimit.New(iolimit.Limits{WriteBytesPerSec: 1}, iolimit.WithClock(clk))
	e.start(cfg)
	return e, clk
}

func TestLimitsApplyAndChangeLive(t *testing.T) {
	e, clk := blockedEnv(t, Config{})
	f := e.create("f", 0o644)
	done := make(chan error, 1)
	go func() {
		_, err := f.WriteAt(make([]byte, 11), 0)
		done <- err
	}()
	clk.BlockUntil(1)
	if d, _ := clk.NextDeadline(); d != 10*time.Second {
		t.Fatalf("11 bytes at 1 B/s wait %v, want 10s", d)
	}
	select {
	case err := <-done:
		t.Fatalf("write finished while throttled: %v", err)
	default:
	}
	clk.Advance(10 * time.Second)
	must(t, <-done)

	// Raising the limit releases a waiter at once.
	go func() {
		_, err := f.WriteAt(make([]byte, 1000), 0)
		done <- err
	}()
	clk.BlockUntilCreated(2)
	e.share.Limiter().SetLimits(iolimit.Limits{})
	must(t, <-done)
	if s := e.share.Limiter().Stats(); s.WriteBytes < 1011 || s.WriteOps < 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestInflightBound(t *testing.T) {
	e, clk := blockedEnv(t, Config{MaxInflight: 2})
	e.writeHost("f", "", 0o644)
	rc := dialRaw(t, e.share)
	rc.handshake(8192)
	rc.roundTrip(walkMsg(2, 0, 1, "f"))
	rc.roundTrip(frame(tTlopen, 3, (&enc{}).u32(1).u32(2).b))

	// Five writes of 2 bytes: the first takes the only token in the
	// bucket and waits 1 s, the next waits longer; only two may be in
	// the server at once.
	var sent atomic.Int32
	go func() {
		for i := range 5 {
			if rc.send(frame(tTwrite, uint16(10+i), (&enc{}).u32(1).u64(0).u32(2).raw([]byte("ab")).b)) != nil {
				return
			}
			sent.Add(1)
		}
	}()
	clk.BlockUntil(2) // two writes are in the server, waiting on the clock
	// Both tokens are held, so the server reads nothing more: the third
	// write cannot have been taken off the (unbuffered) pipe. (The sender
	// may not have counted the second yet, hence <=.)
	if n := sent.Load(); n > 2 {
		t.Fatalf("%d requests read by the server, want 2 (MaxInflight)", n)
	}
	for range 5 {
		d, ok := clk.NextDeadline()
		for !ok {
			clk.BlockUntil(1)
			d, ok = clk.NextDeadline()
		}
		clk.Advance(d)
		if r := rc.recv(); r.errno() != 0 {
			t.Fatalf("write: errno %d", r.errno())
		}
	}
}

func TestDuplicateTagClosesTheConnection(t *testing.T) {
	e, clk := blockedEnv(t, Config{})
	e.writeHost("f", "", 0o644)
	rc := dialRaw(t, e.share)
	rc.handshake(8192)
	rc.roundTrip(walkMsg(2, 0, 1, "f"))
	rc.roundTrip(frame(tTlopen, 3, (&enc{}).u32(1).u32(2).b))
	write := frame(tTwrite, 7, (&enc{}).u32(1).u64(0).u32(3).raw([]byte("abc")).b)
	must(t, rc.send(write))
	clk.BlockUntil(1) // tag 7 is in flight
	must(t, rc.send(frame(tTgetattr, 7, (&enc{}).u32(1).u64(0x7ff).b)))
	// No clock advance: the write stays in flight until the connection's
	// end cancels its wait, so tag 7 is still taken when the Tgetattr is
	// handled.
	rc.closedByServer()
}

func TestSyncWaitsForRequestsInFlight(t *testing.T) {
	e, clk := blockedEnv(t, Config{})
	f := e.create("f", 0o644)
	wrote := make(chan error, 1)
	go func() {
		_, err := f.WriteAt([]byte("xyz"), 0)
		wrote <- err
	}()
	clk.BlockUntil(1)

	// A Sync that gives up first reports why.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.share.Sync(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sync with a cancelled context: %v", err)
	}
	synced := make(chan error, 1)
	go func() { synced <- e.share.Sync(context.Background()) }()
	select {
	case err := <-synced:
		t.Fatalf("Sync returned with a write in flight: %v", err)
	case <-wrote:
		t.Fatal("write finished while throttled")
	default:
	}
	clk.Advance(time.Hour)
	must(t, <-wrote)
	must(t, <-synced)
}

func TestCloseEndsSessions(t *testing.T) {
	e := newEnv(t)
	rc := dialRaw(t, e.share)
	rc.handshake(8192)
	must(t, e.share.Close())
	rc.closedByServer()
	if err := e.share.Serve(context.Background(), nopConn{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
	if err := e.share.Sync(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close: %v", err)
	}
	e.share = nil // already closed
}

type nopConn struct{}

func (nopConn) Read([]byte) (int, error)    { return 0, io.EOF }
func (nopConn) Write(p []byte) (int, error) { return len(p), nil }
func (nopConn) Close() error                { return nil }

// TestVectorWriter: a connection that takes whole replies gets each in one
// call.
func TestVectorWriter(t *testing.T) {
	e := newEnv(t)
	e.writeHost("f", "0123456789", 0o644)
	var calls, messages atomic.Int32
	rc := dialRawConn(t, e.share, func(c net.Conn) io.ReadWriteCloser {
		return &vecConn{Conn: c, calls: &calls, msgs: &messages}
	})
	rc.handshake(8192)
	rc.roundTrip(walkMsg(2, 0, 1, "f"))
	rc.roundTrip(frame(tTlopen, 3, (&enc{}).u32(1).u32(0).b))
	if r := rc.roundTrip(frame(tTread, 4, (&enc{}).u32(1).u64(0).u32(100).b)); string(r.body[4:]) != "0123456789" {
		t.Fatalf("read %q", r.body)
	}
	// Rversion, Rattach, Rwalk, Rlopen, Rread.
	if calls.Load() != 5 || messages.Load() != 5 {
		t.Fatalf("%d WriteVectors calls for %d replies", calls.Load(), messages.Load())
	}
	_ = p9.MaxXattrSize
}

type vecConn struct {
	net.Conn
	calls, msgs *atomic.Int32
}

func (c *vecConn) WriteVectors(bufs [][]byte) error {
	c.calls.Add(1)
	c.msgs.Add(1)
	var all []byte
	for _, b := range bufs {
		all = append(all, b...)
	}
	if int(binary.LittleEndian.Uint32(all)) != len(all) {
		return errors.New("not one whole message")
	}
	_, err := c.Conn.Write(all)
	return err
}

func TestAttachNameCannotLeave(t *testing.T) {
	e := newEnv(t)
	must(t, os.Mkdir(e.host("sub"), 0o755))
	rc := dialRaw(t, e.share)
	if r := rc.roundTrip(versionMsg(8192, "9P2000.L")); r.typ != tRversion {
		t.Fatal("Tversion")
	}
	attach := func(fid uint32, aname string) reply {
		return rc.roundTrip(frame(tTattach, 1, (&enc{}).u32(fid).u32(noFID).str("u").str(aname).u32(0).b))
	}
	for i, aname := range []string{"..", "../outside", "/../outside", "sub/../..", "sub/../../outside/secret"} {
		if r := attach(uint32(10+i), aname); r.typ != tRlerror {
			t.Fatalf("attach %q succeeded", aname)
		}
	}
	if r := attach(1, "/sub"); r.typ == tRlerror {
		t.Fatalf("attach /sub: errno %d", r.errno())
	}
}

func TestOpenTruncate(t *testing.T) {
	e := newEnv(t)
	e.writeHost("f", "content", 0o644)
	rc := dialRaw(t, e.share)
	rc.handshake(8192)
	open := func(fid, flags uint32) {
		rc.roundTrip(walkMsg(2, 0, fid, "f"))
		if r := rc.roundTrip(frame(tTlopen, 3, (&enc{}).u32(fid).u32(flags).b)); r.typ == tRlerror {
			t.Fatalf("open %#o: errno %d", flags, r.errno())
		}
	}
	open(1, unix.O_RDONLY|unix.O_TRUNC) // read-only: not truncated
	if st := lstat(t, e.host("f")); st.Size != 7 {
		t.Fatalf("read-only open truncated to %d", st.Size)
	}
	open(2, unix.O_WRONLY|unix.O_TRUNC)
	if st := lstat(t, e.host("f")); st.Size != 0 {
		t.Fatalf("O_TRUNC open left %d bytes", st.Size)
	}
}

func TestFlush(t *testing.T) {
	e, clk := blockedEnv(t, Config{})
	e.writeHost("f", "", 0o644)
	rc := dialRaw(t, e.share)
	rc.handshake(8192)
	flush := func(tag, old uint16) []byte { return frame(tTflush, tag, (&enc{}).u16(old).b) }

	// A Tflush of its own tag, or of a tag not in flight: answered at once.
	if r := rc.roundTrip(flush(5, 5)); r.typ != tTflush+1 || r.tag != 5 {
		t.Fatalf("self flush: reply type %d tag %d", r.typ, r.tag)
	}
	if r := rc.roundTrip(flush(5, 77)); r.typ != tTflush+1 {
		t.Fatalf("flush of nothing: reply type %d", r.typ)
	}

	// A Tflush of a request in flight: Rflush only after that request's
	// own reply.
	rc.roundTrip(walkMsg(2, 0, 1, "f"))
	rc.roundTrip(frame(tTlopen, 3, (&enc{}).u32(1).u32(2).b))
	must(t, rc.send(frame(tTwrite, 7, (&enc{}).u32(1).u64(0).u32(3).raw([]byte("abc")).b)))
	clk.BlockUntil(1)
	must(t, rc.send(flush(8, 7)))
	clk.Advance(time.Hour)
	if r := rc.recv(); r.tag != 7 {
		t.Fatalf("first reply has tag %d, want the flushed request's (7)", r.tag)
	}
	if r := rc.recv(); r.tag != 8 || r.typ != tTflush+1 {
		t.Fatalf("second reply: type %d tag %d, want Rflush 8", r.typ, r.tag)
	}
}
