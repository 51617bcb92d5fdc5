package vchan

import (
	"fmt"

	"github.com/runxen/runxen/runtime/evtchn"
	"github.com/runxen/runxen/runtime/gnttab"
)

// Devices is the Xen device layer a vchan needs: event channels and grants.
// XenDevices is the real one; package vchantest has an in-process fake.
// Every call returns an object owned by one vchan.
type Devices interface {
	// BindUnboundPort allocates a port that domain remote may bind to.
	BindUnboundPort(remote uint32) (EventChannel, error)
	// BindInterdomain binds to port remotePort of domain remote.
	BindInterdomain(remote, remotePort uint32) (EventChannel, error)
	// Share grants pages zeroed pages, writable, to domain remote and
	// returns them with one grant reference per page.
	Share(remote uint32, pages int, notify *gnttab.UnmapNotify) (Memory, []uint32, error)
	// Map maps grant references of domain remote contiguously, in order.
	Map(remote uint32, refs []uint32, writable bool) (Mapped, error)
}

// EventChannel is one bound event channel port.
type EventChannel interface {
	// Port is the local port number (for unmap notifications).
	Port() uint32
	// Notify signals the remote end.
	Notify() error
	// Wait blocks until the remote end signals and re-arms delivery before
	// returning. It returns an error once Close was called. Only one
	// goroutine calls it.
	Wait() error
	// Close unbinds the port.
	Close() error
}

// Memory is a shared or mapped area.
type Memory interface {
	// Bytes returns the area, valid until Close.
	Bytes() []byte
	// Close unshares or unmaps it, firing its unmap notification.
	Close() error
}

// Mapped is a mapped area whose unmap notification can be set after the
// mapping: the client arms it only once its setup succeeded, so a failed
// attempt does not close the server's endpoint.
type Mapped interface {
	Memory
	SetUnmapNotify(n gnttab.UnmapNotify) error
}

// XenDevices returns the Devices of the running system: /dev/xen/evtchn,
// /dev/xen/gntalloc and /dev/xen/gntdev. Each event channel gets its own
// evtchn handle, so a vchan's events need no demultiplexing.
func XenDevices() Devices { return xenDevices{} }

type xenDevices struct{}

type xenEvent struct {
	h    *evtchn.Handle
	port evtchn.Port
	buf  [4]evtchn.Port // for Wait; only the event goroutine uses it
}

func bindNew(bind func(h *evtchn.Handle) (evtchn.Port, error)) (EventChannel, error) {
	h, err := evtchn.Open()
	if err != nil {
		return nil, err
	}
	p, err := bind(h)
	if err == nil {
		err = h.Unmask(p)
	}
	if err != nil {
		h.Close()
		return nil, err
	}
	return &xenEvent{h: h, port: p}, nil
}

func (xenDevices) BindUnboundPort(remote uint32) (EventChannel, error) {
	return bindNew(func(h *evtchn.Handle) (evtchn.Port, error) { return h.BindUnboundPort(remote) })
}

func (xenDevices) BindInterdomain(remote, remotePort uint32) (EventChannel, error) {
	return bindNew(func(h *evtchn.Handle) (evtchn.Port, error) {
		return h.BindInterdomain(remote, evtchn.Port(remotePort))
	})
}

func (e *xenEvent) Port() uint32  { return uint32(e.port) }
func (e *xenEvent) Notify() error { return e.h.Notify(e.port) }
func (e *xenEvent) Close() error  { return e.h.Close() }

func (e *xenEvent) Wait() error {
	for {
		n, err := e.h.Wait(e.buf[:])
		if err != nil {
			return err
		}
		mine := false
		for _, p := range e.buf[:n] {
			if p == e.port {
				mine = true
			}
			if err := e.h.Unmask(p); err != nil {
				return err
			}
		}
		if mine {
			return nil
		}
	}
}

func (xenDevices) Share(remote uint32, pages int, notify *gnttab.UnmapNotify) (Memory, []uint32, error) {
	if remote > 0xffff {
		return nil, nil, fmt.Errorf("vchan: domain %d out of range", remote)
	}
	s, err := gnttab.OpenSharer()
	if err != nil {
		return nil, nil, err
	}
	defer s.Close() // the shared area keeps the device open
	sh, err := s.Share(uint16(remote), pages, true, notify)
	if err != nil {
		return nil, nil, err
	}
	return xenShared{sh}, sh.Refs(), nil
}

func (xenDevices) Map(remote uint32, refs []uint32, writable bool) (Mapped, error) {
	m, err := gnttab.OpenMapper()
	if err != nil {
		return nil, err
	}
	defer m.Close() // the mapping keeps the device open
	mp, err := m.Map(remote, refs, writable, nil)
	if err != nil {
		return nil, err
	}
	return xenMapping{mp}, nil
}

type xenShared struct{ *gnttab.Shared }

func (s xenShared) Bytes() []byte { return s.Mem() }
func (s xenShared) Close() error  { return s.Unshare() }

type xenMapping struct{ *gnttab.Mapping }

func (m xenMapping) Bytes() []byte { return m.Mem() }
func (m xenMapping) Close() error  { return m.Unmap() }
