package xen9pfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/runxen/runxen/runtime/internal/bufpool"
	"github.com/runxen/runxen/runtime/ring"
)

// shm stands in for a ring's shared memory: cons at 0, prod at 4, data
// from 64.
type shm struct {
	cons, prod *uint32
	data       []byte
}

func newSHM(t testing.TB, size int, start uint32) *shm {
	mem := make([]byte, 64+size)
	cons, err := ring.Index(mem, 0)
	if err != nil {
		t.Fatal(err)
	}
	prod, _ := ring.Index(mem, 4)
	atomic.StoreUint32(cons, start)
	atomic.StoreUint32(prod, start)
	return &shm{cons: cons, prod: prod, data: mem[64:]}
}

// produce writes as much of p as fits, as a frontend would, and returns
// how much.
func (s *shm) produce(p []byte) int {
	size := uint32(len(s.data))
	cons, prod := atomic.LoadUint32(s.cons), atomic.LoadUint32(s.prod)
	free := int(size - (prod - cons))
	n := min(free, len(p))
	for i := 0; i < n; i++ {
		s.data[(prod+uint32(i))&(size-1)] = p[i]
	}
	atomic.StoreUint32(s.prod, prod+uint32(n))
	return n
}

// FuzzMsgReader feeds a request ring the way a frontend, honest or not,
// might: a byte stream (valid messages, bad size fields, anything)
// written in arbitrary pieces, with the producer index sometimes
// overwritten. The reader must never panic, must return exactly the
// messages of the stream while the indices are sane, must reject a size
// field out of [7, ring size] with ErrProtocol and impossible indices with
// ring.ErrCorrupt.
func FuzzMsgReader(f *testing.F) {
	msg := func(size uint32, fill byte) []byte {
		m := bytes.Repeat([]byte{fill}, int(max(size, 7)))
		binary.LittleEndian.PutUint32(m, size)
		return m
	}
	valid := append(append(msg(7, 1), msg(20, 2)...), msg(64, 3)...)
	f.Add(uint8(6), uint32(0), valid, []byte{10, 3, 50, 0})
	f.Add(uint8(4), uint32(1<<32-9), append(msg(16, 4), msg(9, 5)...), []byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	f.Add(uint8(5), uint32(3), append(msg(7, 1), msg(6, 0)...), []byte{30})
	f.Add(uint8(5), uint32(3), msg(33, 0), []byte{32, 32})
	f.Add(uint8(3), uint32(0), valid, []byte{255, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, order uint8, start uint32, stream, chunks []byte) {
		size := 1 << (3 + order%10) // 8 B .. 4 KiB
		s := newSHM(t, size, start)
		rd, err := ring.NewReader(s.cons, s.prod, s.data)
		if err != nil {
			t.Fatal(err)
		}
		mr := msgReader{rd: rd, max: size}
		// The model: the messages the stream frames into, up to the
		// first bad size field.
		var want [][]byte
		badAt := -1
		for off := 0; off+4 <= len(stream); {
			n := int(binary.LittleEndian.Uint32(stream[off:]))
			if n < hdrSize || n > size {
				if off+hdrSize <= len(stream) {
					badAt = len(want)
				}
				break
			}
			if off+n > len(stream) {
				break
			}
			want = append(want, stream[off:off+n])
			off += n
		}
		var got [][]byte
		hostile := false
		for len(chunks) > 0 {
			c := int(chunks[0])
			chunks = chunks[1:]
			if c == 255 && len(chunks) >= 4 { // overwrite prod
				atomic.StoreUint32(s.prod, binary.LittleEndian.Uint32(chunks))
				chunks = chunks[4:]
				hostile = true
			} else if c > 0 {
				n := s.produce(stream[:min(c, len(stream))])
				stream = stream[n:]
			}
			for {
				m, consumed, err := mr.next()
				if consumed < 0 || consumed > size {
					t.Fatalf("consumed %d of a %d-byte ring", consumed, size)
				}
				if err != nil {
					switch {
					case errors.Is(err, ring.ErrCorrupt):
						if !hostile {
							t.Fatalf("corrupt without a hostile index: %v", err)
						}
					case errors.Is(err, ErrProtocol):
						if !hostile && badAt != len(got) {
							t.Fatalf("protocol error after %d messages, model says %d: %v", len(got), badAt, err)
						}
					default:
						t.Fatalf("unexpected error %v", err)
					}
					return
				}
				if m == nil {
					break
				}
				if len(m) < hdrSize || len(m) > size || int(msgSize(m)) != len(m) {
					t.Fatalf("message of %d bytes with size field %d", len(m), msgSize(m))
				}
				if !hostile {
					if len(got) >= len(want) || !bytes.Equal(m, want[len(got)]) {
						t.Fatalf("message %d = %x, want one of %d", len(got), m, len(want))
					}
				}
				got = append(got, m)
			}
		}
	})
}

// FuzzParseFrontend hands the xenstore parser arbitrary values for the
// frontend's nodes: it must never panic, and what it accepts must be
// exactly the canonical decimal values within bounds.
func FuzzParseFrontend(f *testing.F) {
	f.Add("1", "2", "8|10|9|11", uint8(2))
	f.Add("1", "1", "8|4294967295", uint8(4))
	f.Add("2", "2", "8|10|9|11", uint8(2))
	f.Add("1", "3", "8|10|9|11|1|1", uint8(2))
	f.Add("1", "02", "08|10", uint8(2))
	f.Add("1", "1", "8|-1", uint8(1))
	f.Fuzz(func(t *testing.T, version, numRings, refsPorts string, maxRings uint8) {
		max := int(maxRings%MaxRingsLimit) + 1
		vals := map[string][]byte{"version": []byte(version), "num-rings": []byte(numRings)}
		parts := strings.Split(refsPorts, "|")
		for i := 0; i+1 < len(parts); i += 2 {
			vals["ring-ref"+strconv.Itoa(i/2)] = []byte(parts[i])
			vals["event-channel-"+strconv.Itoa(i/2)] = []byte(parts[i+1])
		}
		p, err := parseFrontend(func(k string) ([]byte, bool) { v, ok := vals[k]; return v, ok }, max)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error not wrapping ErrProtocol: %v", err)
			}
			return
		}
		if version != "1" || len(p.Rings) < 1 || len(p.Rings) > max || numRings != strconv.Itoa(len(p.Rings)) {
			t.Fatalf("accepted version %q num-rings %q as %d rings (max %d)", version, numRings, len(p.Rings), max)
		}
		for i, r := range p.Rings {
			if r.Ref == 0 || r.Port == 0 {
				t.Fatalf("ring %d: zero accepted", i)
			}
			if parts[2*i] != strconv.FormatUint(uint64(r.Ref), 10) || parts[2*i+1] != strconv.FormatUint(uint64(r.Port), 10) {
				t.Fatalf("ring %d: %q|%q read as %d|%d", i, parts[2*i], parts[2*i+1], r.Ref, r.Port)
			}
		}
	})
}

