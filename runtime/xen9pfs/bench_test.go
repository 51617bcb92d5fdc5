package xen9pfs_test

import (
	"fmt"
	"testing"

	"github.com/runxen/runxen/runtime/xen9pfs/xen9pfstest"
)

// BenchmarkRoundTrip measures a request and its same-size reply through
// the backend and the fake frontend (whose byte-at-a-time ring copies
// dominate: the numbers compare backend changes, they are not Xen's).
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{64, 4 << 10, 64 << 10} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			e := newEnv(b, 5)
			be := e.backend(5, nil)
			d := e.add(be, "rootfs", &echo{})
			f := e.connect(5, 0, nil)
			ctx := ctxT(b)
			must(b, d.WaitConnected(ctx))
			msg := xen9pfstest.Msg(1, 0, make([]byte, size-7))
			b.SetBytes(int64(2 * size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.RoundTrip(ctx, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
