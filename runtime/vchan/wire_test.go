package vchan_test

// These tests check wire compatibility byte by byte: a raw peer that knows
// only the libxenvchan layout (literal offsets from libxenvchan.h, not this
// package's constants) talks to this package's server and client, and a
// hostile raw server feeds the client bad pages.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/runxen/runxen/runtime/gnttab"
	"github.com/runxen/runxen/runtime/ring"
	"github.com/runxen/runxen/runtime/vchan"
)

// rawPage gives byte-level access to a vchan page; the bytes at 20..23 are
// changed with atomic operations on their word, like the Go side does, so
// the race detector stays quiet.
type rawPage []byte

func (p rawPage) u32(off int) *uint32       { return (*uint32)(unsafe.Pointer(&p[off])) }
func (p rawPage) load32(off int) uint32     { return atomic.LoadUint32(p.u32(off)) }
func (p rawPage) store32(off int, v uint32) { atomic.StoreUint32(p.u32(off), v) }

func byteMask(off int) (base int, mask uint32) {
	b := make([]byte, 4)
	b[off&3] = 0xff
	return off &^ 3, binary.NativeEndian.Uint32(b)
}

func (p rawPage) getByte(off int) byte {
	base, mask := byteMask(off)
	v := p.load32(base) & mask
	b := make([]byte, 4)
	binary.NativeEndian.PutUint32(b, v)
	return b[off&3]
}

func (p rawPage) setByte(off int, v byte) {
	base, mask := byteMask(off)
	b := make([]byte, 4)
	b[off&3] = v
	bits := binary.NativeEndian.Uint32(b)
	for {
		old := p.load32(base)
		if atomic.CompareAndSwapUint32(p.u32(base), old, old&^mask|bits) {
			return
		}
	}
}

func (p rawPage) orByte(off int, bit byte) {
	base, _ := byteMask(off)
	b := make([]byte, 4)
	b[off&3] = bit
	atomic.OrUint32(p.u32(base), binary.NativeEndian.Uint32(b))
}

func (p rawPage) clearByteBit(off int, bit byte) (wasSet bool) {
	base, _ := byteMask(off)
	b := make([]byte, 4)
	b[off&3] = bit
	m := binary.NativeEndian.Uint32(b)
	return atomic.AndUint32(p.u32(base), ^m)&m != 0
}

// rawClient is a libxenvchan-style client over in-page rings (orders 10
// and 11, the server default).
type rawClient struct {
	t    *testing.T
	page rawPage
	ev   vchan.EventChannel
}

func dialRaw(t *testing.T, e *env) *rawClient {
	t.Helper()
	ref := readUint(t, e, vchanPath+"/ring-ref")
	port := readUint(t, e, vchanPath+"/event-channel")
	ev, err := e.hostDev.BindInterdomain(guestDom, port)
	must(t, err)
	m, err := e.hostDev.Map(guestDom, []uint32{ref}, true)
	must(t, err)
	page := rawPage(m.Bytes())
	lo := binary.NativeEndian.Uint16(page[16:])
	ro := binary.NativeEndian.Uint16(page[18:])
	if lo != 10 || ro != 11 {
		t.Fatalf("default orders %d/%d, want 10/11", lo, ro)
	}
	if page.getByte(20) != 2 || page.getByte(21) != 1 || page.getByte(22) != 1 {
		t.Fatalf("initial live/notify bytes % x, want 02 01 01 xx", page[20:24])
	}
	must(t, m.SetUnmapNotify(gnttab.UnmapNotify{Offset: 20, Action: 3, Port: ev.Port()}))
	page.setByte(20, 1) // cli_live
	page.setByte(23, 1) // srv_notify = VCHAN_NOTIFY_WRITE
	must(t, ev.Notify())
	t.Cleanup(func() { m.Close(); ev.Close() })
	return &rawClient{t: t, page: page, ev: ev}
}

func readUint(t *testing.T, e *env, path string) uint32 {
	v, ok := e.xs.Read(path)
	if !ok {
		t.Fatalf("%s missing", path)
	}
	n, err := strconv.ParseUint(string(v), 10, 32)
	if err != nil {
		t.Fatalf("%s = %q", path, v)
	}
	return uint32(n)
}