// FuzzParseIntf hands the interface page parser arbitrary page contents.
func FuzzParseIntf(f *testing.F) {
	page := make([]byte, 4096)
	binary.NativeEndian.PutUint32(page[128:], 2)
	for i := 0; i < 4; i++ {
		binary.NativeEndian.PutUint32(page[132+4*i:], uint32(100+i))
	}
	f.Add(page[:160], uint8(8))
	f.Add([]byte{}, uint8(1))
	f.Fuzz(func(t *testing.T, content []byte, maxOrder uint8) {
		max := int(maxOrder%MaxRingPageOrderLimit) + 1
		p := make([]byte, 4096+4) // room to misalign
		copy(p, content)
		order, refs, err := parseIntf(p[:4096], max)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error not wrapping ErrProtocol: %v", err)
			}
			return
		}
		if order < 1 || order > max || len(refs) != 1<<order || uint32(order) != binary.NativeEndian.Uint32(p[128:]) {
			t.Fatalf("accepted order %d (max %d), %d refs", order, max, len(refs))
		}
		for i, r := range refs {
			if r == 0 || r != binary.NativeEndian.Uint32(p[132+4*i:]) {
				t.Fatalf("ref %d = %d", i, r)
			}
		}
	})
}

// FuzzFramer cuts a reply stream written in arbitrary pieces: whatever
// the pieces, the messages emitted are the stream's, whole and in order,
// and a bad size field is refused.
func FuzzFramer(f *testing.F) {
	m := func(size uint32) []byte {
		b := make([]byte, max(size, 4))
		binary.LittleEndian.PutUint32(b, size)
		for i := 4; i < len(b); i++ {
			b[i] = byte(i)
		}
		return b
	}
	f.Add(append(append(m(7), m(100)...), m(30)...), []byte{1, 2, 3, 50, 200}, uint16(128))
	f.Add(append(m(7), m(3)...), []byte{5, 5, 5}, uint16(64))
	f.Add(m(200), []byte{200}, uint16(100))
	f.Fuzz(func(t *testing.T, stream, cuts []byte, maxSize uint16) {
		fr := framer{max: int(maxSize%4096) + hdrSize}
		var want [][]byte
		bad := false
		for off := 0; off+4 <= len(stream); {
			n := int(binary.LittleEndian.Uint32(stream[off:]))
			if n < hdrSize || n > fr.max {
				bad = true
				break
			}
			if off+n > len(stream) {
				break
			}
			want = append(want, stream[off:off+n])
			off += n
		}
		var got [][]byte
		emit := func(msg []byte) error {
			got = append(got, append([]byte(nil), msg...))
			return nil
		}
		for len(stream) > 0 {
			c := len(stream)
			if len(cuts) > 0 {
				c = min(int(cuts[0])+1, len(stream))
				cuts = cuts[1:]
			}
			n, err := fr.feed(stream[:c], emit)
			if err != nil {
				if !errors.Is(err, errMessageSize) || !bad {
					t.Fatalf("feed: %v (model bad %v)", err, bad)
				}
				break
			}
			if n != c {
				t.Fatalf("feed took %d of %d without error", n, c)
			}
			stream = stream[c:]
		}
		if len(got) > len(want) {
			t.Fatalf("%d messages emitted, stream holds %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("message %d differs", i)
			}
		}
		if !bad && len(got) != len(want) {
			t.Fatalf("%d of %d messages emitted", len(got), len(want))
		}
	})
}

// Messages are assembled in pooled buffers: the largest a ring carries
// must have a size class of its own, or every big write from a guest
// allocates afresh (and a larger class would pool sizes never used).
func TestRingFitsBufferPool(t *testing.T) {
	if got := ringBytes(MaxRingPageOrderLimit); got != bufpool.MaxSize {
		t.Fatalf("a ring of order %d carries %d bytes; bufpool.MaxSize is %d", MaxRingPageOrderLimit, got, bufpool.MaxSize)
	}
}
