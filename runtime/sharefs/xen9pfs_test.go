//go:build linux

package sharefs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/p9"
	"github.com/runxen/runxen/runtime/vchan/vchantest"
	"github.com/runxen/runxen/runtime/xen9pfs"
	"github.com/runxen/runxen/runtime/xen9pfs/xen9pfstest"
	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

// A Share is what dom0 hands xen9pfs for each device.
var _ xen9pfs.Handler = (*Share)(nil)

// TestServeBehindXen9pfs serves a share through the Xen 9pfs backend to the
// fake Linux frontend over the in-process Xen fakes (grants, event
// channels, xenstore), and drives it with the p9 client as a guest's v9fs
// would: requests on ring tag % 2, replies read as soon as their header is
// there, msize bounded by the rings.
func TestServeBehindXen9pfs(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	const guest = 7

	xs := xenstoretest.New()
	defer xs.Close()
	must(t, xs.Mkdir("/local/domain/7/device"))
	must(t, xs.SetPermissions("/local/domain/7", "n0", "r7"))
	must(t, xs.SetPermissions("/local/domain/7/device", "n0", "r7"))
	xs.IntroduceDomain(guest)
	hv := vchantest.New()
	hostXS := xenstore.NewClient(xs.Conn())
	defer hostXS.Close()
	guestXS := xenstore.NewClient(xs.ConnAs(guest))
	defer guestXS.Close()

	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "image-file"), []byte("from the image"), 0o644))
	share, err := New(Config{Dir: dir})
	must(t, err)
	defer share.Close()

	backend, err := xen9pfs.New(ctx, xen9pfs.Config{Store: hostXS, Devices: hv.Domain(0), Domain: guest})
	must(t, err)
	defer backend.Close()
	dev, err := backend.Add(ctx, xen9pfs.Share{Tag: "rootfs", Handler: share})
	must(t, err)
	front, err := xen9pfstest.Connect(ctx, xen9pfstest.Config{Store: guestXS, Devices: hv.Domain(guest), Domain: guest, DevID: dev.DevID()})
	must(t, err)
	defer front.Close()
	must(t, backend.WaitConnected(ctx))

	conn := newFrontendConn(ctx, front)
	client, err := p9.NewClient(conn, p9.WithMessageSize(4<<20)) // more than any ring carries
	must(t, err)
	if m := client.MessageSize(); m > DefaultMaxMessageSize || m < p9.MinMessageSize {
		t.Fatalf("msize %d over Xen rings", m)
	}
	t.Logf("msize over the rings: %d", client.MessageSize())
	root, err := client.Attach("")
	must(t, err)

	// What a container does to its root file system.
	_, img, err := root.Walk([]string{"image-file"})
	must(t, err)
	_, _, err = img.Open(p9.ReadOnly)
	must(t, err)
	got := make([]byte, 100)
	n, err := img.ReadAt(got, 0)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	if string(got[:n]) != "from the image" {
		t.Fatalf("read %q", got[:n])
	}
	must(t, img.Close())

	_, err = root.Mkdir("data", 0o750, p9.NoGID)
	must(t, err)
	_, d, err := root.Walk([]string{"data"})
	must(t, err)
	f, _, _, err := d.Create("blob", p9.ReadWrite, 0o4755, p9.NoGID)
	must(t, err)
	hostBlob := filepath.Join(dir, "data", "blob")
	if st := lstat(t, hostBlob); st.Mode != unix.S_IFREG|0o4755 {
		t.Fatalf("host mode %o, want the setuid bit too", st.Mode)
	}
	blob := bytes.Repeat([]byte("xen9pfs!"), 200<<10) // 1.6 MiB: many messages on both rings
	n, err = f.WriteAt(blob, 0)
	must(t, err)
	if n != len(blob) {
		t.Fatalf("wrote %d", n)
	}
	back := make([]byte, len(blob))
	n, err = f.ReadAt(back, 0)
	if (err != nil && err != io.EOF) || n != len(blob) || !bytes.Equal(back, blob) {
		t.Fatalf("read back %d bytes, %v", n, err)
	}
	must(t, f.FSync(false))
	must(t, f.SetXattr("user.origin", []byte("guest"), 0))
	must(t, f.Close())

	// Concurrent requests: tags spread over both rings.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, g, err := root.Walk([]string{"data", "blob"})
			if err == nil {
				_, _, _, err = g.GetAttr(p9.AttrBasic)
				g.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	must(t, share.Sync(ctx))

	// The host sees it all, exactly.
	b, err := os.ReadFile(hostBlob)
	must(t, err)
	if !bytes.Equal(b, blob) {
		t.Fatalf("host file has %d bytes", len(b))
	}
	val := make([]byte, 16)
	vn, err := unix.Getxattr(hostBlob, "user.origin", val)
	must(t, err)
	if string(val[:vn]) != "guest" {
		t.Fatalf("host xattr %q", val[:vn])
	}
	_, err = root.GetXattr("user.none")
	if !errors.Is(err, unix.ENODATA) {
		t.Fatalf("missing xattr: %v, want ENODATA", err)
	}

	// The guest shuts down: the device closes, the share's session ends.
	d.Close()
	root.Close()
	client.Close()
	must(t, front.Shutdown(ctx))
	select {
	case <-dev.Done():
	case <-ctx.Done():
		t.Fatal("device not torn down")
	}
	if err := front.Err(); err != nil {
		t.Fatalf("the backend broke the transport: %v", err)
	}
}

// frontendConn is the guest side of a xen9pfs device as the byte stream a
// p9.Client wants: each message written goes out through RoundTrip (on
// ring tag % 2, as Linux sends it) and its reply is queued for Read.
type frontendConn struct {
	ctx     context.Context
	cancel  context.CancelFunc
	f       *xen9pfstest.Frontend
	replies chan []byte
	cur     []byte // the reply being read; only Read touches it
}

func newFrontendConn(ctx context.Context, f *xen9pfstest.Frontend) *frontendConn {
	ctx, cancel := context.WithCancel(ctx)
	return &frontendConn{ctx: ctx, cancel: cancel, f: f, replies: make(chan []byte, 64)}
}

// Write takes one whole message, as p9.Client writes them.
func (c *frontendConn) Write(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	msg := bytes.Clone(b)
	go func() {
		reply, err := c.f.RoundTrip(c.ctx, msg)
		if err != nil {
			c.cancel()
			return
		}
		select {
		case c.replies <- reply:
		case <-c.ctx.Done():
		}
	}()
	return len(b), nil
}

func (c *frontendConn) Read(p []byte) (int, error) {
	if len(c.cur) == 0 {
		select {
		case c.cur = <-c.replies:
		case <-c.ctx.Done():
			return 0, io.EOF
		}
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

func (c *frontendConn) Close() error {
	c.cancel()
	return nil
}
