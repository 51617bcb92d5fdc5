package xen9pfs_test

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/runxen/runxen/runtime/vchan/vchantest"
	"github.com/runxen/runxen/runtime/xen9pfs"
	"github.com/runxen/runxen/runtime/xen9pfs/xen9pfstest"
	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

// dom0 offers a share to guest 7 before it runs; the guest (here the fake
// frontend, on Xen its kernel) connects and sends a 9P message, which the
// Handler (on Xen, a runtime/sharefs Share) answers. On real Xen, leave
// Devices nil, use xenstore.Dial, and give DomainExited a toolstack check.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A fake xenstore and fake Xen devices; domain 7's home as xl makes it.
	xs := xenstoretest.New()
	defer xs.Close()
	xs.Mkdir("/local/domain/7/device")
	xs.SetPermissions("/local/domain/7", "n0", "r7")
	xs.SetPermissions("/local/domain/7/device", "n0", "r7")
	xs.IntroduceDomain(7)
	hv := vchantest.New()
	hostXS := xenstore.NewClient(xs.Conn())
	defer hostXS.Close()
	guestXS := xenstore.NewClient(xs.ConnAs(7))
	defer guestXS.Close()

	// In dom0, while the domain is paused.
	b, err := xen9pfs.New(ctx, xen9pfs.Config{Store: hostXS, Devices: hv.Domain(0), Domain: 7})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	upper := xen9pfs.HandlerFunc(func(ctx context.Context, conn io.ReadWriteCloser) error {
		msg := make([]byte, 12)
		for {
			if _, err := io.ReadFull(conn, msg); err != nil { // a 12-byte message, as this example sends
				return nil
			}
			msg[4]++ // the reply type
			for i := 7; i < len(msg); i++ {
				msg[i] -= 'a' - 'A'
			}
			conn.Write(msg)
		}
	})
	d, err := b.Add(ctx, xen9pfs.Share{Tag: "rootfs", Handler: upper})
	if err != nil {
		panic(err)
	}

	// In the guest: mount -t 9p -o trans=xen,version=9p2000.L rootfs /mnt
	f, err := xen9pfstest.Connect(ctx, xen9pfstest.Config{Store: guestXS, Devices: hv.Domain(7), Domain: 7, DevID: d.DevID()})
	if err != nil {
		panic(err)
	}
	defer f.Close()

	if err := b.WaitConnected(ctx); err != nil {
		panic(err)
	}
	reply, err := f.RoundTrip(ctx, xen9pfstest.Msg(100, 1, []byte("hello")))
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %s\n", f.Tag(), reply[7:])
	// Output: rootfs: HELLO
}
