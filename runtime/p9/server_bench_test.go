package p9_test

import (
	"strconv"
	"testing"

	"github.com/runxen/runxen/runtime/p9"
)

// BenchmarkServerRoundTrip measures the server loop and the client over an
// in-memory pipe and file system: what 9P costs before any system call.
func BenchmarkServerRoundTrip(b *testing.B) {
	b.Run("getattr", func(b *testing.B) {
		e := newClientEnv(b, nil)
		b.ReportAllocs()
		for b.Loop() {
			if _, _, _, err := e.root.GetAttr(p9.AttrBasic); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("walk-clunk", func(b *testing.B) {
		e := newClientEnv(b, nil)
		_, err := e.root.Mkdir("d", 0o755, p9.NoGID)
		must(b, err)
		b.ReportAllocs()
		for b.Loop() {
			_, f, err := e.root.Walk([]string{"d"})
			if err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	for _, size := range []int{4 << 10, 60 << 10} {
		b.Run("read-"+sizeName(size), func(b *testing.B) {
			e := newClientEnv(b, nil)
			_, d, _ := e.root.Walk(nil)
			f, _, _, err := d.Create("f", p9.ReadWrite, 0o644, p9.NoGID)
			must(b, err)
			buf := make([]byte, size)
			_, err = f.WriteAt(buf, 0)
			must(b, err)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.ReadAt(buf, 0); err != nil {
					b.Fatal(err)
				}
			}
			f.Close()
		})
		b.Run("write-"+sizeName(size), func(b *testing.B) {
			e := newClientEnv(b, nil)
			_, d, _ := e.root.Walk(nil)
			f, _, _, err := d.Create("f", p9.ReadWrite, 0o644, p9.NoGID)
			must(b, err)
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.WriteAt(buf, 0); err != nil {
					b.Fatal(err)
				}
			}
			f.Close()
		})
	}
}

func sizeName(n int) string {
	if n%1024 == 0 {
		return strconv.Itoa(n/1024) + "K"
	}
	return strconv.Itoa(n)
}
