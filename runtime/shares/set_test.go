package shares_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/sirupsen/logrus"

	"github.com/runxen/runxen/runtime/iolimit"
	"github.com/runxen/runxen/runtime/ring"
	"github.com/runxen/runxen/runtime/shares"
	"github.com/runxen/runxen/runtime/xen9pfs"
	"github.com/runxen/runxen/runtime/xen9pfs/xen9pfstest"
)

// TestShares: shares added before the guest runs become one device each,
// with the tag the guest mounts; each is served by its own server; Sync
// reaches every server; Close leaves nothing behind.
func TestShares(t *testing.T) {
	e := newEnv(t, 5)
	s := e.set(5, nil)
	specs := []shares.Spec{
		{Tag: "rootfs", Dir: "/var/lib/docker/overlay2/x/merged"},
		{Tag: "vol-data", Dir: "/srv/data", ReadOnly: true, Limits: iolimit.Limits{WriteBytesPerSec: 10 << 20}},
	}
	for _, sp := range specs {
		must(t, s.Add(ctxT(t), sp))
	}
	// Nothing has connected yet: the domain is "paused".
	sts := s.Status()
	if len(sts) != 2 {
		t.Fatalf("Status = %+v", sts)
	}
	for i, st := range sts {
		if st.Tag != specs[i].Tag || st.Dir != specs[i].Dir || st.ReadOnly != specs[i].ReadOnly ||
			st.Limits != specs[i].Limits || st.DevID != uint32(i) || st.Err != nil {
			t.Errorf("Status[%d] = %+v, want %+v on device %d", i, st, specs[i], i)
		}
		srv := e.server(specs[i].Dir)
		if srv == nil || srv.cfg.ReadOnly != specs[i].ReadOnly || srv.limits() != specs[i].Limits {
			t.Fatalf("server of %s: %+v", specs[i].Dir, srv)
		}
		tag, ok := e.xs.Read(fmt.Sprintf("/local/domain/5/device/9pfs/%d/tag", i))
		if !ok || string(tag) != specs[i].Tag {
			t.Errorf("frontend tag of device %d: %q", i, tag)
		}
	}

	fr := e.connect(s, 5, "rootfs")
	fv := e.connect(s, 5, "vol-data")
	must(t, s.WaitConnected(ctxT(t)))
	for _, c := range []struct {
		f    *xen9pfstest.Frontend
		want string
	}{{fr, specs[0].Dir + ":hello"}, {fv, specs[1].Dir + ":hello"}} {
		got, err := roundTrip(t, c.f, 1, "hello")
		if err != nil || got != c.want {
			t.Fatalf("%s: reply %q, %v; want %q", c.f.Tag(), got, err, c.want)
		}
	}

	must(t, s.Sync(ctxT(t)))
	for _, sp := range specs {
		if n := e.server(sp.Dir).syncs.Load(); n != 1 {
			t.Errorf("%s synced %d times, want 1", sp.Tag, n)
		}
	}

	must(t, s.Close())
	e.checkClean(5)
	for _, sp := range specs {
		srv := e.server(sp.Dir)
		if !srv.closed.Load() {
			t.Errorf("server of %s not closed", sp.Tag)
		}
		waitFor(t, sp.Tag+" session to end", func() bool { return srv.serving.Load() == 0 })
	}
	must(t, s.Close()) // idempotent
	if err := s.Add(ctxT(t), shares.Spec{Tag: "late", Dir: "/srv/late"}); !errors.Is(err, shares.ErrClosed) {
		t.Errorf("Add after Close: %v", err)
	}
	if err := s.Sync(ctxT(t)); !errors.Is(err, shares.ErrClosed) {
		t.Errorf("Sync after Close: %v", err)
	}
	if err := s.SetLimits("rootfs", iolimit.Limits{}); !errors.Is(err, shares.ErrClosed) {
		t.Errorf("SetLimits after Close: %v", err)
	}
}

