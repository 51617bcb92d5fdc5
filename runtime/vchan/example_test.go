package vchan_test

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/vchan/vchantest"
	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

// The guest agent listens (it is the vchan server, granting its own pages)
// and dom0 dials. On real Xen, leave Devices nil and use xenstore.Dial; a
// ttrpc server would call Serve(ctx, l) instead of the Accept loop.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A fake xenstore and fake Xen devices for domains 0 and 7.
	xs := xenstoretest.New()
	defer xs.Close()
	xs.Mkdir("/local/domain/7")
	xs.SetPermissions("/local/domain/7", "n7")
	xs.Write("/local/domain/7/domid", []byte("7"))
	hv := vchantest.New()
	guestXS := xenstore.NewClient(xs.ConnAs(7))
	defer guestXS.Close()
	hostXS := xenstore.NewClient(xs.ConnAs(0))
	defer hostXS.Close()

	path := vchan.DefaultPath(7, 0, "example")

	// In the guest.
	l, err := vchan.Listen(ctx, vchan.Config{
		Devices: hv.Domain(7), Store: guestXS, Peer: 0, Path: path,
		RecvSize: 64 << 10, SendSize: 64 << 10,
	})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // echo
	}()

	// In dom0.
	c, err := vchan.Dial(ctx, vchan.Config{Devices: hv.Domain(0), Store: hostXS, Peer: 7, Path: path})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Fprint(c, "hello, guest")
	buf := make([]byte, 12)
	io.ReadFull(c, buf)
	fmt.Printf("%s via %v\n", buf, c.RemoteAddr())
	// Output: hello, guest via 7:/local/domain/7/data/vchan/0/example
}
