package xen9pfs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/xen9pfs"
	"github.com/runxen/runxen/runtime/xen9pfs/xen9pfstest"
)

func TestHandshakeAndNodes(t *testing.T) {
	e := newEnv(t, 5)
	b := e.backend(5, nil)
	h := &echo{}
	// The domain is still paused: the device is there before the guest
	// first looks.
	d := e.add(b, "rootfs", h)
	if d.DevID() != 0 || d.FrontendPath() != "/local/domain/5/device/9pfs/0" ||
		d.BackendPath() != "/local/domain/0/backend/9pfs/5/0" {
		t.Fatalf("paths: %d %s %s", d.DevID(), d.FrontendPath(), d.BackendPath())
	}
	want := map[string]string{
		"/local/domain/5/device/9pfs/0/backend":                "/local/domain/0/backend/9pfs/5/0",
		"/local/domain/5/device/9pfs/0/backend-id":             "0",
		"/local/domain/5/device/9pfs/0/tag":                    "rootfs",
		"/local/domain/5/device/9pfs/0/state":                  "1",
		"/local/domain/0/backend/9pfs/5/0/frontend":            "/local/domain/5/device/9pfs/0",
		"/local/domain/0/backend/9pfs/5/0/frontend-id":         "5",
		"/local/domain/0/backend/9pfs/5/0/online":              "1",
		"/local/domain/0/backend/9pfs/5/0/state":               "2",
		"/local/domain/0/backend/9pfs/5/0/versions":            "1",
		"/local/domain/0/backend/9pfs/5/0/max-rings":           "2",
		"/local/domain/0/backend/9pfs/5/0/max-ring-page-order": "8",
		"/local/domain/0/backend/9pfs/5/0/tag":                 "rootfs",
		"/local/domain/0/backend/9pfs/5/0/security_model":      "none",
		"/local/domain/0/backend/9pfs/5/0/path":                "/srv/rootfs",
	}
	for p, v := range want {
		got, ok := e.xs.Read(p)
		if !ok || string(got) != v {
			t.Errorf("%s = %q (exists %v), want %q", p, got, ok, v)
		}
	}
	// The frontend directory belongs to the guest and dom0 reads it; the
	// backend directory the other way round. Children inherit.
	for _, c := range []struct {
		path  string
		perms string
	}{
		{"/local/domain/5/device/9pfs/0", "n5 r0"},
		{"/local/domain/5/device/9pfs/0/state", "n5 r0"},
		{"/local/domain/0/backend/9pfs/5/0", "n0 r5"},
		{"/local/domain/0/backend/9pfs/5/0/state", "n0 r5"},
	} {
		if got := strings.Join(e.xs.Permissions(c.path), " "); got != c.perms {
			t.Errorf("permissions of %s: %q, want %q", c.path, got, c.perms)
		}
	}
	ctx := ctxT(t)
	g := e.guests[5]
	if err := g.xs.Write(ctx, d.BackendPath()+"/state", []byte("4")); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("guest writing the backend state: %v, want EACCES", err)
	}

	f := e.connect(5, 0, nil)
	must(t, d.WaitConnected(ctx))
	must(t, b.WaitConnected(ctx))
	if f.Tag() != "rootfs" || len(f.Rings()) != 2 {
		t.Fatalf("frontend: tag %q, %d rings", f.Tag(), len(f.Rings()))
	}
	if s, _ := e.xs.Read(d.BackendPath() + "/state"); string(s) != "4" {
		t.Errorf("backend state %q, want 4", s)
	}
	// Order 8: 512 KiB each way, all of which one message may use.
	if got := h.maxSize.Load(); got != 512<<10 {
		t.Errorf("MaxMessageSize %d, want %d", got, 512<<10)
	}
	// Tags 0..63 spread over both rings; each reply comes back whole on
	// the request's ring.
	for tag := uint16(0); tag < 64; tag++ {
		req := xen9pfstest.Msg(100, tag, []byte(fmt.Sprintf("request %d", tag)))
		rep, err := f.RoundTrip(ctx, req)
		must(t, err)
		if !bytes.Equal(rep[7:], req[7:]) || rep[4] != 101 {
			t.Fatalf("tag %d: reply %q", tag, rep)
		}
	}
	if err := f.Err(); err != nil || f.Stray() != 0 {
		t.Fatalf("frontend saw %v, %d stray replies", err, f.Stray())
	}
	if h.served.Load() != 1 {
		t.Fatalf("Serve called %d times, want once per connection", h.served.Load())
	}
	must(t, b.Close())
	if !errors.Is(d.Err(), xen9pfs.ErrClosed) {
		t.Fatalf("Err after Close: %v", d.Err())
	}
	waitFor(t, "handler to return", func() bool { return h.running.Load() == 0 })
	e.checkClean()
}