// TestAddRefused: bad specs and failures leave nothing behind.
func TestAddRefused(t *testing.T) {
	e := newEnv(t, 5)
	s := e.set(5, nil)
	must(t, s.Add(ctxT(t), shares.Spec{Tag: "rootfs", Dir: "/srv/root"}))
	cases := []struct {
		name string
		spec shares.Spec
		fail error
		want string
	}{
		{"empty tag", shares.Spec{Dir: "/srv/a"}, nil, "want 1 to 63"},
		{"long tag", shares.Spec{Tag: strings.Repeat("a", 64), Dir: "/srv/a"}, nil, "want 1 to 63"},
		{"tag with a slash", shares.Spec{Tag: "a/b", Dir: "/srv/a"}, nil, "only letters"},
		{"tag with a space", shares.Spec{Tag: "a b", Dir: "/srv/a"}, nil, "only letters"},
		{"tag with a comma", shares.Spec{Tag: "a,b", Dir: "/srv/a"}, nil, "only letters"},
		{"relative directory", shares.Spec{Tag: "vol", Dir: "srv/a"}, nil, "not an absolute path"},
		{"no directory", shares.Spec{Tag: "vol"}, nil, "not an absolute path"},
		{"duplicate tag", shares.Spec{Tag: "rootfs", Dir: "/srv/b"}, nil, "already in use"},
		{"server fails", shares.Spec{Tag: "vol", Dir: "/srv/missing"}, errors.New("no such directory"), "no such directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.mu.Lock()
			e.failNew = c.fail
			e.mu.Unlock()
			err := s.Add(ctxT(t), c.spec)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Add(%+v) = %v, want an error with %q", c.spec, err, c.want)
			}
			if c.name == "duplicate tag" && !errors.Is(err, shares.ErrDuplicateTag) {
				t.Errorf("error does not wrap ErrDuplicateTag: %v", err)
			}
			if c.spec.Dir != "" && c.spec.Tag != "rootfs" && e.server(c.spec.Dir) != nil {
				t.Errorf("a server was made for a refused share")
			}
			if n := len(e.xs.Directory("/local/domain/5/device/9pfs")); n != 1 {
				t.Errorf("%d devices after a refused Add, want 1", n)
			}
		})
	}
	e.mu.Lock()
	e.failNew = nil
	e.mu.Unlock()
	if len(s.Status()) != 1 {
		t.Fatalf("Status = %+v", s.Status())
	}
	// A tag refused as a duplicate is free again once used correctly.
	must(t, s.Add(ctxT(t), shares.Spec{Tag: "vol", Dir: "/srv/vol"}))
	must(t, s.Close())
	e.checkClean(5)
}

// TestSetLimits: limits change on the limiter the server uses, while the
// guest is connected.
func TestSetLimits(t *testing.T) {
	e := newEnv(t, 5)
	s := e.set(5, nil)
	must(t, s.Add(ctxT(t), shares.Spec{Tag: "rootfs", Dir: "/srv/root", Limits: iolimit.Limits{ReadOpsPerSec: 100}}))
	must(t, s.Add(ctxT(t), shares.Spec{Tag: "vol", Dir: "/srv/vol"}))
	e.connect(s, 5, "rootfs")
	e.connect(s, 5, "vol")
	must(t, s.WaitConnected(ctxT(t)))

	l := iolimit.Limits{ReadBytesPerSec: 1 << 20, WriteBytesPerSec: 10 << 20, ReadOpsPerSec: 50, WriteOpsPerSec: 20}
	must(t, s.SetLimits("rootfs", l))
	if got := e.server("/srv/root").limits(); got != l {
		t.Errorf("server's limiter has %+v, want %+v", got, l)
	}
	if got := status(t, s, "rootfs").Limits; got != l {
		t.Errorf("Status limits %+v, want %+v", got, l)
	}
	if got := e.server("/srv/vol").limits(); got != (iolimit.Limits{}) {
		t.Errorf("the other share's limits changed: %+v", got)
	}
	must(t, s.SetLimits("rootfs", iolimit.Limits{}))
	if got := e.server("/srv/root").limits(); !got.Unlimited() {
		t.Errorf("limits after lifting them: %+v", got)
	}
	if err := s.SetLimits("nope", l); !errors.Is(err, shares.ErrUnknownShare) {
		t.Errorf("SetLimits of an unknown share: %v", err)
	}
}

func word(mem []byte, off int) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }

