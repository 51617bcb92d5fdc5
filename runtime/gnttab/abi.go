package gnttab

import (
	"encoding/binary"
	"fmt"
)

// The ioctl argument layouts of Linux include/uapi/xen/gntalloc.h and
// gntdev.h. The fixed-size ones are Go structs with the C layout (checked by
// tests); the variable-length ones are encoded into byte buffers.

// ioctl_gntalloc_alloc_gref: u16 domid @0, u16 flags @2, u32 count @4,
// u64 index @8 (out), u32 gref_ids[count] @16 (out). sizeof is 24 (one
// array element plus padding); the kernel first copies that many bytes.
const (
	allocGrefHeader = 16
	allocGrefSizeof = 24
	flagWritable    = 1
)

// ioctl_gntdev_map_grant_ref: u32 count @0, u32 pad @4, u64 index @8 (out),
// {u32 domid, u32 ref}[count] @16. sizeof is 24.
const (
	mapGrantHeader = 16
	mapGrantSizeof = 24
)

// ioctl_gntalloc_dealloc_gref, 16 bytes.
type deallocGref struct {
	Index uint64
	Count uint32
	_     uint32
}

// ioctl_gntalloc_unmap_notify and ioctl_gntdev_unmap_notify, 16 bytes.
type unmapNotify struct {
	Index  uint64
	Action uint32
	Port   uint32
}

// ioctl_gntdev_unmap_grant_ref, 16 bytes.
type unmapGrantRef struct {
	Index uint64
	Count uint32
	Pad   uint32
}

func argLen(header, each, count, sizeof int) int {
	n := header + each*count
	if n < sizeof {
		n = sizeof
	}
	return (n + 7) &^ 7
}

// encodeAllocGref builds an ALLOC_GREF argument for count pages.
func encodeAllocGref(domid uint16, writable bool, count int) []byte {
	b := make([]byte, argLen(allocGrefHeader, 4, count, allocGrefSizeof))
	binary.NativeEndian.PutUint16(b[0:], domid)
	if writable {
		binary.NativeEndian.PutUint16(b[2:], flagWritable)
	}
	binary.NativeEndian.PutUint32(b[4:], uint32(count))
	return b
}

// decodeAllocGref reads the index and grant references the kernel filled in.
func decodeAllocGref(b []byte, count int) (index uint64, refs []Ref, err error) {
	if len(b) < allocGrefHeader+4*count {
		return 0, nil, fmt.Errorf("gnttab: short ALLOC_GREF result")
	}
	index = binary.NativeEndian.Uint64(b[8:])
	refs = make([]Ref, count)
	for i := range refs {
		refs[i] = binary.NativeEndian.Uint32(b[allocGrefHeader+4*i:])
	}
	return index, refs, nil
}

// encodeMapGrantRef builds a MAP_GRANT_REF argument for refs of domain domid.
func encodeMapGrantRef(domid uint32, refs []Ref) []byte {
	b := make([]byte, argLen(mapGrantHeader, 8, len(refs), mapGrantSizeof))
	binary.NativeEndian.PutUint32(b[0:], uint32(len(refs)))
	for i, r := range refs {
		binary.NativeEndian.PutUint32(b[mapGrantHeader+8*i:], domid)
		binary.NativeEndian.PutUint32(b[mapGrantHeader+8*i+4:], r)
	}
	return b
}

// decodeMapGrantRef reads the index the kernel filled in.
func decodeMapGrantRef(b []byte) uint64 { return binary.NativeEndian.Uint64(b[8:]) }

// notifyArg builds the SET_UNMAP_NOTIFY argument for an area mapped at
// index and size bytes long.
func notifyArg(index uint64, size int, n UnmapNotify) (unmapNotify, error) {
	if n.Action&^(NotifyClearByte|NotifySendEvent) != 0 || n.Action == 0 {
		return unmapNotify{}, fmt.Errorf("gnttab: bad unmap-notify action %#x", uint32(n.Action))
	}
	if n.Offset < 0 || n.Offset >= size {
		return unmapNotify{}, fmt.Errorf("gnttab: unmap-notify offset %d outside %d-byte area", n.Offset, size)
	}
	return unmapNotify{Index: index + uint64(n.Offset), Action: uint32(n.Action), Port: n.Port}, nil
}

func checkPages(n int) error {
	if n <= 0 || n > MaxPages {
		return fmt.Errorf("gnttab: %d pages: want 1 to %d", n, MaxPages)
	}
	return nil
}
