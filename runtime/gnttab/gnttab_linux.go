//go:build linux

package gnttab

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func ioc(dir, typ, nr, size uintptr) uintptr { return dir<<30 | size<<16 | typ<<8 | nr }

// Request numbers from Linux include/uapi/xen/gntalloc.h and gntdev.h, all
// _IOC_NONE with the size of the (fixed part of the) argument.
var (
	ioctlAllocGref        = ioc(0, 'G', 5, allocGrefSizeof)
	ioctlDeallocGref      = ioc(0, 'G', 6, unsafe.Sizeof(deallocGref{}))
	ioctlAllocUnmapNotify = ioc(0, 'G', 7, unsafe.Sizeof(unmapNotify{}))
	ioctlMapGrantRef      = ioc(0, 'G', 0, mapGrantSizeof)
	ioctlUnmapGrantRef    = ioc(0, 'G', 1, unsafe.Sizeof(unmapGrantRef{}))
	ioctlDevUnmapNotify   = ioc(0, 'G', 7, unsafe.Sizeof(unmapNotify{}))
)

// device is an open descriptor that stays open while any mapping made
// through it exists: gntdev needs it to release grants after munmap.
type device struct {
	name string
	mu   sync.Mutex
	fd   int
	refs int  // 1 for the opener plus one per live area
	shut bool // the opener closed it
}

func openDevice(path string) (*device, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return &device{name: path, fd: fd, refs: 1}, nil
}

// acquire takes a reference for a new area.
func (d *device) acquire() (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.shut {
		return -1, ErrClosed
	}
	d.refs++
	return d.fd, nil
}

// release drops a reference and closes the descriptor with the last one.
func (d *device) release() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refs--
	if d.refs > 0 {
		return nil
	}
	fd := d.fd
	d.fd = -1
	return unix.Close(fd)
}