// TestHostileFrontend: a frontend that corrupts its ring gets its share's
// device torn down with an error log; the other shares of the domain keep
// serving, Sync still flushes every directory, and Close cleans up.
func TestHostileFrontend(t *testing.T) {
	cases := []struct {
		name string
		act  func(t *testing.T, f *xen9pfstest.Frontend)
		is   error
	}{
		{"out_prod beyond the ring", func(t *testing.T, f *xen9pfstest.Frontend) {
			r := f.Rings()[0]
			cons := atomic.LoadUint32(word(r.Intf(), 64))
			atomic.StoreUint32(word(r.Intf(), 68), cons+(1<<20))
			must(t, r.Notify())
		}, ring.ErrCorrupt},
		{"message size 4 GiB", func(t *testing.T, f *xen9pfstest.Frontend) {
			hdr := xen9pfstest.Msg(1, 0, nil)
			hdr[0], hdr[1], hdr[2], hdr[3] = 0xff, 0xff, 0xff, 0xff
			must(t, f.Rings()[1].Send(ctxT(t), hdr))
		}, xen9pfs.ErrProtocol},
		{"frontend state garbage", func(t *testing.T, f *xen9pfstest.Frontend) {
			must(t, f.SetState(ctxT(t), 99))
		}, xen9pfs.ErrProtocol},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 5)
			s := e.set(5, nil)
			for _, tag := range []string{"rootfs", "vol1", "vol2"} {
				must(t, s.Add(ctxT(t), shares.Spec{Tag: tag, Dir: "/srv/" + tag}))
			}
			fr := e.connect(s, 5, "rootfs")
			bad := e.connect(s, 5, "vol1")
			fv := e.connect(s, 5, "vol2")
			must(t, s.WaitConnected(ctxT(t)))

			c.act(t, bad)
			waitFor(t, "the hostile device to go", func() bool { return status(t, s, "vol1").Err != nil })
			if err := status(t, s, "vol1").Err; !errors.Is(err, c.is) {
				t.Fatalf("vol1 ended with %v, want %v", err, c.is)
			}
			var found bool
			waitFor(t, "the error log", func() bool {
				for _, m := range e.logged(logrus.ErrorLevel) {
					found = found || (strings.Contains(m, "torn down") && strings.Contains(m, "tag:vol1") && strings.Contains(m, "dir:/srv/vol1"))
				}
				return found
			})
			if n := len(e.xs.Directory("/local/domain/5/device/9pfs")); n != 2 {
				t.Errorf("%d devices left, want the 2 bystanders", n)
			}
			for _, f := range []*xen9pfstest.Frontend{fr, fv} {
				for i := range 20 {
					if got, err := roundTrip(t, f, uint16(i), "alive"); err != nil || !strings.HasSuffix(got, ":alive") {
						t.Fatalf("bystander %s: %q, %v", f.Tag(), got, err)
					}
				}
				must(t, f.Err())
			}
			for _, tag := range []string{"rootfs", "vol2"} {
				if err := status(t, s, tag).Err; err != nil {
					t.Errorf("bystander %s ended: %v", tag, err)
				}
			}
			must(t, s.Sync(ctxT(t)))
			if n := e.server("/srv/vol1").syncs.Load(); n != 1 {
				t.Errorf("the torn-down share's directory synced %d times, want 1", n)
			}
			must(t, s.Close())
			e.checkClean(5)
		})
	}
}

