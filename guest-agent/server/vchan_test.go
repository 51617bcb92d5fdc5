package server

import (
	"context"
	"testing"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/protobuf/types/known/emptypb"

	agent "github.com/runxen/runxen/guest-agent/api/v1"
	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/vchan/vchantest"
	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

const guestDom = 7

// vchanEnv is one fake guest (the agent) and dom0 (the shim) over the
// in-process hypervisor and xenstored.
type vchanEnv struct {
	hv      *vchantest.Hypervisor
	guestXS *xenstore.Client
	hostXS  *xenstore.Client
}

func newVchanEnv(t *testing.T) *vchanEnv {
	t.Helper()
	xs := xenstoretest.New()
	for _, err := range []error{
		xs.Mkdir("/local/domain/7"),
		xs.SetPermissions("/local/domain/7", "n7"),
		xs.Write("/local/domain/7/domid", []byte("7")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	e := &vchanEnv{
		hv:      vchantest.New(),
		guestXS: xenstore.NewClient(xs.ConnAs(guestDom)),
		hostXS:  xenstore.NewClient(xs.ConnAs(0)),
	}
	t.Cleanup(func() {
		e.guestXS.Close()
		e.hostXS.Close()
		xs.Close()
	})
	return e
}

// serve runs the agent's server on the guest's vchan, reading its own
// domid from xenstore as in a real guest.
func (e *vchanEnv) serve(t *testing.T, svc agent.AgentService) {
	srv, err := New(svc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Serve(ctx, srv, ListenVchan(VchanConfig{Store: e.guestXS, Devices: e.hv.Domain(guestDom)}))
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// dial connects from dom0 as the shim will.
func (e *vchanEnv) dial(t *testing.T) *vchan.Conn {
	t.Helper()
	self := uint32(0)
	c, err := vchan.Dial(ctxT(t), vchan.Config{
		Devices: e.hv.Domain(0), Store: e.hostXS, Peer: guestDom,
		Path: agent.AgentVchanPath(guestDom), LocalDomain: &self,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func version(t *testing.T, conn *vchan.Conn) {
	t.Helper()
	cl := ttrpc.NewClient(conn)
	defer cl.Close()
	v, err := agent.NewAgentClient(cl).Version(ctxT(t), &emptypb.Empty{})
	if err != nil || v.AgentVersion != "stub" {
		t.Fatalf("Version over vchan = %v, %v", v, err)
	}
}

// TestVchanReconnect: the agent serves on its vchan; dom0 connects, leaves,
// connects again (a restarted shim), sends garbage and leaves, and still
// reconnects.
func TestVchanReconnect(t *testing.T) {
	e := newVchanEnv(t)
	e.serve(t, &stubService{})

	c := e.dial(t)
	if c.WriteBufferSize() < RecvRing || c.ReadBufferSize() < SendRing {
		t.Errorf("rings: dom0 writes into %d bytes and reads from %d, want %d and %d",
			c.WriteBufferSize(), c.ReadBufferSize(), RecvRing, SendRing)
	}
	version(t, c) // closes c

	version(t, e.dial(t))

	g := e.dial(t)
	g.Write([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 1, 0, 1, 2, 3})
	g.Close()

	version(t, e.dial(t))
}

// TestVchanPeerCrash: dom0's end vanishes without closing (the shim was
// killed): the kernel's unmap notification tells the agent, which serves
// again.
func TestVchanPeerCrash(t *testing.T) {
	e := newVchanEnv(t)
	svc := &stubService{pollEnded: make(chan error, 1)}
	e.serve(t, svc)
	c := e.dial(t)
	cl := ttrpc.NewClient(c)
	go agent.NewAgentClient(cl).GetOOMEvent(context.Background(), &emptypb.Empty{})
	time.Sleep(50 * time.Millisecond)
	e.hv.Domain(0).Crash()
	select {
	case <-svc.pollEnded:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not notice dom0's end vanished")
	}
	cl.Close()
	version(t, e.dial(t))
}

// TestRingSizeNotifications measures what the ring sizes buy: event
// channel notifications (each a hypercall and a wakeup of the other
// domain) the guest sends to move 8 MiB to dom0, with the chosen send ring
// and with libxenvchan's in-page default.
func TestRingSizeNotifications(t *testing.T) {
	const total = 8 << 20
	measure := func(send int) uint64 {
		e := newVchanEnv(t)
		self := uint32(guestDom)
		ctx := ctxT(t)
		path := agent.AgentVchanPath(guestDom)
		srv, err := vchan.NewServer(ctx, vchan.Config{Devices: e.hv.Domain(guestDom), Store: e.guestXS, Peer: 0, Path: path, LocalDomain: &self, RecvSize: RecvRing, SendSize: send})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		host := uint32(0)
		cli, err := vchan.Dial(ctx, vchan.Config{Devices: e.hv.Domain(0), Store: e.hostXS, Peer: guestDom, Path: path, LocalDomain: &host})
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		done := make(chan struct{})
		go func() {
			// dom0 reads in 1 MiB replies' worth, as the shim does.
			buf := make([]byte, 1<<20)
			for n := 0; n < total; {
				k, err := cli.Read(buf)
				if err != nil {
					break
				}
				n += k
			}
			close(done)
		}()
		chunk := make([]byte, 1<<20)
		before := srv.Notifications()
		for n := 0; n < total; n += len(chunk) {
			if _, err := srv.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		<-done
		return srv.Notifications() - before
	}
	small, big := measure(0), measure(SendRing)
	t.Logf("guest->dom0, 8 MiB: %d notifications with the 2 KiB in-page ring, %d with %d KiB", small, big, SendRing>>10)
	if big*4 > small {
		t.Errorf("the %d KiB ring saved too little: %d vs %d notifications", SendRing>>10, big, small)
	}
}
