package xen9pfs_test

import (
	"encoding/binary"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/runxen/runxen/runtime/ring"
	"github.com/runxen/runxen/runtime/xen9pfs"
	"github.com/runxen/runxen/runtime/xen9pfs/xen9pfstest"
)

func word(mem []byte, off int) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }

// TestHostileRings: a frontend writing impossible indices or sizes into
// its rings gets its device torn down with an error; the domain's other
// device and another domain's device keep serving.
func TestHostileRings(t *testing.T) {
	cases := []struct {
		name  string
		act   func(t *testing.T, f *xen9pfstest.Frontend)
		check func(error) bool
	}{
		{"out_prod beyond the ring", func(t *testing.T, f *xen9pfstest.Frontend) {
			r := f.Rings()[0]
			cons := atomic.LoadUint32(word(r.Intf(), 64))
			atomic.StoreUint32(word(r.Intf(), 68), cons+(1<<19)+1)
			must(t, r.Notify())
		}, isCorrupt},
		{"out_prod behind out_cons", func(t *testing.T, f *xen9pfstest.Frontend) {
			r := f.Rings()[1]
			cons := atomic.LoadUint32(word(r.Intf(), 64))
			atomic.StoreUint32(word(r.Intf(), 68), cons-1)
			must(t, r.Notify())
		}, isCorrupt},
		{"in_cons ahead of in_prod", func(t *testing.T, f *xen9pfstest.Frontend) {
			r := f.Rings()[0]
			prod := atomic.LoadUint32(word(r.Intf(), 4))
			atomic.StoreUint32(word(r.Intf(), 0), prod+100)
			// The next reply on ring 0 finds the corruption.
			go f.RoundTrip(ctxT(t), xen9pfstest.Msg(1, 2, nil))
		}, isCorrupt},
		{"size below the header", func(t *testing.T, f *xen9pfstest.Frontend) {
			hdr := xen9pfstest.Msg(1, 0, nil)
			binary.LittleEndian.PutUint32(hdr, 3)
			must(t, f.Rings()[0].Send(ctxT(t), hdr))
		}, isProtocol},
		{"size 4 GiB", func(t *testing.T, f *xen9pfstest.Frontend) {
			hdr := xen9pfstest.Msg(1, 0, nil)
			binary.LittleEndian.PutUint32(hdr, 0xffffffff)
			must(t, f.Rings()[0].Send(ctxT(t), hdr))
		}, isProtocol},
		{"size one above the ring", func(t *testing.T, f *xen9pfstest.Frontend) {
			hdr := xen9pfstest.Msg(1, 0, nil)
			binary.LittleEndian.PutUint32(hdr, 512<<10+1)
			must(t, f.Rings()[1].Send(ctxT(t), hdr))
		}, isProtocol},
		{"state garbage", func(t *testing.T, f *xen9pfstest.Frontend) {
			must(t, f.SetState(ctxT(t), 77))
		}, isProtocol},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 5, 6)
			b5, d, f, _ := connected(t, e, nil)
			other := e.add(b5, "vol", &echo{})
			fo := e.connect(5, other.DevID(), nil)
			b6 := e.backend(6, nil)
			e.add(b6, "rootfs", &echo{})
			f6 := e.connect(6, 0, nil)

			c.act(t, f)
			err := waitDone(t, d)
			if !c.check(err) {
				t.Fatalf("Err = %v", err)
			}
			t.Log(err)
			e.checkGone(d)
			for _, f := range []*xen9pfstest.Frontend{fo, f6} {
				if _, err := f.RoundTrip(ctxT(t), xen9pfstest.Msg(1, 5, []byte("alive"))); err != nil {
					t.Fatalf("a bystander device: %v", err)
				}
				must(t, f.Err())
			}
			must(t, b5.Close())
			must(t, b6.Close())
			e.checkClean()
		})
	}
}

func isCorrupt(err error) bool  { return errors.Is(err, ring.ErrCorrupt) }
func isProtocol(err error) bool { return errors.Is(err, xen9pfs.ErrProtocol) }

