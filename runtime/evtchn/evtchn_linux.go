//go:build linux

package evtchn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioc builds a Linux ioctl request number the way the generic _IOC macro
// does (x86 and Arm: 2 direction bits at 30, 14 size bits at 16).
func ioc(dir, typ, nr, size uintptr) uintptr {
	return dir<<30 | size<<16 | typ<<8 | nr
}

const iocNone = 0

// Request numbers from Linux include/uapi/xen/evtchn.h; all pass a struct
// of 32-bit fields (domid_t is 16-bit) and use _IOC_NONE.
var (
	ioctlBindVIRQ         = ioc(iocNone, 'E', 0, 4)
	ioctlBindInterdomain  = ioc(iocNone, 'E', 1, 8)
	ioctlBindUnboundPort  = ioc(iocNone, 'E', 2, 4)
	ioctlUnbind           = ioc(iocNone, 'E', 3, 4)
	ioctlNotify           = ioc(iocNone, 'E', 4, 4)
	ioctlReset            = ioc(iocNone, 'E', 5, 0)
	ioctlRestrictDomainID = ioc(iocNone, 'E', 6, 2)
)

// Handle is an open /dev/xen/evtchn. Its methods are safe for concurrent
// use, but only one goroutine should Wait at a time: each event is
// delivered once.
type Handle struct {
	f  *os.File // for reads through the poller
	fd int      // the same descriptor, for ioctls and writes

	mu     sync.RWMutex // held shared by ioctls and writes, exclusively by Close
	closed bool
	bound  []Port // ports bound through this handle, for overflow recovery

	wmu    sync.Mutex // serialises Wait
	refire []Port     // ports to report after an overflow, not yet reported
}

// Open opens the event channel device at DefaultPath.
func Open() (*Handle, error) { return OpenPath(DefaultPath) }

// OpenPath opens the event channel device at path.
func OpenPath(path string) (*Handle, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	// A non-blocking descriptor makes os.NewFile register it with the
	// poller, which gives Wait deadlines and wakeup on Close.
	return &Handle{f: os.NewFile(uintptr(fd), path), fd: fd}, nil
}

// ioctl runs one request while holding the handle open.
func (h *Handle) ioctl(name string, req uintptr, arg unsafe.Pointer) (uintptr, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return 0, os.ErrClosed
	}
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(h.fd), req, uintptr(arg))
	if errno != 0 {
		return 0, fmt.Errorf("evtchn: %s: %w", name, errno)
	}
	return r, nil
}

func (h *Handle) addBound(p Port) {
	h.mu.Lock()
	h.bound = append(h.bound, p)
	h.mu.Unlock()
}

// BindInterdomain binds a local port to remotePort of domain remoteDom,
// which the peer allocated with BindUnboundPort (the vchan client side).
// The new port starts unmasked.
func (h *Handle) BindInterdomain(remoteDom uint32, remotePort Port) (Port, error) {
	arg := struct{ dom, port uint32 }{remoteDom, uint32(remotePort)}
	r, err := h.ioctl("bind interdomain", ioctlBindInterdomain, unsafe.Pointer(&arg))
	if err != nil {
		return 0, err
	}
	h.addBound(Port(r))
	return Port(r), nil
}

// BindUnboundPort allocates a local port that domain remoteDom may bind to
// (the vchan server side). The new port starts unmasked.
func (h *Handle) BindUnboundPort(remoteDom uint32) (Port, error) {
	arg := struct{ dom uint32 }{remoteDom}
	r, err := h.ioctl("bind unbound port", ioctlBindUnboundPort, unsafe.Pointer(&arg))
	if err != nil {
		return 0, err
	}
	h.addBound(Port(r))
	return Port(r), nil
}

// BindVIRQ binds a local port to virtual interrupt virq on vCPU 0 (for
// example 3, VIRQ_DOM_EXC, which fires in dom0 when a domain dies).
func (h *Handle) BindVIRQ(virq uint32) (Port, error) {
	arg := struct{ virq uint32 }{virq}
	r, err := h.ioctl("bind virq", ioctlBindVIRQ, unsafe.Pointer(&arg))
	if err != nil {
		return 0, err
	}
	h.addBound(Port(r))
	return Port(r), nil
}

