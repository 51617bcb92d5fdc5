package xen9pfs_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/runxen/runxen/runtime/vchan"
	"github.com/runxen/runxen/runtime/xen9pfs"
	"github.com/runxen/runxen/runtime/xen9pfs/xen9pfstest"
)

// poisoning wraps dom0's devices so that unmapping overwrites the mapped
// memory with plain (non-atomic) stores. On real Xen a goroutine touching
// a page after munmap kills the process; here the race detector reports
// any access racing with the poison, so a teardown that unmaps before its
// goroutines stopped fails under -race.
type poisoning struct{ xen9pfs.Devices }

type poisoned struct{ vchan.Mapped }

func (p poisoning) Map(remote uint32, refs []uint32, writable bool) (vchan.Mapped, error) {
	m, err := p.Devices.Map(remote, refs, writable)
	if err != nil {
		return nil, err
	}
	return poisoned{m}, nil
}

func (p poisoned) Close() error {
	b := p.Bytes()
	for i := range b {
		b[i] = 0xdd
	}
	return p.Mapped.Close()
}

// TestTeardownQuiesces tears devices down while their rings are busy: a
// server blocked writing into a full in ring, requests in flight, and
// checks that nothing touches the shared memory once it is unmapped.
func TestTeardownQuiesces(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	for i := 0; i < rounds; i++ {
		e := newEnv(t, 5)
		flood := xen9pfs.HandlerFunc(func(ctx context.Context, conn io.ReadWriteCloser) error {
			go func() {
				for ctx.Err() == nil {
					if _, err := conn.Write(xen9pfstest.Msg(9, 0xffff, make([]byte, 1000))); err != nil {
						return
					}
				}
			}()
			return (&echo{}).Serve(ctx, conn)
		})
		b := e.backend(5, func(c *xen9pfs.Config) {
			c.Devices = poisoning{e.hostDev}
			c.MaxRingPageOrder = 1
		})
		d := e.add(b, "rootfs", flood)
		cfg := e.frontendConfig(5, 0)
		f, err := xen9pfstest.Connect(ctxT(t), cfg)
		must(t, err)
		// Let the rings fill, then stop the guest side (its goroutines
		// touch the memory too) and tear the backend down under load.
		f.HoldReplies(true)
		var wg sync.WaitGroup
		for tag := uint16(0); tag < 8; tag++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.RoundTrip(ctxT(t), xen9pfstest.Msg(1, tag, make([]byte, 900)))
			}()
		}
		time.Sleep(time.Duration(i%4) * time.Millisecond)
		f.Close()
		wg.Wait()
		must(t, d.Close())
		e.checkClean()
	}
}
