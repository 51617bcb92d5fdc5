package ring

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
)

// shm stands in for shared memory: cons at 0, prod at 4, data from 64.
type shm struct {
	mem  []byte
	cons *uint32
	prod *uint32
	data []byte
}

func newSHM(t testing.TB, size int) *shm {
	t.Helper()
	mem := make([]byte, 64+size)
	cons, err := Index(mem, 0)
	if err != nil {
		t.Fatal(err)
	}
	prod, err := Index(mem, 4)
	if err != nil {
		t.Fatal(err)
	}
	return &shm{mem: mem, cons: cons, prod: prod, data: mem[64:]}
}

func (s *shm) pair(t testing.TB) (*Reader, *Writer) {
	t.Helper()
	r, err := NewReader(s.cons, s.prod, s.data)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(s.cons, s.prod, s.data)
	if err != nil {
		t.Fatal(err)
	}
	return r, w
}

func TestIndex(t *testing.T) {
	mem := make([]byte, 16)
	for _, off := range []int{-4, 13, 16, 100} {
		if _, err := Index(mem, off); err == nil {
			t.Errorf("Index(%d) on 16 bytes: no error", off)
		}
	}
	if _, err := Index(mem, 2); err == nil {
		t.Error("Index at misaligned offset 2: no error")
	}
	p, err := Index(mem, 12)
	if err != nil {
		t.Fatal(err)
	}
	atomic.StoreUint32(p, 0x01020304)
	if mem[12] == 0 && mem[15] == 0 {
		t.Error("store through Index did not land in mem")
	}
}

func TestBadSizes(t *testing.T) {
	var c, p uint32
	for _, n := range []int{0, 3, 1000, 4097} {
		if _, err := NewReader(&c, &p, make([]byte, n)); err == nil {
			t.Errorf("NewReader with %d-byte data: no error", n)
		}
		if _, err := NewWriter(&c, &p, make([]byte, n)); err == nil {
			t.Errorf("NewWriter with %d-byte data: no error", n)
		}
	}
	if _, err := NewReader(nil, &p, make([]byte, 16)); err == nil {
		t.Error("nil index accepted")
	}
}

func TestEmptyFull(t *testing.T) {
	s := newSHM(t, 16)
	r, w := s.pair(t)
	buf := make([]byte, 32)
	if n, err := r.Read(buf); n != 0 || err != nil {
		t.Fatalf("empty Read = %d, %v", n, err)
	}
	n, err := w.Write(bytes.Repeat([]byte{7}, 20))
	if n != 16 || err != nil {
		t.Fatalf("Write 20 into 16 = %d, %v", n, err)
	}
	if n, err := w.Write([]byte{1}); n != 0 || err != nil {
		t.Fatalf("Write into full = %d, %v", n, err)
	}
	if f, _ := w.Free(); f != 0 {
		t.Fatalf("Free on full = %d", f)
	}
	if b, _ := r.Buffered(); b != 16 {
		t.Fatalf("Buffered on full = %d", b)
	}
	n, err = r.Read(buf)
	if n != 16 || err != nil || !bytes.Equal(buf[:16], bytes.Repeat([]byte{7}, 16)) {
		t.Fatalf("Read full = %d, %v, %v", n, err, buf[:n])
	}
}

func TestWriteWhole(t *testing.T) {
	for _, start := range []uint32{0, 13, 1<<32 - 3} {
		s := newSHM(t, 16)
		atomic.StoreUint32(s.cons, start)
		atomic.StoreUint32(s.prod, start)
		r, w := s.pair(t)
		if ok, err := w.WriteWhole([]byte("0123456789")); !ok || err != nil {
			t.Fatalf("WriteWhole 10 into empty 16 = %v, %v", ok, err)
		}
		// 6 free: a 7-byte write must leave the ring untouched.
		if ok, err := w.WriteWhole([]byte("abcdefg")); ok || err != nil {
			t.Fatalf("WriteWhole 7 into 6 free = %v, %v", ok, err)
		}
		if w.Produced() != start+10 || atomic.LoadUint32(s.prod) != start+10 {
			t.Fatalf("failed WriteWhole moved prod to %d", atomic.LoadUint32(s.prod))
		}
		if ok, err := w.WriteWhole([]byte("abcdef")); !ok || err != nil {
			t.Fatalf("WriteWhole 6 into 6 free = %v, %v", ok, err)
		}
		if ok, err := w.WriteWhole(nil); !ok || err != nil {
			t.Fatalf("WriteWhole(nil) on full = %v, %v", ok, err)
		}
		buf := make([]byte, 16)
		r.Read(buf[:8])
		// Now the free space wraps around the end of the data area.
		if ok, err := w.WriteWhole([]byte("WXYZ")); !ok || err != nil {
			t.Fatalf("WriteWhole across the end = %v, %v", ok, err)
		}
		n, _ := r.Read(buf)
		if got := string(buf[:n]); got != "89abcdefWXYZ" {
			t.Fatalf("start %d: read %q", start, got)
		}
		if _, err := w.WriteWhole(make([]byte, 17)); err == nil {
			t.Fatal("WriteWhole longer than the ring: no error")
		}
		atomic.StoreUint32(s.cons, w.Produced()+1) // hostile consumer
		if ok, err := w.WriteWhole([]byte{1}); ok || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("WriteWhole with cons ahead of prod = %v, %v", ok, err)
		}
	}
}

