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
		for _, op := range []string{"read", "write"} {
			b.Run(op+"-"+strconv.Itoa(size>>10)+"K", func(b *testing.B) {
				e := newClientEnv(b, nil)
				_, d, _ := e.root.Walk(nil)
				f, _, _, err := d.Create("f", p9.ReadWrite, 0o644, p9.NoGID)
				must(b, err)
				defer f.Close()
				buf := make([]byte, size)
				_, err = f.WriteAt(buf, 0)
				must(b, err)
				transfer := f.ReadAt
				if op == "write" {
					transfer = f.WriteAt
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := transfer(buf, 0); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