// send writes into the left ring (1024 bytes at 1024; cons at 0, prod at 4).
func (c *rawClient) send(data []byte) {
	for len(data) > 0 {
		cons, prod := c.page.load32(0), c.page.load32(4)
		space := 1024 - (prod - cons)
		if space == 0 {
			c.page.orByte(23, 2) // srv_notify |= NOTIFY_READ
			if c.page.load32(0) == cons {
				c.wait()
			}
			continue
		}
		n := min(int(space), len(data))
		for i := 0; i < n; i++ {
			c.page[1024+int((prod+uint32(i))&1023)] = data[i]
		}
		c.page.store32(4, prod+uint32(n))
		data = data[n:]
		if c.page.clearByteBit(22, 1) { // cli_notify &= ~NOTIFY_WRITE
			must(c.t, c.ev.Notify())
		}
	}
}

// recv reads n bytes from the right ring (2048 bytes at 2048; cons at 8,
// prod at 12).
func (c *rawClient) recv(n int) []byte {
	var out []byte
	for len(out) < n {
		cons, prod := c.page.load32(8), c.page.load32(12)
		if prod == cons {
			c.page.orByte(23, 1) // srv_notify |= NOTIFY_WRITE
			if c.page.load32(12) == cons {
				c.wait()
			}
			continue
		}
		k := min(int(prod-cons), n-len(out))
		for i := 0; i < k; i++ {
			out = append(out, c.page[2048+int((cons+uint32(i))&2047)])
		}
		c.page.store32(8, cons+uint32(k))
		if c.page.clearByteBit(22, 2) { // cli_notify &= ~NOTIFY_READ
			must(c.t, c.ev.Notify())
		}
	}
	return out
}

func (c *rawClient) wait() {
	done := make(chan error, 1)
	go func() { done <- c.ev.Wait() }()
	select {
	case err := <-done:
		must(c.t, err)
	case <-time.After(10 * time.Second):
		c.t.Fatal("raw client: no event")
	}
}

func TestWireRawClient(t *testing.T) {
	e := newEnv(t)
	srv, err := vchan.NewServer(ctxT(t), e.serverConfig(0, 0))
	must(t, err)
	defer srv.Close()
	c := dialRaw(t, e)
	must(t, srv.WaitConnected(ctxT(t)))

	// More than both rings, to go round them and exercise the notify bits.
	up := bytes.Repeat([]byte("client->server "), 700)
	down := bytes.Repeat([]byte("server->client "), 900)
	go func() {
		if _, err := srv.Write(down); err != nil {
			t.Error(err)
		}
	}()
	readErr := make(chan error, 1)
	go func() {
		got := make([]byte, len(up))
		_, err := io.ReadFull(srv, got)
		if err == nil && !bytes.Equal(got, up) {
			err = errors.New("server read wrong data")
		}
		readErr <- err
	}()
	c.send(up)
	if got := c.recv(len(down)); !bytes.Equal(got, down) {
		t.Fatal("raw client read wrong data")
	}
	must(t, <-readErr)
	// The raw client closes as libxenvchan_close does: cli_live = 0, notify.
	c.page.setByte(20, 0)
	must(t, c.ev.Notify())
	if _, err := srv.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("server Read after raw client closed: %v", err)
	}
	// Server Close sets srv_live = 0.
	page := c.page
	srv.Close()
	if page.getByte(21) != 0 {
		t.Fatal("srv_live not cleared by Close")
	}
}

// rawServer publishes a hand-made page: orders lo/ro, in-page rings only.
type rawServer struct {
	page rawPage
	ev   vchan.EventChannel
	mem  vchan.Memory
}

func serveRaw(t *testing.T, e *env, lo, ro uint16, tweak func(p rawPage)) *rawServer {
	t.Helper()
	ev, err := e.guestDev.BindUnboundPort(hostDom)
	must(t, err)
	m, refs, err := e.guestDev.Share(hostDom, 1, &gnttab.UnmapNotify{Offset: 21, Action: 3, Port: ev.Port()})
	must(t, err)
	p := rawPage(m.Bytes())
	binary.NativeEndian.PutUint16(p[16:], lo)
	binary.NativeEndian.PutUint16(p[18:], ro)
	p.setByte(20, 2)
	p.setByte(21, 1)
	p.setByte(22, 1)
	if tweak != nil {
		tweak(p)
	}
	must(t, e.xs.Write(vchanPath+"/ring-ref", []byte(strconv.Itoa(int(refs[0])))))
	must(t, e.xs.Write(vchanPath+"/event-channel", []byte(strconv.Itoa(int(ev.Port())))))
	t.Cleanup(func() { m.Close(); ev.Close() })
	return &rawServer{page: p, ev: ev, mem: m}
}