func TestWriteWholeVec(t *testing.T) {
	s := newSHM(t, 16)
	atomic.StoreUint32(s.cons, 1<<32-6)
	atomic.StoreUint32(s.prod, 1<<32-6)
	r, w := s.pair(t)
	w.Write([]byte("0123456789")) // the next write wraps the area and the index
	r.Read(make([]byte, 10))
	if ok, err := w.WriteWholeVec([][]byte{[]byte("ab"), nil, []byte("cdefghij"), []byte("k")}); !ok || err != nil {
		t.Fatalf("WriteWholeVec = %v, %v", ok, err)
	}
	if ok, err := w.WriteWholeVec([][]byte{[]byte("lmn"), []byte("opqrs")}); ok || err != nil {
		t.Fatalf("WriteWholeVec of 8 into 5 free = %v, %v", ok, err)
	}
	if ok, err := w.WriteWholeVec([][]byte{[]byte("lmn"), []byte("op")}); !ok || err != nil {
		t.Fatalf("WriteWholeVec of 5 into 5 free = %v, %v", ok, err)
	}
	if ok, err := w.WriteWholeVec(nil); !ok || err != nil {
		t.Fatalf("WriteWholeVec(nil) = %v, %v", ok, err)
	}
	buf := make([]byte, 16)
	n, _ := r.Read(buf)
	if got := string(buf[:n]); got != "abcdefghijklmnop" {
		t.Fatalf("read %q", got)
	}
	if _, err := w.WriteWholeVec([][]byte{make([]byte, 10), make([]byte, 7)}); err == nil {
		t.Fatal("WriteWholeVec longer than the ring: no error")
	}
	allocs := testing.AllocsPerRun(100, func() {
		v := [2][]byte{buf[:3], buf[3:7]}
		w.WriteWholeVec(v[:])
		r.Read(buf)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per WriteWholeVec", allocs)
	}
}

// TestWraparound walks the indices across both the data-area end and the
// uint32 overflow.
func TestWraparound(t *testing.T) {
	for _, start := range []uint32{0, 5, 1<<32 - 7, 1<<32 - 16, 1<<32 - 1} {
		s := newSHM(t, 16)
		atomic.StoreUint32(s.cons, start)
		atomic.StoreUint32(s.prod, start)
		r, w := s.pair(t)
		var sent, got bytes.Buffer
		rng := rand.New(rand.NewPCG(uint64(start), 1))
		buf := make([]byte, 40)
		for i := 0; i < 500; i++ {
			chunk := make([]byte, rng.IntN(20))
			for j := range chunk {
				chunk[j] = byte(rng.Uint32())
			}
			n, err := w.Write(chunk)
			if err != nil {
				t.Fatal(err)
			}
			sent.Write(chunk[:n])
			m, err := r.Read(buf[:rng.IntN(len(buf))])
			if err != nil {
				t.Fatal(err)
			}
			got.Write(buf[:m])
		}
		for {
			m, err := r.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			if m == 0 {
				break
			}
			got.Write(buf[:m])
		}
		if !bytes.Equal(sent.Bytes(), got.Bytes()) {
			t.Fatalf("start %d: data mismatch after wraparound (%d sent, %d got)", start, sent.Len(), got.Len())
		}
		if r.Consumed() != w.Produced() || atomic.LoadUint32(s.cons) != atomic.LoadUint32(s.prod) {
			t.Fatalf("indices disagree: cons %d prod %d", r.Consumed(), w.Produced())
		}
	}
}

func TestPeekDiscard(t *testing.T) {
	s := newSHM(t, 8)
	r, w := s.pair(t)
	w.Write([]byte("abcdef"))
	r.Discard(4)
	w.Write([]byte("ghij")) // wraps
	p := make([]byte, 3)
	if n, err := r.Peek(p); n != 3 || err != nil || string(p) != "efg" {
		t.Fatalf("Peek = %d, %v, %q", n, err, p)
	}
	if err := r.Discard(7); err == nil {
		t.Fatal("Discard beyond buffered: no error")
	}
	if err := r.Discard(-1); err == nil {
		t.Fatal("Discard(-1): no error")
	}
	if err := r.Discard(2); err != nil {
		t.Fatal(err)
	}
	all := make([]byte, 8)
	if n, _ := r.Read(all); string(all[:n]) != "ghij" {
		t.Fatalf("after Discard read %q", all[:n])
	}
}

func TestCorrupt(t *testing.T) {
	s := newSHM(t, 16)
	r, w := s.pair(t)
	atomic.StoreUint32(s.prod, 17) // hostile producer claims 17 bytes in a 16-byte ring
	if _, err := r.Read(make([]byte, 64)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Read with prod-cons > size: %v", err)
	}
	if _, err := r.Buffered(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Buffered: %v", err)
	}
	atomic.StoreUint32(s.prod, 0)
	atomic.StoreUint32(s.cons, 5) // hostile consumer ran ahead of our producer
	if _, err := w.Write([]byte{1}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Write with cons ahead of prod: %v", err)
	}
	var ce *CorruptError
	_, err := w.Free()
	if !errors.As(err, &ce) || ce.Cons != 5 || ce.Prod != 0 || ce.Size != 16 {
		t.Fatalf("Free: %v", err)
	}
}

// TestOwnIndexNotReadBack checks that a peer scribbling on our own index in
// shared memory does not move our view of the ring.
func TestOwnIndexNotReadBack(t *testing.T) {
	s := newSHM(t, 16)
	r, w := s.pair(t)
	w.Write([]byte("hello"))
	atomic.StoreUint32(s.cons, 1000) // peer scribbles on the reader's index
	b := make([]byte, 8)
	n, err := r.Read(b)
	if err != nil || string(b[:n]) != "hello" {
		t.Fatalf("Read = %q, %v", b[:n], err)
	}
	if atomic.LoadUint32(s.cons) != 5 {
		t.Fatalf("cons published as %d, want 5", atomic.LoadUint32(s.cons))
	}
}

// TestConcurrent streams data between two goroutines through a small ring
// and compares checksums; under -race it checks the atomics order the data.
func TestConcurrent(t *testing.T) {
	s := newSHM(t, 256)
	r, w := s.pair(t)
	const total = 4 << 20
	src := make([]byte, total)
	for i := range src {
		src[i] = byte(i*7 + i>>9)
	}
	want := sha256.Sum256(src)
	done := make(chan [32]byte)
	go func() {
		h := sha256.New()
		buf := make([]byte, 1000)
		got := 0
		for got < total {
			n, err := r.Read(buf)
			if err != nil {
				panic(err)
			}
			if n == 0 {
				runtime.Gosched()
				continue
			}
			h.Write(buf[:n])
			got += n
		}
		var sum [32]byte
		h.Sum(sum[:0])
		done <- sum
	}()
	for p := src; len(p) > 0; {
		n, err := w.Write(p[:min(len(p), 777)])
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			runtime.Gosched()
		}
		p = p[n:]
	}
	if got := <-done; got != want {
		t.Fatal("checksum mismatch")
	}
}

func TestNoAllocs(t *testing.T) {
	s := newSHM(t, 1024)
	r, w := s.pair(t)
	in := make([]byte, 300)
	out := make([]byte, 300)
	allocs := testing.AllocsPerRun(100, func() {
		w.Write(in)
		r.Read(out)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per Write+Read", allocs)
	}
}

func BenchmarkWriteRead64K(b *testing.B) {
	s := newSHM(b, 1<<16)
	r, w := s.pair(b)
	buf := make([]byte, 1<<16)
	b.SetBytes(1 << 16)
	for b.Loop() {
		w.Write(buf)
		r.Read(buf)
	}
}
