package shares_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/log"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/runxen/runxen/runtime/iolimit"
	"github.com/runxen/runxen/runtime/shares"
	"github.com/runxen/runxen/runtime/vchan/vchantest"
	"github.com/runxen/runxen/runtime/xen9pfs/xen9pfstest"
	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

// env is dom0 and guest domains over a fake xenstored and a fake
// hypervisor, with fake file servers that answer 9P-shaped messages.
type env struct {
	t       *testing.T
	xs      *xenstoretest.Server
	hv      *vchantest.Hypervisor
	hostXS  *xenstore.Client
	hostDev *vchantest.Domain
	guestXS map[uint32]*xenstore.Client
	logs    *logtest.Hook
	ctx     context.Context // carries the logger with the hook

	mu      sync.Mutex
	servers map[string]*fakeServer // by directory
	failNew error                  // NewServer fails with this when set
}

func newEnv(t *testing.T, guests ...uint32) *env {
	t.Helper()
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	e := &env{
		t: t, xs: xenstoretest.New(), hv: vchantest.New(), guestXS: map[uint32]*xenstore.Client{},
		logs: hook, servers: map[string]*fakeServer{},
	}
	e.ctx = log.WithLogger(context.Background(), logrus.NewEntry(logger))
	e.hostXS = xenstore.NewClient(e.xs.Conn())
	e.hostDev = e.hv.Domain(0)
	for _, g := range guests {
		// As libxl leaves a new domain.
		home := "/local/domain/" + strconv.Itoa(int(g))
		must(t, e.xs.Mkdir(home+"/device"))
		must(t, e.xs.SetPermissions(home, "n0", "r"+strconv.Itoa(int(g))))
		must(t, e.xs.SetPermissions(home+"/device", "n0", "r"+strconv.Itoa(int(g))))
		must(t, e.xs.Mkdir(home+"/error"))
		must(t, e.xs.SetPermissions(home+"/error", "n"+strconv.Itoa(int(g))))
		e.xs.IntroduceDomain(g)
		e.guestXS[g] = xenstore.NewClient(e.xs.ConnAs(g))
	}
	t.Cleanup(func() {
		for _, c := range e.guestXS {
			c.Close()
		}
		e.hostXS.Close()
		e.xs.Close()
	})
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// set makes the shares of guest g, served by fake servers.
func (e *env) set(g uint32, mod func(*shares.Config)) *shares.Set {
	e.t.Helper()
	cfg := shares.Config{Store: e.hostXS, Devices: e.hostDev, Domain: g, NewServer: e.newServer}
	if mod != nil {
		mod(&cfg)
	}
	s, err := shares.New(e.ctx, cfg)
	must(e.t, err)
	e.t.Cleanup(func() { s.Close() })
	return s
}

func (e *env) newServer(c shares.ServerConfig) (shares.Server, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failNew != nil {
		return nil, e.failNew
	}
	srv := &fakeServer{cfg: c}
	e.servers[c.Dir] = srv
	return srv, nil
}

func (e *env) server(dir string) *fakeServer {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.servers[dir]
}

// connect plays guest g's kernel connecting the device of the share
// tagged tag.
func (e *env) connect(s *shares.Set, g uint32, tag string) *xen9pfstest.Frontend {
	e.t.Helper()
	st := status(e.t, s, tag)
	f, err := xen9pfstest.Connect(ctxT(e.t), xen9pfstest.Config{Store: e.guestXS[g], Devices: e.hv.Domain(g), Domain: g, DevID: st.DevID})
	must(e.t, err)
	e.t.Cleanup(f.Close)
	if f.Tag() != tag {
		e.t.Fatalf("device %d has tag %q, want %q", st.DevID, f.Tag(), tag)
	}
	return f
}

func status(t testing.TB, s *shares.Set, tag string) shares.Status {
	t.Helper()
	for _, st := range s.Status() {
		if st.Tag == tag {
			return st
		}
	}
	t.Fatalf("no share %q in %+v", tag, s.Status())
	return shares.Status{}
}

// checkClean verifies that dom0 holds nothing of guest g's shares: no
// mapping or event channel, no xenstore node.
func (e *env) checkClean(g uint32) {
	e.t.Helper()
	if n := e.hostDev.Open(); n != 0 {
		e.t.Errorf("dom0 still holds %d mappings/event channels", n)
	}
	e.checkNodes(g)
}

// checkNodes verifies that no xenstore node of guest g's shares is left.
func (e *env) checkNodes(g uint32) {
	e.t.Helper()
	for _, p := range []string{
		fmt.Sprintf("/local/domain/%d/device/9pfs", g),
		fmt.Sprintf("/local/domain/0/backend/9pfs/%d", g),
		fmt.Sprintf("/local/domain/%d/error/device/9pfs", g),
	} {
		if e.xs.Exists(p) {
			e.t.Errorf("%s still in xenstore:\n%s", p, e.xs.Dump())
		}
	}
}

// roundTrip sends a message through f and returns the reply's body.
func roundTrip(t testing.TB, f *xen9pfstest.Frontend, tag uint16, body string) (string, error) {
	t.Helper()
	r, err := f.RoundTrip(ctxT(t), xen9pfstest.Msg(100, tag, []byte(body)))
	if err != nil {
		return "", err
	}
	return string(r[7:]), nil
}

// fakeServer answers each 9P-shaped message with type+1, the same tag
// and a body of its directory, a colon and the request's body, so a test
// sees which share answered. It counts Sync and Close calls.
type fakeServer struct {
	cfg     shares.ServerConfig
	syncs   atomic.Int32
	closed  atomic.Bool
	serving atomic.Int32
	syncErr error
}

func (f *fakeServer) Serve(ctx context.Context, conn io.ReadWriteCloser) error {
	f.serving.Add(1)
	defer f.serving.Add(-1)
	for {
		var hdr [7]byte
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return nil
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		if n < 7 {
			return errors.New("short message")
		}
		body := make([]byte, n-7)
		if _, err := io.ReadFull(conn, body); err != nil {
			return nil
		}
		if f.closed.Load() {
			return errors.New("fake server: closed")
		}
		out := xen9pfstest.Msg(hdr[4]+1, binary.LittleEndian.Uint16(hdr[5:]), []byte(f.cfg.Dir+":"+string(body)))
		if _, err := conn.Write(out); err != nil {
			return nil
		}
	}
}

func (f *fakeServer) Sync(ctx context.Context) error {
	if f.closed.Load() {
		return errors.New("fake server: sync after close")
	}
	f.syncs.Add(1)
	return f.syncErr
}

func (f *fakeServer) Close() error {
	f.closed.Store(true)
	return nil
}

func (f *fakeServer) limits() iolimit.Limits { return f.cfg.Limiter.Limits() }

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// logged returns the messages logged at level or above, with their
// fields.
func (e *env) logged(level logrus.Level) []string {
	var out []string
	for _, en := range e.logs.AllEntries() {
		if en.Level <= level {
			out = append(out, fmt.Sprintf("%s %v", en.Message, en.Data))
		}
	}
	return out
}
