package agentclient

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/containerd/ttrpc"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/agentclient/agenttest"
	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/vchan/vchantest"
	"github.com/runxen/runxen/runtime/xen"
	"github.com/runxen/runxen/runtime/xen/xentest"
	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

// ctxT bounds a test's calls: a hang fails the test, not the run.
var ctxT = vchantest.Context

// env is one fake host: xenstored, a toolstack, the grant and event
// channel devices, and one guest domain (running, no agent yet).
type env struct {
	t      *testing.T
	xs     *xenstoretest.Server
	ts     *xentest.Toolstack
	hv     *vchantest.Hypervisor
	hostXS *xenstore.Client
	guest  xen.DomID
	gXS    *xenstore.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	h := vchantest.NewHost(t)
	e := &env{t: t, xs: h.Xenstored, ts: xentest.New(xentest.WithXenstore(h.Xenstored)), hv: h.Hypervisor, hostXS: h.Dom0.Store}
	ctx := ctxT(t)
	id, err := e.ts.Create(ctx, xen.DomainConfig{Name: "guest", Kernel: "/k", MemoryMiB: 64, VCPUs: 1})
	must(t, err)
	must(t, e.ts.Unpause(ctx, id))
	e.guest = id
	e.gXS = h.Connect(uint32(id)).Store
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) config() Config {
	return Config{
		Domain:      e.guest,
		Store:       e.hostXS,
		Devices:     e.hv.Domain(0),
		Waiter:      e.ts,
		CallTimeout: 5 * time.Second,
	}
}

func (e *env) serverConfig() vchan.Config {
	return vchan.Config{
		Devices: e.hv.Domain(uint32(e.guest)),
		Store:   e.gXS,
		Peer:    0,
		Path:    agent.AgentVchanPath(uint32(e.guest)),
	}
}

// serveAgent runs a as the guest's agent on a vchan Listener, as the real
// agent does.
func (e *env) serveAgent(a *agenttest.Agent) {
	t := e.t
	ctx, cancel := context.WithCancel(context.Background())
	l, err := vchan.Listen(ctx, e.serverConfig())
	must(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Serve(ctx, l)
	}()
	t.Cleanup(func() {
		cancel()
		l.Close()
		<-done
	})
}

// rawServer publishes the guest's vchan and returns the server end once
// the host connected, for tests that play a misbehaving agent byte by byte.
func (e *env) rawServer() <-chan *vchan.Conn {
	t := e.t
	ch := make(chan *vchan.Conn, 1)
	srv, err := vchan.NewServer(ctxT(t), e.serverConfig())
	must(t, err)
	t.Cleanup(func() { srv.Close() })
	go func() {
		if srv.WaitConnected(ctxT(t)) == nil {
			ch <- srv
		}
	}()
	return ch
}

// proxyAgent serves a behind an interposer on the guest's vchan: the
// returned function writes raw bytes towards the host between ttrpc
// frames the agent sends (the agent's writes are whole frames here).
func (e *env) proxyAgent(a *agenttest.Agent) (inject func([]byte)) {
	t := e.t
	conns := e.rawServer()
	inner, outer := net.Pipe()
	srv, err := ttrpc.NewServer()
	must(t, err)
	agent.RegisterAgentService(srv, a)
	go func() { _ = srv.Serve(context.Background(), newOneConnListener(inner)) }()
	t.Cleanup(func() {
		srv.Close()
		outer.Close()
	})
	var mu sync.Mutex // one writer at a time towards the host
	var guestEnd *vchan.Conn
	ready := make(chan struct{})
	go func() {
		g, ok := <-conns
		if !ok {
			return
		}
		guestEnd = g
		close(ready)
		go func() { _, _ = io.Copy(outer, g) }()
		buf := make([]byte, 64<<10)
		for {
			n, err := outer.Read(buf)
			if n > 0 {
				mu.Lock()
				_, werr := g.Write(buf[:n])
				mu.Unlock()
				if werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return func(p []byte) {
		<-ready
		mu.Lock()
		defer mu.Unlock()
		_, _ = guestEnd.Write(p)
	}
}

// oneConnListener accepts one connection, then blocks until closed.
type oneConnListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newOneConnListener(c net.Conn) *oneConnListener {
	l := &oneConnListener{conns: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.conns <- c
	return l
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "unix"} }