func (d *device) close() error {
	d.mu.Lock()
	if d.shut {
		d.mu.Unlock()
		return ErrClosed
	}
	d.shut = true
	d.mu.Unlock()
	return d.release()
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

// Sharer is an open /dev/xen/gntalloc, granting local pages to other
// domains. It is safe for concurrent use.
type Sharer struct{ dev *device }

// OpenSharer opens AllocPath.
func OpenSharer() (*Sharer, error) { return OpenSharerPath(AllocPath) }

// OpenSharerPath opens the gntalloc device at path.
func OpenSharerPath(path string) (*Sharer, error) {
	d, err := openDevice(path)
	if err != nil {
		return nil, err
	}
	return &Sharer{dev: d}, nil
}

// Close closes the device. Shared areas stay valid until unshared.
func (s *Sharer) Close() error { return s.dev.close() }

// Shared is a zeroed, page-aligned local area granted to another domain.
type Shared struct {
	dev  *device
	mu   sync.Mutex
	mem  []byte
	refs []Ref
}

// Share allocates pages zeroed pages, grants them to domain domid (writable
// or read-only for the peer) and maps them here. If notify is not nil the
// kernel performs it when the local mapping goes away.
func (s *Sharer) Share(domid uint16, pages int, writable bool, notify *UnmapNotify) (*Shared, error) {
	if err := checkPages(pages); err != nil {
		return nil, err
	}
	fd, err := s.dev.acquire()
	if err != nil {
		return nil, err
	}
	sh, err := share(fd, domid, pages, writable, notify)
	if err != nil {
		s.dev.release()
		return nil, err
	}
	sh.dev = s.dev
	return sh, nil
}

func share(fd int, domid uint16, pages int, writable bool, notify *UnmapNotify) (*Shared, error) {
	arg := encodeAllocGref(domid, writable, pages)
	if err := ioctl(fd, ioctlAllocGref, unsafe.Pointer(&arg[0])); err != nil {
		return nil, fmt.Errorf("gnttab: grant %d pages to domain %d: %w", pages, domid, err)
	}
	index, refs, err := decodeAllocGref(arg, pages)
	if err != nil {
		return nil, err
	}
	// Dropping the grants from the descriptor does not free the pages while
	// they are mapped, here or by the peer; after this, unsharing is munmap.
	defer func() {
		d := deallocGref{Index: index, Count: uint32(pages)}
		ioctl(fd, ioctlDeallocGref, unsafe.Pointer(&d))
	}()
	mem, err := unix.Mmap(fd, int64(index), pages*PageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("gnttab: map shared pages: %w", err)
	}
	if notify != nil {
		n, err := notifyArg(index, len(mem), *notify)
		if err == nil {
			if e := ioctl(fd, ioctlAllocUnmapNotify, unsafe.Pointer(&n)); e != nil {
				err = fmt.Errorf("gnttab: set unmap notify: %w", e)
			}
		}
		if err != nil {
			unix.Munmap(mem)
			return nil, err
		}
	}
	return &Shared{mem: mem, refs: refs}, nil
}

// Mem returns the shared area; it is invalid after Unshare.
func (sh *Shared) Mem() []byte { return sh.mem }

// Refs returns the grant references, one per page, for the peer to map.
func (sh *Shared) Refs() []Ref { return sh.refs }

// Unshare unmaps the area locally, firing the unmap notification. The
// pages are freed once the peer unmaps them too.
func (sh *Shared) Unshare() error {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.mem == nil {
		return ErrClosed
	}
	err := unix.Munmap(sh.mem)
	sh.mem = nil
	if e := sh.dev.release(); err == nil {
		err = e
	}
	return err
}

// Mapper is an open /dev/xen/gntdev, mapping pages other domains granted.
// It is safe for concurrent use.
type Mapper struct{ dev *device }

// OpenMapper opens DevPath.
func OpenMapper() (*Mapper, error) { return OpenMapperPath(DevPath) }

// OpenMapperPath opens the gntdev device at path.
func OpenMapperPath(path string) (*Mapper, error) {
	d, err := openDevice(path)
	if err != nil {
		return nil, err
	}
	return &Mapper{dev: d}, nil
}

// Close closes the device once every Mapping made through it is unmapped.
func (m *Mapper) Close() error { return m.dev.close() }

// Mapping is a local view of pages granted by another domain.
type Mapping struct {
	dev   *device
	mu    sync.Mutex
	mem   []byte
	index uint64
	count int
}

// mapRetryFor bounds retrying mmap's EAGAIN, which Xen returns while a
// granted page is paged out.
const mapRetryFor = 2 * time.Second

// Map maps grant references refs of domain domid, contiguously and in
// order, read-write or read-only. If notify is not nil the kernel performs
// it when the local mapping goes away.
func (m *Mapper) Map(domid uint32, refs []Ref, writable bool, notify *UnmapNotify) (*Mapping, error) {
	if err := checkPages(len(refs)); err != nil {
		return nil, err
	}
	fd, err := m.dev.acquire()
	if err != nil {
		return nil, err
	}
	mp, err := mapRefs(fd, domid, refs, writable, notify)
	if err != nil {
		m.dev.release()
		return nil, err
	}
	mp.dev = m.dev
	return mp, nil
}

func mapRefs(fd int, domid uint32, refs []Ref, writable bool, notify *UnmapNotify) (*Mapping, error) {
	arg := encodeMapGrantRef(domid, refs)
	if err := ioctl(fd, ioctlMapGrantRef, unsafe.Pointer(&arg[0])); err != nil {
		return nil, fmt.Errorf("gnttab: map %d grants of domain %d: %w", len(refs), domid, err)
	}
	index := decodeMapGrantRef(arg)
	unslot := func() {
		u := unmapGrantRef{Index: index, Count: uint32(len(refs))}
		ioctl(fd, ioctlUnmapGrantRef, unsafe.Pointer(&u))
	}
	prot := unix.PROT_READ
	if writable {
		prot |= unix.PROT_WRITE
	}
	var mem []byte
	var err error
	for start := time.Now(); ; {
		mem, err = unix.Mmap(fd, int64(index), len(refs)*PageSize, prot, unix.MAP_SHARED)
		if !errors.Is(err, unix.EAGAIN) || time.Since(start) > mapRetryFor {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		unslot()
		return nil, fmt.Errorf("gnttab: map grants of domain %d: %w", domid, err)
	}
	if notify != nil {
		n, err := notifyArg(index, len(mem), *notify)
		if err == nil {
			if e := ioctl(fd, ioctlDevUnmapNotify, unsafe.Pointer(&n)); e != nil {
				err = fmt.Errorf("gnttab: set unmap notify: %w", e)
			}
		}
		if err != nil {
			unix.Munmap(mem)
			unslot()
			return nil, err
		}
	}
	return &Mapping{mem: mem, index: index, count: len(refs)}, nil
}

// SetUnmapNotify sets (or replaces) the area's unmap notification. Unlike
// gntalloc's, gntdev's may be set at any time before Unmap, for example only
// once a protocol's setup has succeeded.
func (mp *Mapping) SetUnmapNotify(n UnmapNotify) error {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	if mp.mem == nil {
		return ErrClosed
	}
	arg, err := notifyArg(mp.index, len(mp.mem), n)
	if err != nil {
		return err
	}
	mp.dev.mu.Lock()
	err = ioctl(mp.dev.fd, ioctlDevUnmapNotify, unsafe.Pointer(&arg))
	mp.dev.mu.Unlock()
	if err != nil {
		return fmt.Errorf("gnttab: set unmap notify: %w", err)
	}
	return nil
}

// Mem returns the mapped area; it is invalid after Unmap.
func (mp *Mapping) Mem() []byte { return mp.mem }

// Unmap removes the local mapping (firing the unmap notification) and then
// releases the grants.
func (mp *Mapping) Unmap() error {
	mp.mu.Lock()
	defer mp.mu.Unlock()
	if mp.mem == nil {
		return ErrClosed
	}
	err := unix.Munmap(mp.mem)
	mp.mem = nil
	mp.dev.mu.Lock()
	fd := mp.dev.fd
	u := unmapGrantRef{Index: mp.index, Count: uint32(mp.count)}
	e := ioctl(fd, ioctlUnmapGrantRef, unsafe.Pointer(&u))
	mp.dev.mu.Unlock()
	if err == nil && e != nil {
		err = fmt.Errorf("gnttab: release grants: %w", e)
	}
	if e := mp.dev.release(); err == nil {
		err = e
	}
	return err
}