func TestMultipleDevicesConcurrentTraffic(t *testing.T) {
	e := newEnv(t, 5)
	b := e.backend(5, nil)
	tags := []string{"rootfs", "vol-data", "vol.logs"}
	var devs []*xen9pfs.Device
	for _, tag := range tags {
		devs = append(devs, e.add(b, tag, &echo{}))
	}
	if _, err := b.Add(ctxT(t), xen9pfs.Share{Tag: "rootfs", Handler: &echo{}}); err == nil {
		t.Fatal("a second device with the same tag was accepted")
	}
	for _, bad := range []string{"", "a/b", "sp ace", strings.Repeat("x", 64)} {
		if _, err := b.Add(ctxT(t), xen9pfs.Share{Tag: bad, Handler: &echo{}}); err == nil {
			t.Errorf("tag %q accepted", bad)
		}
	}
	var fronts []*xen9pfstest.Frontend
	for i, d := range devs {
		if d.DevID() != uint32(i) || d.Tag() != tags[i] {
			t.Fatalf("device %d: id %d tag %q", i, d.DevID(), d.Tag())
		}
		fronts = append(fronts, e.connect(5, d.DevID(), nil))
	}
	must(t, b.WaitConnected(ctxT(t)))
	ctx := ctxT(t)
	rounds, maxBody := 200, 20000
	if testing.Short() || raceEnabled {
		rounds, maxBody = 50, 5000
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i, f := range fronts {
		if f.Tag() != tags[i] {
			t.Fatalf("frontend %d read tag %q", i, f.Tag())
		}
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(i), uint64(w)))
				for n := 0; n < rounds; n++ {
					tag := uint16(w*1000 + n)
					body := make([]byte, rng.IntN(maxBody))
					for j := range body {
						body[j] = byte(rng.Uint32())
					}
					rep, err := f.RoundTrip(ctx, xen9pfstest.Msg(1, tag, body))
					if err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(rep[7:], body) {
						errs <- fmt.Errorf("device %d tag %d: reply differs", i, tag)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, f := range fronts {
		must(t, f.Err())
	}
	must(t, b.Close())
	e.checkClean()
}

// TestWraparound runs messages of every size class through the smallest
// rings (order 1: 4 KiB each way) with the indices starting just below
// 2^32, so messages cross both the end of the data area and the index
// overflow.
func TestWraparound(t *testing.T) {
	for _, start := range []uint32{0, 1<<32 - 5000} {
		t.Run(fmt.Sprint(start), func(t *testing.T) {
			e := newEnv(t, 5)
			h := &echo{}
			b := e.backend(5, func(c *xen9pfs.Config) { c.MaxRingPageOrder = 1 })
			d := e.add(b, "rootfs", h)
			f := e.connect(5, 0, func(c *xen9pfstest.Config) { c.StartIndex = start })
			ctx := ctxT(t)
			must(t, d.WaitConnected(ctx))
			if h.maxSize.Load() != 4096 {
				t.Fatalf("MaxMessageSize %d", h.maxSize.Load())
			}
			rng := rand.New(rand.NewPCG(uint64(start), 7))
			for n := 0; n < 3000; n++ {
				size := 7 + rng.IntN(4096-7+1)
				if n%100 == 0 {
					size = 4096 // a message filling the whole ring
				}
				body := make([]byte, size-7)
				for j := range body {
					body[j] = byte(n + j)
				}
				rep, err := f.RoundTrip(ctx, xen9pfstest.Msg(7, uint16(n), body))
				must(t, err)
				if !bytes.Equal(rep[7:], body) {
					t.Fatalf("message %d (%d bytes) differs", n, size)
				}
			}
			must(t, f.Err())
			must(t, d.Close())
			e.checkClean()
		})
	}
}

// TestReplyBackPressure fills the in ring with replies the guest does not
// take: the server's Write blocks rather than publish part of a reply, and
// everything arrives whole once the guest reads again.
func TestReplyBackPressure(t *testing.T) {
	e := newEnv(t, 5)
	const perRequest = 6
	h := &echo{transform: func(req []byte) [][]byte {
		// Each request gets five unsolicited 1500-byte messages, then
		// its reply: more than the 4 KiB ring holds.
		var out [][]byte
		for i := 0; i < perRequest-1; i++ {
			out = append(out, xen9pfstest.Msg(9, 0xfff0+uint16(i), make([]byte, 1493)))
		}
		return append(out, reply(req))
	}}
	b := e.backend(5, func(c *xen9pfs.Config) { c.MaxRingPageOrder = 1 })
	d := e.add(b, "rootfs", h)
	f := e.connect(5, 0, nil)
	ctx := ctxT(t)
	must(t, d.WaitConnected(ctx))
	f.HoldReplies(true)
	done := make(chan error, 1)
	go func() {
		_, err := f.RoundTrip(ctx, xen9pfstest.Msg(1, 2, []byte("x")))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("reply arrived while the guest held its ring: %v", err)
	default:
	}
	f.HoldReplies(false)
	must(t, <-done)
	waitFor(t, "the unsolicited messages", func() bool { return f.Stray() == perRequest-1 })
	must(t, f.Err())
	must(t, d.Close())
	e.checkClean()
}

// TestRequestBackPressure: while the server does not read, the out ring
// fills and the guest waits; nothing is lost once the server reads.
func TestRequestBackPressure(t *testing.T) {
	e := newEnv(t, 5)
	gate := make(chan struct{})
	h := xen9pfs.HandlerFunc(func(ctx context.Context, conn io.ReadWriteCloser) error {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil
		}
		return (&echo{}).Serve(ctx, conn)
	})
	b := e.backend(5, func(c *xen9pfs.Config) { c.MaxRingPageOrder = 1 })
	d := e.add(b, "rootfs", h)
	f := e.connect(5, 0, nil)
	ctx := ctxT(t)
	must(t, d.WaitConnected(ctx))
	// 40 requests of 1000 bytes on ring 0 (even tags): ten times the ring.
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := bytes.Repeat([]byte{byte(i)}, 993)
			rep, err := f.RoundTrip(ctx, xen9pfstest.Msg(3, uint16(2*i), body))
			if err == nil && !bytes.Equal(rep[7:], body) {
				err = fmt.Errorf("request %d: wrong reply", i)
			}
			errs <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	if len(errs) != 0 {
		t.Fatal("replies before the server read anything")
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	must(t, f.Err())
	must(t, b.Close())
	e.checkClean()
}

// TestStreamPieces has a server that reads and writes its stream one byte
// at a time: the transport still delivers whole replies.
func TestStreamPieces(t *testing.T) {
	e := newEnv(t, 5)
	h := xen9pfs.HandlerFunc(func(ctx context.Context, conn io.ReadWriteCloser) error {
		one := make([]byte, 1)
		for {
			var msg []byte
			for len(msg) < 7 || len(msg) < int(uint32(msg[0])|uint32(msg[1])<<8|uint32(msg[2])<<16|uint32(msg[3])<<24) {
				if _, err := io.ReadFull(conn, one); err != nil {
					return nil
				}
				msg = append(msg, one[0])
			}
			for _, c := range reply(msg) {
				if _, err := conn.Write([]byte{c}); err != nil {
					return nil
				}
			}
		}
	})
	b := e.backend(5, nil)
	d := e.add(b, "rootfs", h)
	f := e.connect(5, 0, nil)
	ctx := ctxT(t)
	must(t, d.WaitConnected(ctx))
	for tag := uint16(0); tag < 20; tag++ {
		body := bytes.Repeat([]byte("ab"), int(tag)*37)
		rep, err := f.RoundTrip(ctx, xen9pfstest.Msg(5, tag, body))
		must(t, err)
		if !bytes.Equal(rep[7:], body) {
			t.Fatalf("tag %d: reply differs", tag)
		}
	}
	must(t, f.Err())
	must(t, b.Close())
	e.checkClean()
}

// vectorEcho answers through WriteVectors, as runtime/sharefs does: each
// reply in three pieces in one call.
type vectorEcho struct{}

func (vectorEcho) Serve(ctx context.Context, conn io.ReadWriteCloser) error {
	vw, ok := conn.(interface{ WriteVectors([][]byte) error })
	if !ok {
		return errors.New("conn has no WriteVectors")
	}
	for {
		req, err := readMsg(conn)
		if err != nil {
			return nil
		}
		r := reply(req)
		if err := vw.WriteVectors([][]byte{r[:7], r[7 : 7+len(r[7:])/2], r[7+len(r[7:])/2:]}); err != nil {
			return err
		}
		// A vector that is not exactly one message is refused, without
		// harm to the connection.
		if err := vw.WriteVectors([][]byte{r[:5]}); err == nil {
			return errors.New("a 5-byte reply was accepted")
		}
		if err := vw.WriteVectors([][]byte{r, r}); err == nil {
			return errors.New("two replies in one WriteVectors were accepted")
		}
	}
}

func TestWriteVectors(t *testing.T) {
	e := newEnv(t, 5)
	b := e.backend(5, func(c *xen9pfs.Config) { c.MaxRingPageOrder = 1 })
	d := e.add(b, "rootfs", vectorEcho{})
	f := e.connect(5, 0, nil)
	ctx := ctxT(t)
	must(t, d.WaitConnected(ctx))
	for n := 0; n < 500; n++ {
		body := bytes.Repeat([]byte{byte(n)}, n*7%4000)
		rep, err := f.RoundTrip(ctx, xen9pfstest.Msg(11, uint16(n), body))
		must(t, err)
		if !bytes.Equal(rep[7:], body) || rep[4] != 12 {
			t.Fatalf("message %d: reply differs", n)
		}
	}
	must(t, f.Err())
	must(t, b.Close())
	e.checkClean()
}
