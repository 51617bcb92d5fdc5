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
	xs := xenstoretest.New()
	must(t, xs.Mkdir("/local/domain/5"))
	must(t, xs.SetPermissions("/local/domain/5", "n5"))
	must(t, xs.Write("/local/domain/5/domid", []byte("5")))
	must(t, xs.Write("/local/domain/0/domid", []byte("0")))
	hv := vchantest.New()
	e := &env{
		t:        t,
		hv:       hv,
		xs:       xs,
		guestXS:  xenstore.NewClient(xs.ConnAs(guestDom)),
		hostXS:   xenstore.NewClient(xs.ConnAs(hostDom)),
		guestDev: hv.Domain(guestDom),
		hostDev:  hv.Domain(hostDom),
	}
	t.Cleanup(func() {
		e.guestXS.Close()
		e.hostXS.Close()
		xs.Close()
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
