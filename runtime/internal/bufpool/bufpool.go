// Package bufpool owns the message buffers of the 9P stack: runtime/p9
// (request and reply messages) and runtime/xen9pfs (messages assembled off
// the ring) take them from here and give them back, so a busy connection
// reuses its buffers instead of allocating one per message, and an idle
// one holds none (sync.Pool lets the garbage collector drain them).
//
// Buffers come in power-of-two size classes from MinSize to MaxSize, one
// sync.Pool each, shared by every connection of both packages. MaxSize is
// the largest message a Xen 9pfs ring carries, the only transport runxen
// uses between dom0 and a guest; a larger buffer (p9 over another
// transport with an msize above it) is allocated and left to the GC.
//
// Written here rather than taken from a buffer-pool module: the ones we
// know pool every power of two up to gigabytes with no ceiling to set, and
// the ceiling is the point: only the sizes a ring really carries are kept
// between garbage collections. The whole thing is two short functions.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minShift = 9
	// maxShift matches a ring's data area at the largest order Xen's 9pfs
	// protocol allows (4 KiB pages << (XEN_9PFS_RING_ORDER 9 - 1)); the
	// xen9pfs tests check it still does.
	maxShift = 20

	// MinSize is the smallest class: smaller requests get a buffer of
	// this capacity.
	MinSize = 1 << minShift
	// MaxSize is the largest class; Get allocates anything larger afresh
	// and Put drops it.
	MaxSize = 1 << maxShift
)

// pools[i] holds *[]byte of capacity 1 << (minShift + i). Each Put costs
// one 24-byte allocation for the header the pointer points at; the buffer
// behind it, up to a megabyte, is what gets reused.
var pools [maxShift - minShift + 1]sync.Pool

// class returns the index of the smallest class that holds n bytes; it is
// len(pools) or more when none does.
func class(n int) int {
	if n <= MinSize {
		return 0
	}
	return bits.Len(uint(n-1)) - minShift
}

// Get returns a buffer of length n, n >= 0. Its capacity is n's size class
// when n <= MaxSize, and its contents are whatever a previous user left.
func Get(n int) []byte {
	c := class(n)
	if c >= len(pools) {
		return make([]byte, n)
	}
	if p, ok := pools[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<(minShift+c))
}

// Put gives back a buffer from Get once nothing uses it any more (nor any
// slice of it). A buffer whose capacity is not a size class (grown by
// append, larger than MaxSize, or never from Get) is left to the GC.
func Put(b []byte) {
	if c, ok := exactClass(cap(b)); ok {
		b = b[:0]
		pools[c].Put(&b)
	}
}

// exactClass returns the class whose capacity is exactly c, if any.
func exactClass(c int) (int, bool) {
	i := class(c)
	return i, i < len(pools) && c == 1<<(minShift+i)
}
