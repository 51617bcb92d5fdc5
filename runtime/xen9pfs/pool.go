package xen9pfs

import (
	"math/bits"
	"sync"
)

// Request buffers are recycled: a guest writing files sends a stream of
// messages of up to half a megabyte, and allocating each afresh would
// keep the garbage collector busy. Buffers come in power-of-two classes
// from minClass to the largest ring.
const (
	minClass = 9                              // 512 bytes
	maxClass = 12 + MaxRingPageOrderLimit - 1 // a ring's data area at the largest order
	classes  = maxClass - minClass + 1
)

var pools [classes]sync.Pool // of *[]byte with cap 1 << (minClass + i)

func class(n int) int {
	if n <= 1<<minClass {
		return 0
	}
	return bits.Len(uint(n-1)) - minClass
}

// getBuf returns a buffer of length n (at most a ring's size).
func getBuf(n int) []byte {
	c := class(n)
	if c >= classes {
		return make([]byte, n)
	}
	if p, ok := pools[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<(minClass+c))
}

// putBuf recycles a buffer from getBuf; the caller no longer uses it.
func putBuf(b []byte) {
	c := class(cap(b))
	if c >= classes || cap(b) != 1<<(minClass+c) {
		return
	}
	b = b[:0]
	pools[c].Put(&b)
}