// Unbind closes port p. Closing the Handle unbinds all its ports.
func (h *Handle) Unbind(p Port) error {
	arg := struct{ port uint32 }{uint32(p)}
	if _, err := h.ioctl("unbind", ioctlUnbind, unsafe.Pointer(&arg)); err != nil {
		return err
	}
	h.mu.Lock()
	if i := slices.Index(h.bound, p); i >= 0 {
		h.bound = slices.Delete(h.bound, i, i+1)
	}
	h.mu.Unlock()
	return nil
}

// Notify sends an event on port p to its remote end.
func (h *Handle) Notify(p Port) error {
	arg := struct{ port uint32 }{uint32(p)}
	_, err := h.ioctl("notify", ioctlNotify, unsafe.Pointer(&arg))
	return err
}

// Reset empties the handle's queue of fired ports and clears an overflow.
func (h *Handle) Reset() error {
	_, err := h.ioctl("reset", ioctlReset, nil)
	return err
}

// RestrictDomain limits the handle, irrevocably, to binding interdomain
// channels with domain dom.
func (h *Handle) RestrictDomain(dom uint16) error {
	arg := struct{ dom uint16 }{dom}
	_, err := h.ioctl("restrict domid", ioctlRestrictDomainID, unsafe.Pointer(&arg))
	return err
}

// Unmask re-enables delivery of port p after it fired.
func (h *Handle) Unmask(p Port) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return os.ErrClosed
	}
	v := uint32(p)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&v)), 4)
	n, err := unix.Write(h.fd, b)
	if err != nil {
		return fmt.Errorf("evtchn: unmask port %d: %w", p, err)
	}
	if n != 4 {
		return fmt.Errorf("evtchn: unmask port %d: short write", p)
	}
	return nil
}

// SetReadDeadline sets the time after which a blocked or future Wait fails
// with an error satisfying errors.Is(err, os.ErrDeadlineExceeded). The zero
// time means no deadline.
func (h *Handle) SetReadDeadline(t time.Time) error { return h.f.SetReadDeadline(t) }

// Wait blocks until at least one port bound on the handle fires, then
// stores the fired ports in ports and returns how many (at most len(ports)).
// The ports stay masked until Unmask. Wait fails when the read deadline
// passes or the handle is closed (os.ErrClosed).
func (h *Handle) Wait(ports []Port) (int, error) {
	if len(ports) == 0 {
		return 0, errors.New("evtchn: Wait needs room for at least one port")
	}
	h.wmu.Lock()
	defer h.wmu.Unlock()
	for {
		if len(h.refire) > 0 {
			n := copy(ports, h.refire)
			h.refire = h.refire[n:]
			return n, nil
		}
		// Read straight into the caller's slice: the device writes
		// native-endian uint32 port numbers.
		b := unsafe.Slice((*byte)(unsafe.Pointer(&ports[0])), 4*min(len(ports), 1024))
		n, err := h.f.Read(b)
		switch {
		case err == nil && n >= 4:
			return n / 4, nil
		case err == nil:
			continue
		case errors.Is(err, unix.EFBIG):
			// The driver's queue overflowed and events were lost. Reset
			// it, then report every bound port as fired.
			if err := h.Reset(); err != nil {
				return 0, err
			}
			h.mu.RLock()
			h.refire = append(h.refire[:0], h.bound...)
			h.mu.RUnlock()
			if len(h.refire) == 0 {
				continue
			}
		default:
			return 0, fmt.Errorf("evtchn: wait: %w", err)
		}
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// WaitContext is Wait that also returns ctx.Err() when ctx is done. It
// replaces the handle's read deadline: do not combine it with
// SetReadDeadline.
func (h *Handle) WaitContext(ctx context.Context, ports []Port) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if ctx.Done() == nil {
		return h.Wait(ports)
	}
	// The context's own deadline, if any, reaches us through Done too, and
	// only after ctx.Err() is set.
	h.f.SetReadDeadline(time.Time{})
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		h.f.SetReadDeadline(aLongTimeAgo)
		close(fired)
	})
	n, err := h.Wait(ports)
	if !stop() {
		<-fired
	}
	h.f.SetReadDeadline(time.Time{})
	if err != nil && ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, ctx.Err()
	}
	return n, err
}

// Close unbinds every port of the handle and closes it; a blocked Wait
// returns.
func (h *Handle) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return os.ErrClosed
	}
	h.closed = true
	h.bound = nil
	h.mu.Unlock()
	return h.f.Close()
}
