//go:build linux

package sharefs

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runxen/runxen/runtime/p9"
)

// Benchmarks: the server through an in-process client over a unix socket
// pair (real kernel copies, like a transport would do) against the same
// operations done directly with system calls on the same directory. The
// difference is the cost of 9P (encoding, two copies, one round trip per
// operation) plus the file server's checks.
//
//	go test -run '^$' -bench . -benchtime 2s ./runtime/sharefs/

// benchChunk is one Tread or Twrite: half the Xen msize, so one request each.
const benchChunk = 256 << 10

func benchEnv(b *testing.B) (dir string, client *p9.Client, root p9.File) {
	b.Helper()
	dir = b.TempDir()
	share, err := New(Config{Dir: dir})
	must(b, err)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	must(b, err)
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		conns[i], err = net.FileConn(f)
		f.Close()
		must(b, err)
	}
	done := make(chan error, 1)
	go func() { done <- share.Serve(context.Background(), conns[0]) }()
	client, err = p9.NewClient(conns[1], p9.WithMessageSize(DefaultMaxMessageSize))
	must(b, err)
	root, err = client.Attach("")
	must(b, err)
	b.Cleanup(func() {
		root.Close()
		client.Close()
		<-done
		share.Close()
	})
	return dir, client, root
}

func BenchmarkSequentialRead(b *testing.B) {
	const size = 64 << 20
	buf := make([]byte, benchChunk)
	b.Run("9p", func(b *testing.B) {
		dir, _, root := benchEnv(b)
		must(b, os.WriteFile(filepath.Join(dir, "f"), make([]byte, size), 0o644))
		_, f, err := root.Walk([]string{"f"})
		must(b, err)
		_, _, err = f.Open(p9.ReadOnly)
		must(b, err)
		b.SetBytes(benchChunk)
		b.ResetTimer()
		for i := range b.N {
			if _, err := f.ReadAt(buf, int64(i*benchChunk)%size); err != nil && err != io.EOF {
				b.Fatal(err)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		dir := b.TempDir()
		must(b, os.WriteFile(filepath.Join(dir, "f"), make([]byte, size), 0o644))
		f, err := os.Open(filepath.Join(dir, "f"))
		must(b, err)
		defer f.Close()
		b.SetBytes(benchChunk)
		b.ResetTimer()
		for i := range b.N {
			if _, err := f.ReadAt(buf, int64(i*benchChunk)%size); err != nil && err != io.EOF {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSequentialWrite(b *testing.B) {
	const size = 64 << 20 // wraps around, so the file never grows past it
	buf := make([]byte, benchChunk)
	b.Run("9p", func(b *testing.B) {
		_, _, root := benchEnv(b)
		_, d, err := root.Walk(nil)
		must(b, err)
		f, _, _, err := d.Create("f", p9.WriteOnly, 0o644, p9.NoGID)
		must(b, err)
		b.SetBytes(benchChunk)
		b.ResetTimer()
		for i := range b.N {
			if _, err := f.WriteAt(buf, int64(i*benchChunk)%size); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "f"))
		must(b, err)
		defer f.Close()
		b.SetBytes(benchChunk)
		b.ResetTimer()
		for i := range b.N {
			if _, err := f.WriteAt(buf, int64(i*benchChunk)%size); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSmallFiles: one op is create (and close), stat (walk, getattr,
// clunk) and unlink of an empty file; the files/s metric counts those
// triples.
func BenchmarkSmallFiles(b *testing.B) {
	b.Run("9p", func(b *testing.B) {
		_, _, root := benchEnv(b)
		b.ResetTimer()
		for i := range b.N {
			name := fmt.Sprintf("f%d", i)
			_, d, err := root.Walk(nil)
			must(b, err)
			f, _, _, err := d.Create(name, p9.WriteOnly, 0o644, p9.NoGID)
			must(b, err)
			f.Close()
			_, g, err := root.Walk([]string{name})
			must(b, err)
			if _, _, _, err := g.GetAttr(p9.AttrAll); err != nil {
				b.Fatal(err)
			}
			g.Close()
			must(b, root.UnlinkAt(name, 0))
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
	})
	b.Run("direct", func(b *testing.B) {
		dir, err := unix.Open(b.TempDir(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		must(b, err)
		defer unix.Close(dir)
		b.ResetTimer()
		var st unix.Stat_t
		for i := range b.N {
			name := fmt.Sprintf("f%d", i)
			fd, err := unix.Openat(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
			must(b, err)
			unix.Close(fd)
			must(b, unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW))
			must(b, unix.Unlinkat(dir, name, 0))
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
	})
}

// BenchmarkIdleShareMemory measures what an idle share costs the host: a
// Share plus one connection that negotiated the Xen msize and attached,
// then went quiet, as a guest's mount does between bursts. Each iteration
// builds a batch of them; the metrics are per share: Go heap bytes (after
// GC), goroutines and host descriptors.
func BenchmarkIdleShareMemory(b *testing.B) {
	const batch = 64
	var heap, goroutines, fds float64
	for range b.N {
		dirs := make([]string, batch)
		for i := range dirs {
			dirs[i] = b.TempDir()
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g0 := runtime.NumGoroutine()
		fd0 := openFDs(b)

		var shares []*Share
		var conns []net.Conn
		for _, dir := range dirs {
			share, err := New(Config{Dir: dir})
			must(b, err)
			srv, cli := net.Pipe()
			go share.Serve(context.Background(), srv)
			idleHandshake(b, cli)
			shares = append(shares, share)
			conns = append(conns, cli)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap += float64(after.HeapAlloc-before.HeapAlloc) / batch
		goroutines += float64(runtime.NumGoroutine()-g0) / batch
		fds += float64(openFDs(b)-fd0) / batch

		for i := range shares {
			conns[i].Close()
			shares[i].Close()
		}
	}
	b.ReportMetric(heap/float64(b.N), "heapB/share")
	b.ReportMetric(goroutines/float64(b.N), "goroutines/share")
	b.ReportMetric(fds/float64(b.N), "fds/share")
}

// idleHandshake does Tversion (512 KiB) and Tattach on a raw connection,
// reading the replies synchronously, so no client goroutine or buffer is
// counted.
func idleHandshake(b *testing.B, c net.Conn) {
	b.Helper()
	buf := make([]byte, 64)
	for _, m := range [][]byte{versionMsg(DefaultMaxMessageSize, "9P2000.L"), attachMsg(1, 0)} {
		if _, err := c.Write(m); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf[:7]); err != nil {
			b.Fatal(err)
		}
		n := int(buf[0]) | int(buf[1])<<8
		if _, err := io.ReadFull(c, buf[:n-7]); err != nil {
			b.Fatal(err)
		}
	}
}