// TestDomainDiesFirst: when the guest dies, every device goes by itself;
// Close afterwards still closes the servers and leaves nothing.
func TestDomainDiesFirst(t *testing.T) {
	e := newEnv(t, 5, 6)
	s := e.set(5, nil)
	other := e.set(6, nil)
	for _, tag := range []string{"rootfs", "vol"} {
		must(t, s.Add(ctxT(t), shares.Spec{Tag: tag, Dir: "/srv/5/" + tag}))
	}
	must(t, other.Add(ctxT(t), shares.Spec{Tag: "rootfs", Dir: "/srv/6/rootfs"}))
	e.connect(s, 5, "rootfs") // vol never connects
	f6 := e.connect(other, 6, "rootfs")

	e.xs.ReleaseDomain(5)
	for _, tag := range []string{"rootfs", "vol"} {
		waitFor(t, tag+" to go", func() bool { return status(t, s, tag).Err != nil })
		if err := status(t, s, tag).Err; !errors.Is(err, xen9pfs.ErrDomainGone) {
			t.Errorf("%s: %v", tag, err)
		}
	}
	for _, m := range e.logged(logrus.ErrorLevel) {
		t.Errorf("a domain's death logged an error: %s", m)
	}
	if got, err := roundTrip(t, f6, 3, "x"); err != nil || got != "/srv/6/rootfs:x" {
		t.Fatalf("the other domain's share: %q, %v", got, err)
	}
	must(t, s.Close())
	for _, tag := range []string{"rootfs", "vol"} {
		if !e.server("/srv/5/" + tag).closed.Load() {
			t.Errorf("server of %s left open", tag)
		}
	}
	e.checkNodes(5)
	must(t, other.Close())
	e.checkClean(5)
	e.checkClean(6)
}

// TestNeverConnects: a guest that never connects its device makes
// WaitConnected fail within the bound, naming the share and how far the
// handshake got.
func TestNeverConnects(t *testing.T) {
	e := newEnv(t, 5)
	s := e.set(5, func(c *shares.Config) { c.ConnectTimeout = 300 * time.Millisecond })
	must(t, s.Add(ctxT(t), shares.Spec{Tag: "rootfs", Dir: "/srv/root"}))
	must(t, s.Add(ctxT(t), shares.Spec{Tag: "vol", Dir: "/srv/vol"}))
	e.connect(s, 5, "rootfs")
	start := time.Now()
	err := s.WaitConnected(ctxT(t))
	took := time.Since(start)
	if err == nil {
		t.Fatal("WaitConnected succeeded with a device never connected")
	}
	t.Log(err)
	if took > 5*time.Second {
		t.Errorf("WaitConnected took %s with a 300ms bound", took)
	}
	msg := err.Error()
	for _, want := range []string{`share "vol" (/srv/vol)`, "did not connect", "has not started the device"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if strings.Contains(msg, `"rootfs"`) {
		t.Errorf("error names the share that connected")
	}
	if !errors.Is(err, xen9pfs.ErrNotConnected) {
		t.Errorf("error does not wrap xen9pfs.ErrNotConnected")
	}
	must(t, s.Close())
	e.checkClean(5)
}

// TestSyncErrors: a failing server's Sync is reported with its share; the
// others are still synced.
func TestSyncErrors(t *testing.T) {
	e := newEnv(t, 5)
	s := e.set(5, nil)
	for _, tag := range []string{"a", "b", "c"} {
		must(t, s.Add(ctxT(t), shares.Spec{Tag: tag, Dir: "/srv/" + tag}))
	}
	e.server("/srv/b").syncErr = errors.New("EIO")
	err := s.Sync(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), `share "b" (/srv/b): EIO`) {
		t.Fatalf("Sync = %v", err)
	}
	for _, tag := range []string{"a", "c"} {
		if e.server("/srv/"+tag).syncs.Load() != 1 {
			t.Errorf("%s not synced", tag)
		}
	}
}

// TestCloseRacesAdd: Adds racing Close either succeed before it (and are
// torn down by it) or fail with ErrClosed; nothing is left either way.
func TestCloseRacesAdd(t *testing.T) {
	for round := range 20 {
		e := newEnv(t, 5)
		s := e.set(5, nil)
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.Add(ctxT(t), shares.Spec{Tag: fmt.Sprintf("s%d", i), Dir: fmt.Sprintf("/srv/%d", i)})
				if err != nil && !errors.Is(err, shares.ErrClosed) && !errors.Is(err, xen9pfs.ErrClosed) {
					t.Errorf("round %d: Add: %v", round, err)
				}
			}()
		}
		if round%2 == 1 {
			time.Sleep(time.Duration(round) * 100 * time.Microsecond)
		}
		must(t, s.Close())
		wg.Wait()
		e.checkClean(5)
		e.mu.Lock()
		for dir, srv := range e.servers {
			if !srv.closed.Load() {
				t.Errorf("round %d: server of %s left open", round, dir)
			}
		}
		e.mu.Unlock()
	}
}
