package ring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"testing"
)

// FuzzHostileIndices sets arbitrary indices in the stand-in shared memory
// and checks that Reader and Writer neither panic nor overrun, and report
// corruption exactly when prod-cons exceeds the size.
func FuzzHostileIndices(f *testing.F) {
	f.Add(uint8(4), uint32(0), uint32(0), uint32(3), uint16(10))
	f.Add(uint8(4), uint32(1<<32-1), uint32(15), uint32(1<<32-2), uint16(100))
	f.Add(uint8(10), uint32(5), uint32(4), uint32(7), uint16(1))
	f.Add(uint8(0), uint32(1), uint32(0), uint32(1), uint16(1))
	f.Fuzz(func(t *testing.T, order uint8, start, prod, cons uint32, blen uint16) {
		order %= 17
		size := 1 << order
		s := newSHM(t, size)
		// The Reader starts with cons = start and sees a hostile prod.
		atomic.StoreUint32(s.cons, start)
		r, err := NewReader(s.cons, s.prod, s.data)
		if err != nil {
			t.Fatal(err)
		}
		atomic.StoreUint32(s.prod, prod)
		buf := make([]byte, blen)
		n, err := r.Read(buf)
		corrupt := prod-start > uint32(size)
		if corrupt != errors.Is(err, ErrCorrupt) {
			t.Fatalf("Read: prod %d cons %d size %d: err %v", prod, start, size, err)
		}
		if err != nil && (n != 0 || r.Consumed() != start) {
			t.Fatalf("failed Read moved the ring: n %d", n)
		}
		if n < 0 || n > len(buf) || n > size || (err == nil && n != min(int(prod-start), len(buf))) {
			t.Fatalf("Read returned %d (buf %d, size %d, ready %d)", n, len(buf), size, prod-start)
		}
		if err == nil && atomic.LoadUint32(s.cons) != start+uint32(n) {
			t.Fatalf("published cons %d, want %d", atomic.LoadUint32(s.cons), start+uint32(n))
		}

		// The Writer starts with prod = start and sees a hostile cons.
		s2 := newSHM(t, size)
		atomic.StoreUint32(s2.prod, start)
		w, err := NewWriter(s2.cons, s2.prod, s2.data)
		if err != nil {
			t.Fatal(err)
		}
		atomic.StoreUint32(s2.cons, cons)
		n, err = w.Write(buf)
		corrupt = start-cons > uint32(size)
		if corrupt != errors.Is(err, ErrCorrupt) {
			t.Fatalf("Write: prod %d cons %d size %d: err %v", start, cons, size, err)
		}
		free := uint32(size) - (start - cons)
		if err == nil && n != min(int(free), len(buf)) {
			t.Fatalf("Write returned %d (buf %d, free %d)", n, len(buf), free)
		}
	})
}

// FuzzOps drives a Reader and Writer over one ring with a sequence of
// operations taken from the input, including a hostile peer rewriting the
// shared indices, and checks the bytes against a model.
func FuzzOps(f *testing.F) {
	f.Add(uint8(3), uint32(0), []byte{0, 5, 1, 3, 0, 9, 1, 20})
	f.Add(uint8(6), uint32(1<<32-10), []byte{0, 60, 1, 30, 0, 60, 2, 0, 1, 64})
	f.Add(uint8(2), uint32(7), []byte{3, 1, 2, 3, 4, 1, 4})
	f.Fuzz(func(t *testing.T, order uint8, start uint32, ops []byte) {
		order %= 13
		size := 1 << order
		s := newSHM(t, size)
		atomic.StoreUint32(s.cons, start)
		atomic.StoreUint32(s.prod, start)
		r, w := s.pair(t)
		var model bytes.Buffer // bytes written and not yet read
		hostile := false
		seq := byte(0)
		scratch := make([]byte, 2*size+8)
		for len(ops) >= 2 {
			op, arg := ops[0]%7, int(ops[1])
			ops = ops[2:]
			switch op {
			case 0: // write arg bytes
				p := scratch[:min(arg, len(scratch))]
				for i := range p {
					p[i] = seq
					seq++
				}
				n, err := w.Write(p)
				if err != nil {
					if !hostile || !errors.Is(err, ErrCorrupt) {
						t.Fatalf("Write: %v", err)
					}
					continue
				}
				if !hostile {
					if want := min(len(p), size-model.Len()); n != want {
						t.Fatalf("Write %d = %d, want %d", len(p), n, want)
					}
					model.Write(p[:n])
				}
			case 1, 2: // read or peek arg bytes
				p := scratch[:min(arg, len(scratch))]
				var n int
				var err error
				if op == 1 {
					n, err = r.Read(p)
				} else {
					n, err = r.Peek(p)
				}
				if n < 0 || n > len(p) || n > size {
					t.Fatalf("read returned %d", n)
				}
				if err != nil {
					if !hostile || !errors.Is(err, ErrCorrupt) {
						t.Fatalf("read: %v", err)
					}
					continue
				}
				if !hostile {
					want := model.Bytes()[:min(len(p), model.Len())]
					if !bytes.Equal(p[:n], want) {
						t.Fatalf("read %q, want %q", p[:n], want)
					}
					if op == 1 {
						model.Next(n)
					}
				}
			case 3: // discard
				err := r.Discard(arg % (size + 2))
				if err == nil && !hostile {
					model.Next(arg % (size + 2))
				}
				if err != nil && !hostile && arg%(size+2) <= model.Len() {
					t.Fatalf("Discard(%d) with %d buffered: %v", arg%(size+2), model.Len(), err)
				}
			case 6: // write arg bytes whole, or nothing
				p := scratch[:min(arg, len(scratch))]
				for i := range p {
					p[i] = seq
					seq++
				}
				before := w.Produced()
				var ok bool
				var err error
				if arg%2 == 0 {
					ok, err = w.WriteWhole(p)
				} else { // the same bytes in three pieces
					ok, err = w.WriteWholeVec([][]byte{p[:len(p)/3], p[len(p)/3 : len(p)/2], p[len(p)/2:]})
				}
				if len(p) > size {
					if err == nil || ok {
						t.Fatalf("WriteWhole %d into %d-byte ring = %v, %v", len(p), size, ok, err)
					}
					continue
				}
				if err != nil {
					if !hostile || !errors.Is(err, ErrCorrupt) {
						t.Fatalf("WriteWhole: %v", err)
					}
					continue
				}
				if got := w.Produced() - before; (ok && got != uint32(len(p))) || (!ok && got != 0) {
					t.Fatalf("WriteWhole %d = %v but produced %d", len(p), ok, got)
				}
				if !hostile {
					if want := len(p) <= size-model.Len(); ok != want {
						t.Fatalf("WriteWhole %d with %d free = %v", len(p), size-model.Len(), ok)
					}
					if ok {
						model.Write(p)
					}
				}
			case 4, 5: // hostile peer rewrites prod (4) or cons (5)
				if len(ops) < 4 {
					return
				}
				v := binary.LittleEndian.Uint32(ops[:4])
				ops = ops[4:]
				if op == 4 {
					atomic.StoreUint32(s.prod, v)
				} else {
					atomic.StoreUint32(s.cons, v)
				}
				hostile = true
			}
			if b, err := r.Buffered(); err == nil && (b < 0 || b > size) {
				t.Fatalf("Buffered %d outside [0,%d]", b, size)
			}
			if fr, err := w.Free(); err == nil && (fr < 0 || fr > size) {
				t.Fatalf("Free %d outside [0,%d]", fr, size)
			}
		}
	})
}
