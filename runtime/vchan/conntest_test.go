package vchan_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/xenstore"
)

func TestNetConn(t *testing.T) {
	for _, sz := range []struct {
		name       string
		recv, send int
	}{{"inpage", 0, 0}, {"64k", 64 << 10, 64 << 10}} {
		t.Run(sz.name, func(t *testing.T) {
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				e := newEnv(t)
				ctx := ctxT(t)
				srv, err := vchan.NewServer(ctx, e.serverConfig(sz.recv, sz.send))
				if err != nil {
					return nil, nil, nil, err
				}
				cli, err := vchan.Dial(ctx, e.clientConfig())
				if err != nil {
					srv.Close()
					return nil, nil, nil, err
				}
				return cli, srv, func() { cli.Close(); srv.Close() }, nil
			})
		})
	}
}

// TestListener serves one connection at a time and lets a client
// reconnect after the previous connection closed.
func TestListener(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	cfg := e.serverConfig(0, 0)
	l, err := vchan.Listen(ctx, cfg)
	must(t, err)
	if got := l.Addr().String(); got != "5:"+vchanPath {
		t.Errorf("Addr %q", got)
	}
	served := make(chan error, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				served <- err
				return
			}
			go func() { // echo until EOF, then close
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	for i := 0; i < 3; i++ {
		cli, err := vchan.Dial(ctx, e.clientConfig())
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		roundTrip(t, cli, cli, []byte("echo"))
		// One client at a time: a second Dial finds the endpoint taken.
		dctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		if c2, err := vchan.Dial(dctx, e.clientConfig()); err == nil {
			c2.Close()
			t.Fatal("second concurrent client connected")
		}
		cancel()
		cli.Close()
	}
	must(t, l.Close())
	select {
	case err := <-served:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept not unblocked by Close")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on a closed Listener: %v", err)
	}
	if err := l.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	// The echo goroutines close their conns after the clients left.
	deadline := time.Now().Add(5 * time.Second)
	for (e.guestDev.Open() != 0 || e.xs.Exists(vchanPath)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	e.checkClean()
}

// TestListenerCloseBeforeClient withdraws the published endpoint.
func TestListenerCloseBeforeClient(t *testing.T) {
	e := newEnv(t)
	l, err := vchan.Listen(ctxT(t), e.serverConfig(0, 0))
	must(t, err)
	if !e.xs.Exists(vchanPath + "/ring-ref") {
		t.Fatal("Listen did not publish")
	}
	res := make(chan error)
	go func() { _, err := l.Accept(); res <- err }()
	time.Sleep(20 * time.Millisecond)
	must(t, l.Close())
	if err := <-res; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept: %v", err)
	}
	e.checkClean()
}

// lateCommitStore commits transactions but reports them cancelled, as when
// ctx ends while the commit's reply is on its way.
type lateCommitStore struct{ vchan.Store }

func (s lateCommitStore) Transaction(ctx context.Context, fn func(tx *xenstore.Tx) error) error {
	if err := s.Store.Transaction(ctx, fn); err != nil {
		return err
	}
	return context.Canceled
}

// TestPublishFailureLeavesNothing: a server whose publication failed after
// all takes its entries back.
func TestPublishFailureLeavesNothing(t *testing.T) {
	e := newEnv(t)
	cfg := e.serverConfig(0, 0)
	cfg.Store = lateCommitStore{e.guestXS}
	if _, err := vchan.NewServer(ctxT(t), cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("NewServer: %v", err)
	}
	e.checkClean()
}

// TestStaleEndpointRefused: after its client left, a server endpoint
// refuses new clients, which then wait for a fresh endpoint.
func TestStaleEndpointRefused(t *testing.T) {
	e := newEnv(t)
	srv, cli := e.pair(0, 0)
	cli.Close()
	if _, err := srv.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("server Read after client left: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctxT(t), 50*time.Millisecond)
	defer cancel()
	if c, err := vchan.Dial(ctx, e.clientConfig()); err == nil {
		c.Close()
		t.Fatal("a new client attached to a finished endpoint")
	}
	srv.Close()
	e.checkClean()
}
