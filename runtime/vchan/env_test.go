package vchan_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/vchan/vchantest"
	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

// The tests play the guest agent (domain 5) as the vchan server and dom0
// as the client.
const (
	guestDom = 5
	hostDom  = 0
)

var vchanPath = vchan.DefaultPath(guestDom, hostDom, "agent")

// ctxT bounds a test's calls: a hang fails the test, not the run.
var ctxT = vchantest.Context

type env struct {
	t        testing.TB
	hv       *vchantest.Hypervisor
	xs       *xenstoretest.Server
	guestXS  *xenstore.Client
	hostXS   *xenstore.Client
	guestDev *vchantest.Domain
	hostDev  *vchantest.Domain
}

func newEnv(t testing.TB) *env {
	t.Helper()
	h := vchantest.NewHost(t)
	g := h.AddGuest(guestDom)
	return &env{
		t:        t,
		hv:       h.Hypervisor,
		xs:       h.Xenstored,
		guestXS:  g.Store,
		hostXS:   h.Dom0.Store,
		guestDev: g.Devices,
		hostDev:  h.Dom0.Devices,
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) serverConfig(recv, send int) vchan.Config {
	return vchan.Config{
		Devices:  e.guestDev,
		Store:    e.guestXS,
		Peer:     hostDom,
		Path:     vchanPath,
		RecvSize: recv,
		SendSize: send,
	}
}

func (e *env) clientConfig() vchan.Config {
	self := uint32(hostDom)
	return vchan.Config{
		Devices:     e.hostDev,
		Store:       e.hostXS,
		Peer:        guestDom,
		Path:        vchanPath,
		LocalDomain: &self,
	}
}

// pair returns a connected server (guest) and client (host) end.
func (e *env) pair(recv, send int) (srv, cli *vchan.Conn) {
	t := e.t
	t.Helper()
	ctx := ctxT(t)
	srv, err := vchan.NewServer(ctx, e.serverConfig(recv, send))
	if err != nil {
		t.Fatal(err)
	}
	cli, err = vchan.Dial(ctx, e.clientConfig())
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	if err := srv.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Close()
		cli.Close()
	})
	return srv, cli
}

// checkClean verifies both fake domains released everything and the
// server's xenstore directory is gone.
func (e *env) checkClean() {
	e.t.Helper()
	if n := e.guestDev.Open(); n != 0 {
		e.t.Errorf("guest still has %d memories/ports open", n)
	}
	if n := e.hostDev.Open(); n != 0 {
		e.t.Errorf("host still has %d memories/ports open", n)
	}
	if e.xs.Exists(vchanPath) {
		e.t.Errorf("%s still in xenstore", vchanPath)
	}
}

var _ net.Conn = (*vchan.Conn)(nil)

func contextWithTimeout(t testing.TB, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctxT(t), d)
}
