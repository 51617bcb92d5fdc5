package p9

import (
	"math/bits"
	"sync"
)

// Message buffers come from pools by power-of-two size class, shared by
// every connection, so a busy connection reuses its request and reply
// buffers instead of allocating one per message, and an idle one holds
// none.

const (
	minBufShift = 9  // 512 B
	maxBufShift = 24 // 16 MiB, above any msize we agree to
)

var bufPools [maxBufShift - minBufShift + 1]sync.Pool

func bufClass(n int) int {
	if n <= 1<<minBufShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minBufShift
}

// getBuf returns a buffer of length n.
func getBuf(n int) []byte {
	c := bufClass(n)
	if c >= len(bufPools) {
		return make([]byte, n)
	}
	if p, ok := bufPools[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<(c+minBufShift))
}

// putBuf gives back a buffer from getBuf; the caller no longer uses it.
// Buffers of other capacities (grown by append) are left to the GC.
func putBuf(b []byte) {
	c := cap(b)
	if c < 1<<minBufShift || c&(c-1) != 0 {
		return
	}
	i := bits.Len(uint(c)) - 1 - minBufShift
	if i >= len(bufPools) {
		return
	}
	b = b[:0]
	bufPools[i].Put(&b)
}
