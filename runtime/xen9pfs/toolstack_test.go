package xen9pfs_test

import (
	"errors"
	"testing"

	"github.com/runxen/runxen/runtime/vchan/vchantest"
	"github.com/runxen/runxen/runtime/xen"
	"github.com/runxen/runxen/runtime/xen/xentest"
	"github.com/runxen/runxen/runtime/xen9pfs"
	"github.com/runxen/runxen/runtime/xen9pfs/xen9pfstest"
	"github.com/runxen/runxen/runtime/xenstore"
	"github.com/runxen/runxen/runtime/xenstore/xenstoretest"
)

// TestToolstackExited follows a domain through the fake toolstack: created
// paused, its device added, run and connected; when it powers off (still
// known to xenstored) the device goes at once.
func TestToolstackExited(t *testing.T) {
	xs := xenstoretest.New()
	defer xs.Close()
	ts := xentest.New(xentest.WithXenstore(xs))
	ctx := ctxT(t)
	id, err := ts.Create(ctx, xen.DomainConfig{Name: "c1", Kernel: "/k", MemoryMiB: 128, VCPUs: 1})
	must(t, err)
	hv := vchantest.New()
	hostXS := xenstore.NewClient(xs.Conn())
	defer hostXS.Close()
	guestXS := xenstore.NewClient(xs.ConnAs(uint32(id)))
	defer guestXS.Close()

	b, err := xen9pfs.New(ctx, xen9pfs.Config{Store: hostXS, Devices: hv.Domain(0), Domain: uint32(id),
		DomainExited: xen9pfs.ToolstackExited(ts)})
	must(t, err)
	defer b.Close()
	d, err := b.Add(ctx, xen9pfs.Share{Tag: "rootfs", Handler: &echo{}})
	must(t, err)
	must(t, ts.Unpause(ctx, id))
	f, err := xen9pfstest.Connect(ctx, xen9pfstest.Config{Store: guestXS, Devices: hv.Domain(uint32(id)), Domain: uint32(id)})
	must(t, err)
	defer f.Close()
	must(t, d.WaitConnected(ctx))

	must(t, ts.Shutdown(id, xen.ReasonPoweroff))
	if err := waitDone(t, d); !errors.Is(err, xen9pfs.ErrDomainGone) {
		t.Fatalf("Err = %v", err)
	}
	if n := hv.Domain(0).Open(); n != 0 {
		t.Fatalf("dom0 holds %d mappings/ports of a domain that shut down", n)
	}
	must(t, ts.Destroy(ctx, id))
	if xs.Exists("/local/domain/0/backend/9pfs") || xs.Exists("/local/domain/0/backend/9pfs/1") {
		t.Fatalf("backend nodes left:\n%s", xs.Dump())
	}

	check := xen9pfs.ToolstackExited(ts)
	if gone, err := check(ctx, uint32(id)); !gone || err != nil {
		t.Fatalf("destroyed domain: exited %v, %v", gone, err)
	}
	if gone, err := check(ctx, 0); gone || err != nil {
		t.Fatalf("dom0: exited %v, %v", gone, err)
	}
}
