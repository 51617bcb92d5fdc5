package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/ttrpc"
	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
)

// stubService answers Version, fails or panics on demand, and long-polls
// GetOOMEvent until its context ends.
type stubService struct {
	agent.AgentService // nil: other methods are not called
	versionErr         error
	panicNow           bool
	pollEnded          chan error
}

func (s *stubService) Version(ctx context.Context, _ *emptypb.Empty) (*agent.VersionResponse, error) {
	if s.panicNow {
		panic("boom")
	}
	if s.versionErr != nil {
		return nil, s.versionErr
	}
	return &agent.VersionResponse{AgentVersion: "stub", ApiVersion: agent.APIVersion}, nil
}

func (s *stubService) GetOOMEvent(ctx context.Context, _ *emptypb.Empty) (*agent.OOMEvent, error) {
	<-ctx.Done()
	if s.pollEnded != nil {
		s.pollEnded <- ctx.Err()
	}
	return nil, ctx.Err()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// serveUnix serves svc on a unix socket for the test's duration.
func serveUnix(t *testing.T, svc agent.AgentService) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	srv, err := New(svc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Serve(ctx, srv, ListenUnix(sock)); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return sock
}

func dialUnix(t *testing.T, sock string) (net.Conn, agent.AgentService) {
	t.Helper()
	var conn net.Conn
	var err error
	for range 200 {
		if conn, err = net.Dial("unix", sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	cl := ttrpc.NewClient(conn)
	t.Cleanup(func() { cl.Close() })
	return conn, agent.NewAgentClient(cl)
}

func TestErrorsAreConvertedAtTheEdge(t *testing.T) {
	svc := &stubService{versionErr: fmt.Errorf("container %q: %w", "x", errdefs.ErrNotFound)}
	sock := serveUnix(t, svc)
	_, c := dialUnix(t, sock)
	_, err := c.Version(ctxT(t), &emptypb.Empty{})
	if err := errgrpc.ToNative(err); !errdefs.IsNotFound(err) {
		t.Fatalf("err = %v, want NotFound", err)
	}
	svc.versionErr = fmt.Errorf("bad: %w", errdefs.ErrFailedPrecondition)
	_, err = c.Version(ctxT(t), &emptypb.Empty{})
	if err := errgrpc.ToNative(err); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("err = %v, want FailedPrecondition", err)
	}
}

func TestPanicIsAnInternalError(t *testing.T) {
	svc := &stubService{panicNow: true}
	sock := serveUnix(t, svc)
	_, c := dialUnix(t, sock)
	_, err := c.Version(ctxT(t), &emptypb.Empty{})
	if err := errgrpc.ToNative(err); !errdefs.IsInternal(err) {
		t.Fatalf("err = %v, want Internal", err)
	}
	svc.panicNow = false
	if _, err := c.Version(ctxT(t), &emptypb.Empty{}); err != nil {
		t.Fatalf("the agent did not survive a panic: %v", err)
	}
}

// TestGarbageOnTheWire: whatever a client writes, the agent keeps serving
// other and later clients.
func TestGarbageOnTheWire(t *testing.T) {
	sock := serveUnix(t, &stubService{})
	garbage := [][]byte{
		make([]byte, 64), // zero header: length 0, stream 0
		{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 1, 0}, // 4 GiB length
		{0, 0, 0, 4, 0, 0, 0, 1, 1, 0, 'j', 'u', 'n', 'k'},
	}
	random := make([]byte, 1<<16)
	rand.Read(random)
	garbage = append(garbage, random)
	for i, g := range garbage {
		conn, _ := dialUnix(t, sock)
		conn.Write(g)
		// A well-behaved client meanwhile.
		_, c := dialUnix(t, sock)
		if _, err := c.Version(ctxT(t), &emptypb.Empty{}); err != nil {
			t.Fatalf("garbage %d: a good client failed: %v", i, err)
		}
		conn.Close()
	}
}

// failingConn's reads fail with a non-EOF error once fail is closed, as a
// vchan whose peer corrupted the ring does.
type failingConn struct {
	net.Conn
	fail   chan struct{}
	closed atomic.Bool
}

func (c *failingConn) Read(p []byte) (int, error) {
	type res struct {
		n   int
		err error
	}
	ch := make(chan res, 1)
	go func() { n, err := c.Conn.Read(p); ch <- res{n, err} }()
	select {
	case r := <-ch:
		return r.n, r.err
	case <-c.fail:
		return 0, errors.New("ring corrupt")
	}
}

func (c *failingConn) Close() error { c.closed.Store(true); return c.Conn.Close() }

type oneConnListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *oneConnListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *oneConnListener) Addr() net.Addr { return &net.UnixAddr{Name: "test", Net: "unix"} }

// TestReadErrorClosesConnection: a transport read error that is not EOF
// closes the connection at once, even with a long-poll in flight (plain
// ttrpc would keep it open until the call ends), and cancels the call.
func TestReadErrorClosesConnection(t *testing.T) {
	svc := &stubService{pollEnded: make(chan error, 1)}
	srv, err := New(svc)
	if err != nil {
		t.Fatal(err)
	}
	server, client := net.Pipe()
	fc := &failingConn{Conn: server, fail: make(chan struct{})}
	l := &oneConnListener{conns: make(chan net.Conn, 1), done: make(chan struct{})}
	l.conns <- fc
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Serve(ctx, srv, func(context.Context) (net.Listener, error) { return l, nil })

	c := agent.NewAgentClient(ttrpc.NewClient(client))
	go c.GetOOMEvent(context.Background(), &emptypb.Empty{})
	time.Sleep(50 * time.Millisecond)
	close(fc.fail)
	select {
	case err := <-svc.pollEnded:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("long-poll ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll was not cancelled after the transport failed")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !fc.closed.Load() {
		if time.Now().After(deadline) {
			t.Fatal("connection not closed after a read error")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServeReplacesAFailedListener: when Accept fails for good, Serve
// listens again.
func TestServeReplacesAFailedListener(t *testing.T) {
	srv, err := New(&stubService{})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	listened := make(chan struct{}, 10)
	listen := func(context.Context) (net.Listener, error) {
		n := calls.Add(1)
		listened <- struct{}{}
		if n == 2 {
			return nil, errors.New("xenstore is down")
		}
		return &failingListener{}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, srv, listen) }()
	for range 3 {
		select {
		case <-listened:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d listen attempts", calls.Load())
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

type failingListener struct{}

func (failingListener) Accept() (net.Conn, error) { return nil, errors.New("grant table full") }
func (failingListener) Close() error              { return nil }
func (failingListener) Addr() net.Addr            { return &net.UnixAddr{Name: "failing", Net: "unix"} }

func TestParseAddress(t *testing.T) {
	for _, good := range []string{"vchan", "unix:///run/agent.sock"} {
		if _, err := ParseAddress(good); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	for _, bad := range []string{"", "tcp://1.2.3.4:5", "unix://relative", "vsock"} {
		if _, err := ParseAddress(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

var _ io.Reader = (*eofConn)(nil)
