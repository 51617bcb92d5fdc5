package ring

import (
	"errors"
	"fmt"
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// MaxSize is the largest data area a ring may have. Keeping it at most 2^30
// leaves headroom in the uint32 index arithmetic.
const MaxSize = 1 << 30

// ErrCorrupt reports indices in shared memory that cannot be right: more bytes
// in flight than the ring holds. The peer is buggy or hostile; the ring
// should be abandoned. Errors returned for corruption satisfy
// errors.Is(err, ErrCorrupt).
var ErrCorrupt = errors.New("ring: corrupt shared indices")

// CorruptError carries the index values that were found inconsistent.
type CorruptError struct {
	Prod, Cons uint32 // the producer and consumer index as seen
	Size       uint32 // the ring's data size
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("ring: corrupt shared indices: prod %d - cons %d = %d > size %d",
		e.Prod, e.Cons, e.Prod-e.Cons, e.Size)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Index returns a pointer to the 32-bit index at byte offset off of mem,
// which is typically a mapping of a shared page. The word must lie inside mem
// and be 4-byte aligned.
func Index(mem []byte, off int) (*uint32, error) {
	if off < 0 || off > len(mem)-4 {
		return nil, fmt.Errorf("ring: index offset %d outside %d-byte area", off, len(mem))
	}
	p := unsafe.Pointer(&mem[off])
	if uintptr(p)%4 != 0 {
		return nil, fmt.Errorf("ring: index at offset %d is not 4-byte aligned", off)
	}
	return (*uint32)(p), nil
}

func checkData(data []byte) (mask uint32, err error) {
	n := len(data)
	if n == 0 || n > MaxSize || bits.OnesCount(uint(n)) != 1 {
		return 0, fmt.Errorf("ring: data area of %d bytes is not a power of two in [1, %d]", n, MaxSize)
	}
	return uint32(n - 1), nil
}

// Reader is the consumer side of a ring: the peer advances prod, we advance
// cons.
type Reader struct {
	prod *uint32 // peer's, loaded once per operation
	cons *uint32 // ours, only stored to
	data []byte
	mask uint32
	c    uint32 // private copy of our consumer index
}

// NewReader returns the consumer side of the ring whose indices are at cons
// and prod and whose data area is data (length a power of two). The current
// value of *cons is taken as the starting point; after that it is only
// written.
func NewReader(cons, prod *uint32, data []byte) (*Reader, error) {
	mask, err := checkData(data)
	if err != nil {
		return nil, err
	}
	if cons == nil || prod == nil {
		return nil, errors.New("ring: nil index")
	}
	return &Reader{prod: prod, cons: cons, data: data, mask: mask, c: atomic.LoadUint32(cons)}, nil
}

// Size returns the size of the data area in bytes.
func (r *Reader) Size() int { return len(r.data) }

// Consumed returns our consumer index (free-running).
func (r *Reader) Consumed() uint32 { return r.c }

// ready loads the peer's producer index once and returns how many bytes are
// in flight, validated.
func (r *Reader) ready() (uint32, error) {
	p := atomic.LoadUint32(r.prod)
	n := p - r.c
	if n > uint32(len(r.data)) {
		return 0, &CorruptError{Prod: p, Cons: r.c, Size: uint32(len(r.data))}
	}
	return n, nil
}

// Buffered returns the number of bytes ready to be read.
func (r *Reader) Buffered() (int, error) {
	n, err := r.ready()
	return int(n), err
}

// copyOut copies n bytes starting at our index into p.
func (r *Reader) copyOut(p []byte, n uint32) {
	off := r.c & r.mask
	first := uint32(len(r.data)) - off
	if first >= n {
		copy(p[:n], r.data[off:off+n])
		return
	}
	copy(p[:first], r.data[off:])
	copy(p[first:n], r.data[:n-first])
}

// Peek copies up to len(p) ready bytes into p without consuming them. It
// never blocks: 0, nil means the ring is empty.
func (r *Reader) Peek(p []byte) (int, error) {
	n, err := r.ready()
	if err != nil {
		return 0, err
	}
	if uint64(n) > uint64(len(p)) {
		n = uint32(len(p))
	}
	r.copyOut(p, n)
	return int(n), nil
}

// Read copies up to len(p) ready bytes into p and consumes them, publishing
// the new consumer index. It never blocks: 0, nil means the ring is empty.
// Reader is not an io.Reader; a blocking layer wraps it.
func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.ready()
	if err != nil {
		return 0, err
	}
	if uint64(n) > uint64(len(p)) {
		n = uint32(len(p))
	}
	if n == 0 {
		return 0, nil
	}
	r.copyOut(p, n)
	r.c += n
	atomic.StoreUint32(r.cons, r.c)
	return int(n), nil
}

// Discard consumes n ready bytes without copying them, typically after Peek.
// It fails, consuming nothing, if fewer than n bytes are ready.
func (r *Reader) Discard(n int) error {
	ready, err := r.ready()
	if err != nil {
		return err
	}
	if n < 0 || uint64(n) > uint64(ready) {
		return fmt.Errorf("ring: discard %d bytes with %d ready", n, ready)
	}
	if n == 0 {
		return nil
	}
	r.c += uint32(n)
	atomic.StoreUint32(r.cons, r.c)
	return nil
}

// Writer is the producer side of a ring: we advance prod, the peer advances
// cons.
type Writer struct {
	cons *uint32 // peer's, loaded once per operation
	prod *uint32 // ours, only stored to
	data []byte
	mask uint32
	p    uint32 // private copy of our producer index
}

// NewWriter returns the producer side of the ring whose indices are at cons
// and prod and whose data area is data (length a power of two). The current
// value of *prod is taken as the starting point; after that it is only
// written.
func NewWriter(cons, prod *uint32, data []byte) (*Writer, error) {
	mask, err := checkData(data)
	if err != nil {
		return nil, err
	}
	if cons == nil || prod == nil {
		return nil, errors.New("ring: nil index")
	}
	return &Writer{cons: cons, prod: prod, data: data, mask: mask, p: atomic.LoadUint32(prod)}, nil
}

// Size returns the size of the data area in bytes.
func (w *Writer) Size() int { return len(w.data) }

// Produced returns our producer index (free-running).
func (w *Writer) Produced() uint32 { return w.p }

// space loads the peer's consumer index once and returns the free space,
// validated.
func (w *Writer) space() (uint32, error) {
	c := atomic.LoadUint32(w.cons)
	used := w.p - c
	if used > uint32(len(w.data)) {
		return 0, &CorruptError{Prod: w.p, Cons: c, Size: uint32(len(w.data))}
	}
	return uint32(len(w.data)) - used, nil
}

// Free returns the number of bytes that can be written now.
func (w *Writer) Free() (int, error) {
	n, err := w.space()
	return int(n), err
}

// Write copies as much of p as fits into the ring and publishes the new
// producer index. It never blocks: it returns how many bytes were written,
// possibly fewer than len(p), and 0, nil when the ring is full. Writer is
// not an io.Writer; a blocking layer wraps it.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.space()
	if err != nil {
		return 0, err
	}
	if uint64(n) > uint64(len(p)) {
		n = uint32(len(p))
	}
	if n == 0 {
		return 0, nil
	}
	w.put(p, n)
	return int(n), nil
}

