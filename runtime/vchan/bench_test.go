package vchan_test

import (
	"io"
	"testing"
)

// BenchmarkStream measures one-way throughput with 64 KiB writes.
func BenchmarkStream(b *testing.B) {
	for _, sz := range []struct {
		name string
		size int
	}{{"ring2K", 0}, {"ring64K", 64 << 10}, {"ring1M", 1 << 20}} {
		b.Run(sz.name, func(b *testing.B) {
			e := newEnv(b)
			srv, cli := e.pair(sz.size, sz.size)
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			done := make(chan error)
			go func() {
				_, err := io.CopyBuffer(io.Discard, io.LimitReader(cli, int64(b.N)*int64(len(buf))), make([]byte, 64<<10))
				done <- err
			}()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := srv.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(srv.Notifications()+cli.Notifications())/float64(b.N), "events/op")
		})
	}
}

// BenchmarkPingPong measures the round trip of a small message, the shape
// of a ttrpc call.
func BenchmarkPingPong(b *testing.B) {
	e := newEnv(b)
	srv, cli := e.pair(64<<10, 64<<10)
	go func() {
		buf := make([]byte, 128)
		for {
			if _, err := io.ReadFull(srv, buf); err != nil {
				return
			}
			if _, err := srv.Write(buf); err != nil {
				return
			}
		}
	}()
	msg := make([]byte, 128)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := cli.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(cli, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNoAllocs: Read and Write allocate nothing once data flows.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	e := newEnv(t)
	srv, cli := e.pair(64<<10, 64<<10)
	buf := make([]byte, 4096)
	allocs := testing.AllocsPerRun(200, func() {
		cli.Write(buf)
		io.ReadFull(srv, buf)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per Write+Read", allocs)
	}
}