func TestWireRawServer(t *testing.T) {
	e := newEnv(t)
	s := serveRaw(t, e, 11, 10, nil) // left at 2048, right at 1024
	cli, err := vchan.Dial(ctxT(t), e.clientConfig())
	must(t, err)
	defer cli.Close()
	if s.page.getByte(20) != 1 || s.page.getByte(23)&1 == 0 {
		t.Fatalf("after Dial: live/notify bytes % x", []byte(s.page[20:24]))
	}
	if _, err := cli.Write([]byte("to the raw server")); err != nil {
		t.Fatal(err)
	}
	// The client wrote the left ring: data at 2048, prod at 4.
	if p := s.page.load32(4); p != 17 || string(s.page[2048:2048+17]) != "to the raw server" {
		t.Fatalf("left ring: prod %d, data %q", p, s.page[2048:2048+17])
	}
	// The raw server answers in the right ring (1024 at 1024, prod at 12).
	copy(s.page[1024:], "answer")
	s.page.store32(12, 6)
	must(t, s.ev.Notify())
	b := make([]byte, 16)
	n, err := cli.Read(b)
	if err != nil || string(b[:n]) != "answer" || s.page.load32(8) != 6 {
		t.Fatalf("Read = %q, %v; right cons %d", b[:n], err, s.page.load32(8))
	}
	cli.Close()
	if s.page.getByte(20) != 0 {
		t.Fatal("cli_live not cleared by Close")
	}
}

// TestWireRawServerReattach: a libxenvchan server outlives its clients
// (vchan-socket-proxy's server mode); a new client must not read what the
// server wrote for the previous one.
func TestWireRawServerReattach(t *testing.T) {
	e := newEnv(t)
	s := serveRaw(t, e, 10, 11, nil) // left at 1024, right at 2048
	cli, err := vchan.Dial(ctxT(t), e.clientConfig())
	must(t, err)
	// The server answers; the client leaves without reading.
	copy(s.page[2048:], "stale")
	s.page.store32(12, 5)
	must(t, s.ev.Notify())
	must(t, cli.Close())
	if s.page.getByte(20) != 0 {
		t.Fatal("cli_live not cleared by Close")
	}
	cli, err = vchan.Dial(ctxT(t), e.clientConfig())
	must(t, err)
	defer cli.Close()
	if c := s.page.load32(8); c != 5 {
		t.Fatalf("right cons %d after reattaching, want 5 (the unread bytes dropped)", c)
	}
	copy(s.page[2048+5:], "fresh")
	s.page.store32(12, 10)
	must(t, s.ev.Notify())
	b := make([]byte, 16)
	cli.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := cli.Read(b)
	if err != nil || string(b[:n]) != "fresh" {
		t.Fatalf("Read = %q, %v; want only what the server wrote after the new client came", b[:n], err)
	}
}

func TestHostileServerPages(t *testing.T) {
	for _, c := range []struct {
		name   string
		lo, ro uint16
		tweak  func(p rawPage)
	}{
		{"order too small", 9, 11, nil},
		{"order too large", 21, 11, nil},
		{"same in-page order", 10, 10, nil},
		{"grants overlap ring", 10, 20, nil}, // 256 refs do not fit before 1024
		{"server closed", 10, 11, func(p rawPage) { p.setByte(21, 0) }},
		{"client present", 10, 11, func(p rawPage) { p.setByte(20, 1) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			serveRaw(t, e, c.lo, c.ro, c.tweak)
			ctx, cancel := contextWithTimeout(t, 50*time.Millisecond)
			defer cancel()
			if cli, err := vchan.Dial(ctx, e.clientConfig()); err == nil {
				cli.Close()
				t.Fatal("Dial accepted a bad page")
			}
			if n := e.hostDev.Open(); n != 0 {
				t.Fatalf("failed Dial left %d objects open", n)
			}
		})
	}
}

func TestHostileIndices(t *testing.T) {
	e := newEnv(t)
	s := serveRaw(t, e, 10, 11, nil)
	cli, err := vchan.Dial(ctxT(t), e.clientConfig())
	must(t, err)
	defer cli.Close()
	s.page.store32(12, 5000) // right prod: 5000 bytes in a 2048-byte ring
	must(t, s.ev.Notify())
	if _, err := cli.Read(make([]byte, 10)); !errors.Is(err, ring.ErrCorrupt) {
		t.Fatalf("Read with corrupt indices: %v", err)
	}
	// The failure is sticky.
	if _, err := cli.Write([]byte("x")); !errors.Is(err, ring.ErrCorrupt) {
		t.Fatalf("Write after corruption: %v", err)
	}
}
