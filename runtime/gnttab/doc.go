// Package gnttab shares memory pages with another Xen domain and maps pages
// another domain shared, through Linux's /dev/xen/gntalloc and
// /dev/xen/gntdev.
//
// What this package owns: the life of grant references and their local
// mappings, including the kernel's unmap notification (clear a byte, send an
// event) that tells the peer when this side's mapping goes away, whether by
// an orderly close or a crash. It does not interpret the memory; ring and
// vchan do.
//
// Why our own: no Go library for Xen grant tables exists (libxengnttab is C).
// The devices are a few ioctls plus mmap, done here with golang.org/x/sys/unix
// and no cgo, in the order libxengnttab uses:
//
//   - Sharing (gntalloc): ALLOC_GREF, mmap at the returned index,
//     SET_UNMAP_NOTIFY, then DEALLOC_GREF at once; the pages live on while
//     mapped (here or by the peer), so unsharing is just munmap.
//   - Mapping (gntdev): MAP_GRANT_REF, mmap at the returned index,
//     SET_UNMAP_NOTIFY; teardown is munmap first, then UNMAP_GRANT_REF.
//
// Each page supports one unmap notification. gntalloc has a system-wide
// limit on granted pages (module parameter "limit", 1024 by default) and
// pages a peer still maps keep counting against it: size rings with care.
package gnttab

import "errors"

// PageSize is the size of a grant: Xen grants 4 KiB pages on every
// architecture it supports.
const PageSize = 4096

// MaxPages bounds one Share or Map call.
const MaxPages = 1 << 16

// Ref is a grant reference, naming one granted page of the granting domain.
type Ref = uint32

// NotifyAction says what the kernel does when a mapping goes away.
type NotifyAction uint32

const (
	// NotifyClearByte sets the byte at UnmapNotify.Offset to zero.
	NotifyClearByte NotifyAction = 1
	// NotifySendEvent signals event channel UnmapNotify.Port.
	NotifySendEvent NotifyAction = 2
)

// UnmapNotify asks the kernel to tell the peer when this side's mapping
// disappears, on close or on process death.
type UnmapNotify struct {
	Offset int          // byte offset in the area, for NotifyClearByte
	Action NotifyAction // NotifyClearByte, NotifySendEvent or both
	Port   uint32       // local event channel port, for NotifySendEvent
}

// Paths of the Linux devices.
const (
	AllocPath = "/dev/xen/gntalloc"
	DevPath   = "/dev/xen/gntdev"
)

// ErrNotSupported is returned on systems without Xen's Linux devices.
var ErrNotSupported = errors.New("gnttab: Xen grant tables need Linux")

// ErrClosed is returned when using a closed device or unmapped area.
var ErrClosed = errors.New("gnttab: closed")