// TestIncompleteRequest: a request whose body never comes only stalls its
// own ring; Close still cleans up.
func TestIncompleteRequest(t *testing.T) {
	e := newEnv(t, 5)
	b, d, f, _ := connected(t, e, nil)
	msg := xen9pfstest.Msg(1, 0, make([]byte, 100))
	must(t, f.Rings()[0].Send(ctxT(t), msg[:50]))
	if _, err := f.RoundTrip(ctxT(t), xen9pfstest.Msg(1, 1, []byte("ring 1 works"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if d.Err() != nil {
		t.Fatalf("device ended: %v", d.Err())
	}
	must(t, b.Close())
	e.checkClean()
}

// rawFrontend plays a frontend by hand: it grants an interface page and
// 2^order data pages per ring, allocates ports, lets mutate spoil any of
// it, then publishes the nodes and switches to Initialised.
func rawFrontend(t *testing.T, e *env, devid uint32, order int, mutate func(nodes map[string]string, intfs [][]byte)) {
	t.Helper()
	g := e.guests[5]
	nodes := map[string]string{"version": "1", "num-rings": "2"}
	var intfs [][]byte
	for i := 0; i < 2; i++ {
		page, refs, err := g.dev.Share(0, 1, nil)
		must(t, err)
		data, drefs, err := g.dev.Share(0, 1<<order, nil)
		must(t, err)
		ev, err := g.dev.BindUnboundPort(0)
		must(t, err)
		t.Cleanup(func() { page.Close(); data.Close(); ev.Close() })
		p := page.Bytes()
		binary.NativeEndian.PutUint32(p[128:], uint32(order))
		for j, r := range drefs {
			binary.NativeEndian.PutUint32(p[132+4*j:], r)
		}
		intfs = append(intfs, p)
		nodes["ring-ref"+strconv.Itoa(i)] = strconv.FormatUint(uint64(refs[0]), 10)
		nodes["event-channel-"+strconv.Itoa(i)] = strconv.FormatUint(uint64(ev.Port()), 10)
	}
	mutate(nodes, intfs)
	ctx := ctxT(t)
	base := "/local/domain/5/device/9pfs/" + strconv.Itoa(int(devid))
	for k, v := range nodes {
		must(t, g.xs.Write(ctx, base+"/"+k, []byte(v)))
	}
	must(t, g.xs.Write(ctx, base+"/state", []byte("3")))
}

func TestHostileHandshake(t *testing.T) {
	set := func(k, v string) func(map[string]string, [][]byte) {
		return func(n map[string]string, _ [][]byte) { n[k] = v }
	}
	del := func(k string) func(map[string]string, [][]byte) {
		return func(n map[string]string, _ [][]byte) { delete(n, k) }
	}
	intf := func(off int, v uint32) func(map[string]string, [][]byte) {
		return func(_ map[string]string, p [][]byte) { binary.NativeEndian.PutUint32(p[1][off:], v) }
	}
	cases := []struct {
		name     string
		mutate   func(map[string]string, [][]byte)
		protocol bool // the error must wrap ErrProtocol
	}{
		{"version 2", set("version", "2"), true},
		{"version missing", del("version"), true},
		{"num-rings 0", set("num-rings", "0"), true},
		{"num-rings above max-rings", set("num-rings", "3"), true},
		{"num-rings huge", set("num-rings", "99999999999999999999999"), true},
		{"num-rings negative", set("num-rings", "-1"), true},
		{"num-rings with a space", set("num-rings", "2 "), true},
		{"num-rings leading zero", set("num-rings", "02"), true},
		{"num-rings with NUL", set("num-rings", "2\x00"), true},
		{"ring-ref1 missing", del("ring-ref1"), true},
		{"ring-ref0 not a number", set("ring-ref0", "0x10"), true},
		{"ring-ref0 zero", set("ring-ref0", "0"), true},
		{"event-channel-1 zero", set("event-channel-1", "0"), true},
		{"event-channel-0 above 2^32", set("event-channel-0", "4294967296"), true},
		{"ring order above max", intf(128, 9), true},
		{"ring order 0", intf(128, 0), true},
		{"ring order 2^32-1", intf(128, 0xffffffff), true},
		{"data ref zero", intf(132+4*3, 0), true},
		{"ring-ref not granted", set("ring-ref1", "4000000"), false},
		{"data ref not granted", intf(132, 4000000), false},
		{"event channel not bound", set("event-channel-1", "999"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 5)
			b := e.backend(5, nil)
			good := e.add(b, "good", &echo{})
			d := e.add(b, "bad", &echo{})
			fg := e.connect(5, good.DevID(), nil)
			rawFrontend(t, e, d.DevID(), 8, c.mutate)
			err := waitDone(t, d)
			if err == nil || cleanEnd(err) || (c.protocol && !errors.Is(err, xen9pfs.ErrProtocol)) {
				t.Fatalf("Err = %v", err)
			}
			t.Log(err)
			e.checkGone(d)
			if err := d.WaitConnected(ctxT(t)); err == nil {
				t.Fatal("WaitConnected on a failed device: nil")
			}
			if _, err := fg.RoundTrip(ctxT(t), xen9pfstest.Msg(1, 1, nil)); err != nil {
				t.Fatalf("the good device: %v", err)
			}
			must(t, b.Close())
			e.checkClean()
		})
	}
}

func cleanEnd(err error) bool {
	for _, e := range []error{xen9pfs.ErrClosed, xen9pfs.ErrDomainGone, xen9pfs.ErrFrontendClosed, xen9pfs.ErrRemoved} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
