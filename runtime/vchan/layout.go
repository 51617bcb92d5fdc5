package vchan

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// The shared page (libxenvchan's struct vchan_interface).
const (
	pageSize = 4096

	offLeftCons  = 0  // left ring: client writes, server reads
	offLeftProd  = 4  //
	offRightCons = 8  // right ring: server writes, client reads
	offRightProd = 12 //
	offOrders    = 16 // u16 left_order, u16 right_order
	offWord      = 20 // u8 cli_live, srv_live, cli_notify, srv_notify
	offCliLive   = 20
	offSrvLive   = 21
	offGrants    = 24 // u32 grant refs: left's, then right's

	smallOrder  = 10 // ring inside the page at 1024
	largeOrder  = 11 // ring inside the page at 2048
	smallOffset = 1024
	largeOffset = 2048
	pageOrder   = 12
	// MaxOrder is the largest ring order: 2^20 bytes per direction.
	MaxOrder = 20

	notifyWrite = 0x1 // VCHAN_NOTIFY_WRITE: wake me when you write
	notifyRead  = 0x2 // VCHAN_NOTIFY_READ: wake me when you read

	liveClosed  = 0
	liveOpen    = 1
	liveWaiting = 2 // the client has not connected yet
)

// MaxRingSize is the largest ring size, per direction.
const MaxRingSize = 1 << MaxOrder

// Byte indices within the word at offWord.
const (
	byteCliLive   = 0
	byteSrvLive   = 1
	byteCliNotify = 2
	byteSrvNotify = 3
)

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// shiftOf returns the bit shift of byte b (0..3) of the word at offWord.
func shiftOf(b int) uint {
	if littleEndian {
		return uint(8 * b)
	}
	return uint(8 * (3 - b))
}

// word returns the aligned 32-bit word at off of page.
func word(page []byte, off int) *uint32 {
	p := unsafe.Pointer(&page[off])
	if uintptr(p)%4 != 0 {
		panic("vchan: shared page is not 4-byte aligned")
	}
	return (*uint32)(p)
}

func loadByte(w *uint32, shift uint) uint8 { return uint8(atomic.LoadUint32(w) >> shift) }

// storeByte sets one byte of *w without disturbing the other three, which
// the peer may be changing at the same moment.
func storeByte(w *uint32, shift uint, v uint8) {
	for {
		old := atomic.LoadUint32(w)
		nw := old&^(0xff<<shift) | uint32(v)<<shift
		if atomic.CompareAndSwapUint32(w, old, nw) {
			return
		}
	}
}

// orderFor returns the smallest order >= 12 whose ring holds size bytes.
func orderFor(size int) int {
	o := pageOrder
	for 1<<o < size {
		o++
	}
	return o
}

// chooseOrders picks ring orders for a server that wants to receive at
// least left bytes and send at least right bytes in flight, preferring the
// rings inside the shared page when they are big enough (as libxenvchan
// does: one grant instead of several).
func chooseOrders(left, right int) (lo, ro int, err error) {
	if left < 0 || right < 0 || left > MaxRingSize || right > MaxRingSize {
		return 0, 0, fmt.Errorf("vchan: ring sizes %d and %d: want 0 to %d", left, right, MaxRingSize)
	}
	lo, ro = orderFor(left), orderFor(right)
	switch {
	case left <= 1<<smallOrder && right <= 1<<largeOrder:
		lo, ro = smallOrder, largeOrder
	case left <= 1<<largeOrder && right <= 1<<smallOrder:
		lo, ro = largeOrder, smallOrder
	case left <= 1<<largeOrder:
		lo = largeOrder
	case right <= 1<<largeOrder:
		ro = largeOrder
	}
	return lo, ro, nil
}

// pagesFor returns how many separately granted pages a ring of order needs.
func pagesFor(order int) int {
	if order < pageOrder {
		return 0
	}
	return 1 << (order - pageOrder)
}

// inPage returns the in-page area of a ring of order 10 or 11.
func inPage(page []byte, order int) []byte {
	if order == smallOrder {
		return page[smallOffset : smallOffset+1<<smallOrder]
	}
	return page[largeOffset : largeOffset+1<<largeOrder]
}

// checkOrders validates the orders a client read from the page, and that
// the grant list they imply fits before the in-page rings.
func checkOrders(lo, ro int) error {
	for _, o := range []int{lo, ro} {
		if o < smallOrder || o > MaxOrder {
			return fmt.Errorf("%w: ring order %d outside [%d, %d]", ErrProtocol, o, smallOrder, MaxOrder)
		}
	}
	if lo == ro && lo < pageOrder {
		return fmt.Errorf("%w: both rings at the same in-page offset (order %d)", ErrProtocol, lo)
	}
	limit := pageSize
	for _, o := range []int{lo, ro} {
		if o == smallOrder {
			limit = min(limit, smallOffset)
		} else if o == largeOrder {
			limit = min(limit, largeOffset)
		}
	}
	if n := pagesFor(lo) + pagesFor(ro); offGrants+4*n > limit {
		return fmt.Errorf("%w: %d grant refs overlap the in-page ring", ErrProtocol, n)
	}
	return nil
}
