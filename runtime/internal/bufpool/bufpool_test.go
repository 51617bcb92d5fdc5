package bufpool

import (
	"strconv"
	"testing"
)

func TestGet(t *testing.T) {
	for _, c := range []struct {
		n, cap int
	}{
		{0, MinSize},
		{1, MinSize},
		{MinSize - 1, MinSize},
		{MinSize, MinSize},
		{MinSize + 1, 2 * MinSize},
		{4096, 4096},
		{4097, 8192},
		{64<<10 + 11, 128 << 10},
		{512 << 10, 512 << 10},
		{MaxSize - 1, MaxSize},
		{MaxSize, MaxSize},
		{MaxSize + 1, MaxSize + 1}, // beyond the classes: exactly what was asked
		{16 << 20, 16 << 20},
	} {
		// Twice: a fresh buffer, then (most likely) the one just put back.
		for range 2 {
			b := Get(c.n)
			if len(b) != c.n || cap(b) != c.cap {
				t.Fatalf("Get(%d): len %d cap %d, want len %d cap %d", c.n, len(b), cap(b), c.n, c.cap)
			}
			Put(b)
		}
	}
}

func TestExactClass(t *testing.T) {
	for _, c := range []struct {
		cap   int
		class int
		ok    bool
	}{
		{0, 0, false},
		{1, 0, false},
		{MinSize - 1, 0, false},
		{MinSize, 0, true},
		{MinSize + 1, 0, false},
		{1000, 0, false},
		{1024, 1, true},
		{6144, 0, false}, // what append grows a 4 KiB buffer to
		{4096, 3, true},
		{MaxSize / 2, len(pools) - 2, true},
		{MaxSize, len(pools) - 1, true},
		{MaxSize + 1, 0, false},
		{2 * MaxSize, 0, false},
	} {
		i, ok := exactClass(c.cap)
		if ok != c.ok || ok && i != c.class {
			t.Errorf("exactClass(%d) = %d, %v; want %d, %v", c.cap, i, ok, c.class, c.ok)
		}
	}
}

func TestPutReuses(t *testing.T) {
	// sync.Pool may drop any Put (a quarter of them under -race), so try
	// a few times before calling reuse broken.
	for range 100 {
		b := Get(1000)
		Put(b)
		if r := Get(700); cap(r) == 1024 && &r[0] == &b[0] {
			return
		}
	}
	t.Fatal("a buffer put back was never handed out again")
}

func TestPutDropsForeign(t *testing.T) {
	for range 100 {
		b := make([]byte, 100, 1000) // not a class: must not reach a pool
		Put(b)
		if r := Get(1000); &r[0] == &b[0] {
			t.Fatal("a buffer of capacity 1000 was pooled")
		}
	}
}

func BenchmarkGetPut(b *testing.B) {
	for _, n := range []int{MinSize, 8 << 10, 512 << 10} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					buf := Get(n)
					buf[0] = 1
					Put(buf)
				}
			})
		})
	}
}