// WriteWhole copies all of p into the ring and publishes the producer index
// once, or writes nothing and returns false, nil when fewer than len(p)
// bytes are free. The peer therefore never sees part of p: protocols whose
// consumer trusts a length header once it sees the header (the Linux 9pfs
// frontend reads a whole reply as soon as its 7-byte header is there) need
// this. The peer's index is loaded once, so a hostile peer cannot make it
// publish a part either. A p longer than the ring can never fit and is an
// error; an empty p is written trivially.
func (w *Writer) WriteWhole(p []byte) (bool, error) {
	if uint64(len(p)) > uint64(len(w.data)) {
		return false, fmt.Errorf("ring: %d-byte write can never fit a %d-byte ring", len(p), len(w.data))
	}
	n, err := w.space()
	if err != nil {
		return false, err
	}
	if uint64(n) < uint64(len(p)) {
		return false, nil
	}
	if len(p) > 0 {
		w.put(p, uint32(len(p)))
	}
	return true, nil
}

// WriteWholeVec is WriteWhole for a buffer given in pieces: all of bufs,
// in order, or nothing, published with one index update. It saves
// gathering a message's header and payload into one buffer first.
func (w *Writer) WriteWholeVec(bufs [][]byte) (bool, error) {
	var total uint64
	for _, b := range bufs {
		total += uint64(len(b))
	}
	if total > uint64(len(w.data)) {
		return false, fmt.Errorf("ring: %d-byte write can never fit a %d-byte ring", total, len(w.data))
	}
	n, err := w.space()
	if err != nil {
		return false, err
	}
	if uint64(n) < total {
		return false, nil
	}
	if total == 0 {
		return true, nil
	}
	at := w.p
	for _, b := range bufs {
		w.copyAt(at, b)
		at += uint32(len(b))
	}
	w.p = at
	atomic.StoreUint32(w.prod, w.p)
	return true, nil
}

// put copies p[:n] at our index and publishes the new index. The caller
// has checked that n bytes are free.
func (w *Writer) put(p []byte, n uint32) {
	w.copyAt(w.p, p[:n])
	w.p += n
	atomic.StoreUint32(w.prod, w.p)
}

// copyAt copies p into the data area at free-running index at, wrapping
// around its end; it publishes nothing. len(p) <= the ring size.
func (w *Writer) copyAt(at uint32, p []byte) {
	n := uint32(len(p))
	off := at & w.mask
	first := uint32(len(w.data)) - off
	if first >= n {
		copy(w.data[off:off+n], p)
	} else {
		copy(w.data[off:], p[:first])
		copy(w.data[:n-first], p[first:])
	}
}
